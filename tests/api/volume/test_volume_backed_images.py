"""createImage of a volume-backed server, as Nova does it, proven with openstacksdk and raw HTTP
against a served gateway on sim: Cinder snapshots the server's volumes and Glance registers an
image without data whose ``block_device_mapping`` names the snapshots; a server booted from the
image gets a new root volume made of the snapshot; deleting the image leaves the snapshot."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.compute import delete_server, nova, server_active
from tests.support.gateway import ServedGateway
from tests.support.identity import unique
from tests.support.image import create, image_client, upload
from tests.support.volume import attached_volume_ids, sdk_status, sim_regions_lacking
from tests.support.waiting import eventually

CLOUD = "interstack"
#: a region whose block storage takes no snapshots: its servers are captured as before
NO_SNAPSHOTS = "NoSnapshots"
EMPTY_MD5 = "d41d8cd98f00b204e9800998ecf8427e"


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedGateway]:
    sim = {"boot_delay_seconds": 0.1, "volume_delay_seconds": 0.1}
    config = sim_regions_lacking(sim, NO_SNAPSHOTS, "snapshots")
    with ServedGateway(tmp_path_factory.mktemp("vbi") / "data", config=config) as served:
        yield served


def connect(gateway: ServedGateway, region: str) -> Any:
    return gateway.connect(CLOUD, region_name=region)


@pytest.fixture(scope="module")
def conn(gateway: ServedGateway) -> Iterator[Any]:
    connection = connect(gateway, "RegionOne")
    yield connection
    connection.close()


@pytest.fixture(scope="module")
def http(gateway: ServedGateway) -> Iterator[httpx.Client]:
    with nova(gateway, gateway.token(CLOUD), "2.79") as api:
        yield api


def prepare(conn: Any, cidr: str) -> tuple[str, str, str]:
    """(network name, image id, flavor id) in the connection's region."""
    net = conn.network.create_network(name=unique("net"))
    conn.network.create_subnet(network_id=net.id, ip_version=4, cidr=cidr)
    image = conn.image.create_image(name=unique("img"), data=b"\1" * 4096, disk_format="raw",
                                    container_format="bare")  # fmt: skip
    eventually(lambda: conn.image.get_image(image.id).status, lambda s: s == "active", "image")
    flavor = next(iter(conn.compute.flavors()))
    return str(net.name), str(image.id), str(flavor.id)


@pytest.fixture(scope="module")
def world(conn: Any) -> tuple[str, str, str]:
    return prepare(conn, "10.19.0.0/24")


def boot_from_volume(conn: Any, world: tuple[str, str, str], **extra: Any) -> Any:
    network, image_id, flavor = world
    return server_active(conn, conn.create_server(
        unique("bfv"), image=image_id, flavor=flavor, network=network, boot_from_volume=True,
        volume_size=1, **extra))  # fmt: skip


def mapping_of(image: Any) -> list[dict[str, Any]]:
    entries = json.loads(image.properties["block_device_mapping"])
    assert isinstance(entries, list)
    return entries


def test_sdk_snapshot_of_a_volume_backed_server_maps_a_cinder_snapshot_that_boots(
    conn: Any, http: httpx.Client, world: tuple[str, str, str]
) -> None:
    network, _, flavor = world
    server = boot_from_volume(conn, world, terminate_volume=True)
    shown = http.get(f"/servers/{server.id}").json()["server"]
    assert shown["image"] == ""  # booted from a volume (made of an image): no image, as Nova
    [root] = shown["os-extended-volumes:volumes_attached"]
    name = unique("vb-snap")

    image = conn.create_image_snapshot(name, server, wait=True, timeout=60)

    image = conn.image.get_image(image.id)
    assert (image.status, image.size, image.disk_format, image.container_format) == (
        "active", 0, "qcow2", "bare")  # fmt: skip
    assert image.checksum == EMPTY_MD5
    assert image.properties["bdm_v2"] == "True"
    assert image.properties["root_device_name"] == "/dev/vda"
    # Nova marks neither of these on a volume-backed server's image
    assert "image_type" not in image.properties and image.instance_uuid is None
    [entry] = mapping_of(image)
    assert {k: entry[k] for k in ("source_type", "destination_type", "boot_index", "volume_size",
                                  "device_name", "delete_on_termination")} == {
        "source_type": "snapshot", "destination_type": "volume", "boot_index": 0,
        "volume_size": 1, "device_name": "/dev/vda", "delete_on_termination": True}  # fmt: skip
    assert entry["volume_id"] is None and entry["image_id"] is None
    snapshot = conn.block_storage.get_snapshot(entry["snapshot_id"])
    assert (snapshot.volume_id, snapshot.name) == (root["id"], f"snapshot for {name}")
    sdk_status(conn, snapshot, "available")
    actions = http.get(f"/servers/{server.id}/os-instance-actions").json()["instanceActions"]
    assert "createImage" in [a["action"] for a in actions]
    assert conn.compute.get_server(server.id).status == "ACTIVE"

    copy = server_active(conn, conn.create_server(unique("from-snap"), image=image.id,
                                                  flavor=flavor, network=network))  # fmt: skip

    shown = http.get(f"/servers/{copy.id}").json()["server"]
    # Nova keeps the imageRef of a server booted from an image that maps its volumes
    assert shown["image"]["id"] == image.id
    [attached] = shown["os-extended-volumes:volumes_attached"]
    assert attached["id"] != root["id"]
    assert attached["delete_on_termination"] is True
    volume = conn.block_storage.get_volume(attached["id"])
    assert (volume.snapshot_id, volume.status, volume.size) == (snapshot.id, "in-use", 1)
    [attachment] = volume.attachments
    assert (attachment["server_id"], attachment["device"]) == (copy.id, "/dev/vda")

    # the image goes, its snapshot stays (Nova leaves it to the user)
    conn.image.delete_image(image.id)
    assert conn.block_storage.get_snapshot(snapshot.id).status == "available"
    delete_server(conn, copy.id)
    eventually(lambda: conn.block_storage.find_volume(volume.id), lambda v: v is None,
               "the copy's root volume deleted with it")  # fmt: skip
    conn.block_storage.delete_snapshot(snapshot.id)
    conn.block_storage.wait_for_delete(snapshot, wait=60, interval=0.2)
    delete_server(conn, server.id)


def test_every_volume_of_the_server_is_snapshotted_root_first(
    conn: Any, http: httpx.Client, world: tuple[str, str, str]
) -> None:
    server = boot_from_volume(conn, world)
    data = conn.block_storage.create_volume(size=2, name=unique("data"))
    sdk_status(conn, data, "available")
    conn.compute.create_volume_attachment(server, volume_id=data.id)
    sdk_status(conn, data, "in-use")

    answer = http.post(f"/servers/{server.id}/action", json={"createImage": {
        "name": unique("vb-two"), "metadata": {"purpose": "two volumes"}}})  # fmt: skip

    assert answer.status_code == 202, answer.text
    image = conn.image.get_image(answer.json()["image_id"])
    assert image.properties["purpose"] == "two volumes"
    root, second = mapping_of(image)
    assert (root["boot_index"], root["device_name"]) == (0, "/dev/vda")
    assert (second["boot_index"], second["device_name"], second["volume_size"]) == (
        None, "/dev/vdb", 2)  # fmt: skip
    assert conn.block_storage.get_snapshot(second["snapshot_id"]).volume_id == data.id


def test_a_region_without_volume_snapshots_captures_the_server_as_before(
    gateway: ServedGateway,
) -> None:
    conn = connect(gateway, NO_SNAPSHOTS)
    try:
        server = boot_from_volume(conn, prepare(conn, "10.20.0.0/24"))
        image = conn.create_image_snapshot(unique("captured"), server, wait=True, timeout=60)
        image = conn.image.get_image(image.id)
        assert image.status == "active"
        assert "block_device_mapping" not in image.properties
        assert image.properties["image_type"] == "snapshot"
    finally:
        conn.close()


def test_a_server_booted_from_the_image_is_volume_backed_and_keeps_the_image_id(
    gateway: ServedGateway, conn: Any, http: httpx.Client, world: tuple[str, str, str]
) -> None:
    """Its root is the volume made of the root snapshot (marked so, whatever the server's
    image): not detachable, and its own createImage snapshots it again, root first, with the
    image's properties (as Nova's volume-backed snapshot inherits them) under its mapping."""
    network, _, flavor = world
    server = boot_from_volume(conn, world)
    data = conn.block_storage.create_volume(size=2, name=unique("data"))
    sdk_status(conn, data, "available")
    conn.compute.create_volume_attachment(server, volume_id=data.id)
    sdk_status(conn, data, "in-use")
    [original_root, _] = attached_volume_ids(http, server.id)
    image = conn.create_image_snapshot(unique("vb-img"), server, wait=True, timeout=60)
    for entry in mapping_of(conn.image.get_image(image.id)):
        snapshot = conn.block_storage.get_snapshot(entry["snapshot_id"])
        sdk_status(conn, snapshot, "available")
    # a property of the image's owner, which the snapshot of a server booted from it carries
    conn.image.update_image(image.id, os_distro="cirros")

    copy = server_active(conn, conn.create_server(unique("copy"), image=image.id,
                                                  flavor=flavor, network=network))  # fmt: skip

    shown = gateway.cli(CLOUD, "server", "show", copy.id, "-f", "json").stdout
    assert json.loads(shown)["image"].endswith(f"({image.id})")
    root, second = attached_volume_ids(http, copy.id)
    for volume_id in (root, second):
        sdk_status(conn, conn.block_storage.get_volume(volume_id), "in-use")
    # the source volume's image metadata comes along through the snapshot, as in Cinder
    made = conn.block_storage.get_volume(root).volume_image_metadata
    assert made == conn.block_storage.get_volume(original_root).volume_image_metadata
    assert made["image_id"] == world[1]
    refused = http.delete(f"/servers/{copy.id}/os-volume_attachments/{root}")
    assert refused.status_code == 400, refused.text
    assert refused.json()["badRequest"]["message"] == "Cannot detach a root device volume"

    again = conn.create_image_snapshot(unique("vb-again"), copy, wait=True, timeout=60)

    again = conn.image.get_image(again.id)
    assert (again.os_distro, again.properties.get("base_image_ref")) == ("cirros", image.id)
    first, other = mapping_of(again)
    assert (first["boot_index"], other["boot_index"]) == (0, None)
    assert conn.block_storage.get_snapshot(first["snapshot_id"]).volume_id == root
    assert conn.block_storage.get_snapshot(other["snapshot_id"]).volume_id == second
    detached = http.delete(f"/servers/{copy.id}/os-volume_attachments/{second}")
    assert detached.status_code == 202, detached.text


def test_a_server_booted_from_a_brought_volume_shows_no_image(
    conn: Any, http: httpx.Client, world: tuple[str, str, str]
) -> None:
    network, image_id, flavor = world
    volume = conn.block_storage.create_volume(size=1, image_id=image_id, name=unique("boot"))
    sdk_status(conn, volume, "available")
    net = conn.network.find_network(network)
    answer = http.post("/servers", json={"server": {
        "name": unique("brought"), "imageRef": "", "flavorRef": flavor,
        "networks": [{"uuid": net.id}],
        "block_device_mapping_v2": [{"boot_index": 0, "uuid": volume.id,
                                     "source_type": "volume", "destination_type": "volume"}],
    }})  # fmt: skip
    assert answer.status_code == 202, answer.text
    server = server_active(conn, conn.compute.get_server(answer.json()["server"]["id"]))

    assert http.get(f"/servers/{server.id}").json()["server"]["image"] == ""
    refused = http.delete(f"/servers/{server.id}/os-volume_attachments/{volume.id}")
    assert refused.status_code == 400, refused.text
    delete_server(conn, server.id)


def test_an_image_with_a_legacy_mapping_boots_from_a_volume_made_of_its_snapshot(
    gateway: ServedGateway, conn: Any, http: httpx.Client, world: tuple[str, str, str]
) -> None:
    """A ``block_device_mapping`` without ``bdm_v2`` (Nova's legacy form): the entry at the
    image's ``root_device_name`` is the root."""
    network, image_id, flavor = world
    source = conn.block_storage.create_volume(size=1, image_id=image_id, name=unique("src"))
    sdk_status(conn, source, "available")
    snapshot = conn.block_storage.create_snapshot(volume_id=source.id, name=unique("legacy"))
    sdk_status(conn, snapshot, "available")
    legacy = [{"device_name": "vda", "snapshot_id": snapshot.id, "volume_id": None,
               "volume_size": 1, "delete_on_termination": True, "no_device": None,
               "virtual_name": None}]  # fmt: skip
    glance = image_client(gateway, gateway.token(CLOUD))
    image = create(
        glance,
        name=unique("legacy-img"),
        disk_format="qcow2",
        block_device_mapping=json.dumps(legacy),
        root_device_name="/dev/vda",
    )
    upload(glance, image["id"], b"")  # without data, as Nova uploads these

    server = server_active(conn, conn.create_server(unique("legacy"), image=image["id"],
                                                    flavor=flavor, network=network))  # fmt: skip

    [root] = attached_volume_ids(http, server.id)
    volume = conn.block_storage.get_volume(root)
    assert (volume.snapshot_id, volume.size) == (snapshot.id, 1)
    assert [a["device"] for a in volume.attachments] == ["/dev/vda"]
    delete_server(conn, server.id)


def test_an_images_mappings_keep_the_flavors_disk_names_from_an_automatically_named_volume(
    gateway: ServedGateway, conn: Any, http: httpx.Client, world: tuple[str, str, str]
) -> None:
    """Nova's legacy ``mappings`` property (EC2's virtual names) places the flavor's ephemeral
    disk at ``vdb``: the server boots from the image (the entries are no volumes), and a blank
    volume without a device name is attached at the next free name, ``vdc``. A ``mappings``
    that is no list of entries is a 400 that names it."""
    network, _, _ = world
    admin = gateway.connect("interstack-admin")
    flavor = admin.compute.create_flavor(name=unique("eph"), ram=512, vcpus=1, disk=1, ephemeral=1)
    glance = image_client(gateway, gateway.token(CLOUD))
    mappings = [{"virtual": "ami", "device": "vda"}, {"virtual": "root", "device": "/dev/vda"},
                {"virtual": "ephemeral0", "device": "vdb"},
                {"virtual": "swap", "device": "vde"}]  # fmt: skip
    image = create(glance, name=unique("mapped"), mappings=json.dumps(mappings))
    upload(glance, image["id"], b"\1" * 4096)
    boot = {"name": unique("mapped"), "imageRef": image["id"], "flavorRef": flavor.id,
            "networks": [{"uuid": conn.network.find_network(network).id}],
            "block_device_mapping_v2": [
                {"source_type": "image", "uuid": image["id"], "boot_index": 0,
                 "destination_type": "local"},
                {"source_type": "blank", "destination_type": "volume", "volume_size": 1,
                 "delete_on_termination": True}]}  # fmt: skip

    answer = http.post("/servers", json={"server": boot})

    assert answer.status_code == 202, answer.text
    server = server_active(conn, conn.compute.get_server(answer.json()["server"]["id"]))
    assert server.image.id == image["id"]
    [volume_id] = attached_volume_ids(http, server.id)
    volume = conn.block_storage.get_volume(volume_id)
    assert [a["device"] for a in volume.attachments] == ["/dev/vdc"]
    delete_server(conn, server.id)

    broken = create(glance, name=unique("broken"), mappings=json.dumps({"virtual": "swap"}))
    upload(glance, broken["id"], b"\1" * 4096)
    refused = http.post("/servers", json={"server": {**boot, "imageRef": broken["id"],
                                                     "block_device_mapping_v2": []}})  # fmt: skip
    assert refused.status_code == 400, refused.text
    assert "the image's mappings property" in refused.json()["badRequest"]["message"]
    admin.compute.delete_flavor(flavor.id)
    admin.close()
