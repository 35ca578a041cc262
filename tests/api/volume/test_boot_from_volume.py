"""Boot from volume (Nova's ``block_device_mapping_v2`` with volume destinations), proven with
openstacksdk's cloud layer, the ``openstack`` CLI and raw HTTP against a served gateway on sim:
the root volume made of an image (or brought by the user) is ``in-use`` at ``/dev/vda``, the
server shows ``image: ""`` and lists the volume, deleting the server deletes or releases it, and
bad requests get Nova's 400s with nothing left behind. A volume-backed server is rebuilt (as
Nova before 2.93) only on the image its root volume was made of (another is Nova's 400 and
changes nothing): it boots again from the same root volume, keeps its ``image: ""`` and its
volumes, and ends ACTIVE (or SHUTOFF if it was stopped)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.compute import (
    assert_nova_fault,
    cli_json,
    delete_server,
    nova,
    server_active,
    server_in,
)
from tests.support.gateway import ServedGateway
from tests.support.identity import Member, unique
from tests.support.volume import (
    attached_volume_ids,
    cinder,
    delete_volume,
    sdk_status,
    sim_regions_lacking,
    wait_volume,
)
from tests.support.waiting import eventually

CLOUD = "interstack"
#: a region whose backend cannot boot servers from volumes
PLAIN = "NoVolumeBoot"


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedGateway]:
    sim = {
        "boot_delay_seconds": 0.1,
        "volume_delay_seconds": 0.1,
        "fail_on": {"create_server": {"name": "fail-*", "message": "No valid host was found."}},
    }
    config = sim_regions_lacking(sim, PLAIN, "boot_from_volume")
    with ServedGateway(tmp_path_factory.mktemp("bfv") / "data", config=config) as served:
        yield served


@pytest.fixture(scope="module")
def conn(gateway: ServedGateway) -> Iterator[Any]:
    connection = gateway.connect(CLOUD)
    yield connection
    connection.close()


@pytest.fixture(scope="module")
def network(conn: Any) -> str:
    """The project's one network, which the cloud layer's ``networks: auto`` picks."""
    net = conn.network.create_network(name=unique("net"))
    conn.network.create_subnet(network_id=net.id, ip_version=4, cidr="10.9.0.0/24")
    return str(net.name)


def active_image(conn: Any, **properties: Any) -> str:
    image = conn.image.create_image(name=unique("img"), data=b"\0" * 4096, disk_format="raw",
                                    container_format="bare", **properties)  # fmt: skip
    eventually(lambda: conn.image.get_image(image.id).status, lambda s: s == "active", "image")
    return str(image.id)


@pytest.fixture(scope="module")
def image_id(conn: Any) -> str:
    return active_image(conn)


@pytest.fixture(scope="module")
def flavor(conn: Any) -> str:
    return str(next(iter(conn.compute.flavors())).id)


@pytest.fixture(scope="module")
def http(gateway: ServedGateway) -> Iterator[httpx.Client]:
    with nova(gateway, gateway.token(CLOUD), "2.79") as api:
        yield api


def root_attachment(conn: Any, volume_id: str) -> dict[str, Any]:
    volume = conn.block_storage.get_volume(volume_id)
    assert volume.status == "in-use" and volume.is_bootable
    [attachment] = volume.attachments
    assert attachment["device"] == "/dev/vda"
    return dict(attachment)


def test_sdk_boots_from_a_volume_made_of_an_image_which_goes_with_the_server(
    conn: Any, http: httpx.Client, network: str, image_id: str, flavor: str
) -> None:
    server = server_active(conn, conn.create_server(
        unique("bfv"), image=image_id, flavor=flavor, network=network, boot_from_volume=True,
        volume_size=1, terminate_volume=True))  # fmt: skip
    assert server.status == "ACTIVE"
    shown = http.get(f"/servers/{server.id}").json()["server"]
    assert shown["image"] == ""
    [attached] = shown["os-extended-volumes:volumes_attached"]
    assert attached["delete_on_termination"] is True
    assert root_attachment(conn, attached["id"])["server_id"] == server.id
    root = conn.block_storage.get_volume(attached["id"])
    assert (root.size, root.project_id) == (1, conn.current_project_id)
    listed = http.get("/servers/detail").json()["servers"]
    assert [s["image"] for s in listed if s["id"] == server.id] == [""]
    # before 2.3 the entry has the volume id only
    old = http.get(f"/servers/{server.id}", headers={"OpenStack-API-Version": "compute 2.1"})
    assert old.json()["server"]["os-extended-volumes:volumes_attached"] == [{"id": root.id}]

    delete_server(conn, server.id)
    eventually(lambda: conn.block_storage.find_volume(root.id), lambda v: v is None,
               "the root volume deleted with its server")  # fmt: skip


def test_sdk_boots_from_a_brought_volume_which_is_released(
    conn: Any, http: httpx.Client, network: str, image_id: str, flavor: str
) -> None:
    volume = conn.block_storage.create_volume(size=1, image_id=image_id, name=unique("boot"))
    sdk_status(conn, volume, "available")
    server = server_active(conn, conn.create_server(unique("bfv"), flavor=flavor, network=network,
                                             boot_volume=volume.id))  # fmt: skip
    assert server.status == "ACTIVE"
    assert root_attachment(conn, volume.id)["server_id"] == server.id
    detach = http.delete(f"/servers/{server.id}/os-volume_attachments/{volume.id}")
    assert "root device" in assert_nova_fault(detach, 400, "badRequest")

    delete_server(conn, server.id)
    released = conn.block_storage.get_volume(volume.id)
    assert (released.status, released.attachments) == ("available", [])
    delete_volume(conn, volume.id)


def test_cli_boots_from_a_new_volume_and_from_an_existing_one(
    gateway: ServedGateway, conn: Any, network: str, image_id: str, flavor: str
) -> None:
    def cli(*args: str) -> Any:
        return cli_json(gateway, CLOUD, *args)

    made = cli("server", "create", "--image", image_id, "--boot-from-volume", "1", "--flavor",
               flavor, "--network", network, "--wait", unique("cli"))  # fmt: skip
    [root] = made["volumes_attached"]
    assert made["image"] in ("", "N/A (booted from volume)")
    assert root_attachment(conn, root["id"])["server_id"] == made["id"]

    delete_server(conn, made["id"])
    # the CLI leaves delete_on_termination off: the volume stays, available, to boot again
    wait_volume_status(conn, root["id"], "available")
    again = cli("server", "create", "--volume", root["id"], "--flavor", flavor, "--network",
                network, "--wait", unique("cli"))  # fmt: skip
    assert [v["id"] for v in again["volumes_attached"]] == [root["id"]]
    delete_server(conn, again["id"])
    wait_volume_status(conn, root["id"], "available")
    delete_volume(conn, root["id"])


def wait_volume_status(conn: Any, volume_id: str, status: str) -> None:
    eventually(lambda: conn.block_storage.get_volume(volume_id).status, lambda s: s == status,
               f"volume {volume_id} {status}")  # fmt: skip


def boot_over_http(http: httpx.Client, flavor: str, **mappings: Any) -> dict[str, Any]:
    body = {"name": unique("http"), "flavorRef": flavor, "networks": "none", **mappings}
    created = http.post("/servers", json={"server": body})
    assert created.status_code == 202, created.text
    server_id = created.json()["server"]["id"]
    return eventually(lambda: http.get(f"/servers/{server_id}").json()["server"],
                      lambda s: s["status"] == "ACTIVE", "the server")  # fmt: skip


def devices(http: httpx.Client, server_id: str) -> dict[str, str]:
    found = http.get(f"/servers/{server_id}/os-volume_attachments").json()["volumeAttachments"]
    return {a["device"]: a["volumeId"] for a in found}


def test_http_boots_from_a_snapshot_with_a_blank_volume_and_from_the_legacy_mapping(
    conn: Any, http: httpx.Client, image_id: str, flavor: str
) -> None:
    source = conn.block_storage.create_volume(size=1, image_id=image_id, name=unique("src"))
    sdk_status(conn, source, "available")
    snapshot = conn.block_storage.create_snapshot(volume_id=source.id, name=unique("snap"))
    sdk_status(conn, snapshot, "available")

    server = boot_over_http(http, flavor, block_device_mapping_v2=[
        {"boot_index": "0", "uuid": snapshot.id, "source_type": "snapshot",
         "destination_type": "volume", "delete_on_termination": True},
        {"boot_index": -1, "source_type": "blank", "destination_type": "volume",
         "volume_size": 1, "delete_on_termination": True}])  # fmt: skip
    assert server["image"] == ""
    made = devices(http, server["id"])
    assert sorted(made) == ["/dev/vda", "/dev/vdb"]
    assert [v["id"] for v in server["os-extended-volumes:volumes_attached"]] == [
        made["/dev/vda"], made["/dev/vdb"]]  # fmt: skip
    assert http.delete(f"/servers/{server['id']}").status_code == 204
    eventually(lambda: [conn.block_storage.find_volume(v) for v in made.values()],
               lambda found: found == [None, None], "the server's volumes deleted")  # fmt: skip

    legacy_mapping = [{"device_name": "vda", "volume_id": source.id}]
    legacy = boot_over_http(http, flavor, imageRef="", block_device_mapping=legacy_mapping)
    assert devices(http, legacy["id"]) == {"/dev/vda": source.id}
    delete_server(conn, legacy["id"])
    wait_volume_status(conn, source.id, "available")
    conn.block_storage.delete_snapshot(snapshot)
    conn.block_storage.wait_for_delete(snapshot, wait=60, interval=0.2)
    delete_volume(conn, source.id)


def test_a_root_volume_naming_no_device_is_at_the_images_root_device(
    gateway: ServedGateway, conn: Any, http: httpx.Client, network: str, flavor: str
) -> None:
    """Nova's root_device_name: a root volume made of an image whose root device is /dev/sda
    is at /dev/sda (the CLI's --boot-from-volume names no device), so is a boot from that
    volume later (a legacy mapping's too), and one with an imageRef; a volume named
    automatically follows it at /dev/sdb."""
    at_sda = active_image(conn, root_device_name="/dev/sda")
    made = cli_json(gateway, CLOUD, "server", "create", "--image", at_sda,
                    "--boot-from-volume", "1", "--flavor", flavor, "--network", network,
                    "--wait", unique("sda"))  # fmt: skip
    [root] = made["volumes_attached"]
    [attachment] = conn.block_storage.get_volume(root["id"]).attachments
    assert attachment["device"] == "/dev/sda"
    assert devices(http, made["id"]) == {"/dev/sda": root["id"]}
    delete_server(conn, made["id"])
    wait_volume_status(conn, root["id"], "available")
    # the volume keeps its image's properties (Cinder's volume_image_metadata), which a boot
    # from it reads as its image's (Nova's _get_bdm_image_metadata): it is at /dev/sda again
    kept = conn.block_storage.get_volume(root["id"]).volume_image_metadata
    assert (kept["image_id"], kept["root_device_name"]) == (at_sda, "/dev/sda")
    assert kept["checksum"] == conn.image.get_image(at_sda).checksum
    assert not {"owner", "visibility", "status", "os_hash_value"} & set(kept)
    again = cli_json(gateway, CLOUD, "server", "create", "--volume", root["id"], "--flavor",
                     flavor, "--network", network, "--wait", unique("sda"))  # fmt: skip
    assert devices(http, again["id"]) == {"/dev/sda": root["id"]}
    delete_server(conn, again["id"])
    wait_volume_status(conn, root["id"], "available")
    # a legacy block_device_mapping names no boot index: Nova reads the volume at the first
    # letter (sda) for the boot's image properties, and the entry at their root device boots
    at_a = {"device_name": "sda", "volume_id": root["id"], "delete_on_termination": False}
    legacy = boot_over_http(http, flavor, block_device_mapping=[at_a])
    assert devices(http, legacy["id"]) == {"/dev/sda": root["id"]}
    delete_server(conn, legacy["id"])
    wait_volume_status(conn, root["id"], "available")
    delete_volume(conn, root["id"])

    server = boot_over_http(http, flavor, imageRef=at_sda, block_device_mapping_v2=[
        {"boot_index": 0, "uuid": at_sda, "source_type": "image", "destination_type": "volume",
         "volume_size": 1, "delete_on_termination": True},
        {"boot_index": -1, "source_type": "blank", "destination_type": "volume",
         "volume_size": 1, "delete_on_termination": True}])  # fmt: skip
    assert sorted(devices(http, server["id"])) == ["/dev/sda", "/dev/sdb"]
    delete_server(conn, server["id"])


def test_a_volume_made_for_a_boot_is_never_available_to_others(
    gateway: ServedGateway, conn: Any, image_id: str, flavor: str
) -> None:
    """Between its creation and the boot task's attach, the volume is ``reserved``: read
    over and over, it never shows ``available`` (which would let another server take it).
    Booted through openstacksdk, read over plain HTTP (as often as it can be)."""
    volumes = cinder(gateway, gateway.token(CLOUD), conn.current_project_id)
    before = {v["id"] for v in volumes.get("/volumes").json()["volumes"]}
    data = {"boot_index": -1, "source_type": "blank", "destination_type": "volume",
            "volume_size": 1, "delete_on_termination": True}  # fmt: skip
    server = conn.compute.create_server(name=unique("held"), flavor_id=flavor, image_id=image_id,
                                        networks="none", block_device_mapping=[data])  # fmt: skip
    [volume_id] = {v["id"] for v in volumes.get("/volumes").json()["volumes"]} - before
    seen: list[str] = []

    def status() -> str:
        found: str = volumes.get(f"/volumes/{volume_id}").json()["volume"]["status"]
        seen.append(found)
        return found

    eventually(status, lambda s: s == "in-use", "the boot volume attached")
    assert set(seen) <= {"creating", "reserved", "attaching", "in-use"}, seen
    assert conn.block_storage.get_volume(volume_id).attachments[0]["server_id"] == server.id
    conn.compute.delete_server(server)
    eventually(lambda: volumes.get(f"/volumes/{volume_id}").status_code, lambda c: c == 404,
               "the volume deleted with its server")  # fmt: skip


def test_a_failed_boot_leaves_the_server_in_error_and_deletes_its_new_volume(
    gateway: ServedGateway, conn: Any, http: httpx.Client, image_id: str, flavor: str
) -> None:
    before = {v.id for v in conn.block_storage.volumes()}
    mapping = {"boot_index": 0, "uuid": image_id, "source_type": "image",
               "destination_type": "volume", "volume_size": 1}  # fmt: skip
    created = http.post("/servers", json={"server": {
        "name": "fail-bfv", "flavorRef": flavor, "networks": "none",
        "block_device_mapping_v2": [mapping]}})  # fmt: skip
    assert created.status_code == 202, created.text
    server_id = created.json()["server"]["id"]
    failed = eventually(lambda: http.get(f"/servers/{server_id}").json()["server"],
                        lambda s: s["status"] == "ERROR", "the failed boot")  # fmt: skip
    assert "No valid host" in failed["fault"]["message"]
    eventually(lambda: {v.id for v in conn.block_storage.volumes()}, lambda ids: ids <= before,
               "the volume made for the failed boot deleted")  # fmt: skip
    assert http.delete(f"/servers/{server_id}").status_code == 204


# -- bad requests: Nova's 400s, nothing left behind --------------------------------------------


def test_bad_mappings_are_refused_and_leave_nothing(
    gateway: ServedGateway, conn: Any, http: httpx.Client, image_id: str, flavor: str,
    stranger: Member, network: str,
) -> None:  # fmt: skip
    theirs_api = cinder(gateway, stranger.token(gateway), stranger.project_id)
    theirs = theirs_api.post("/volumes", json={"volume": {"size": 1}}).json()["volume"]["id"]
    wait_volume(theirs_api, theirs, "available")
    big_image = active_image(conn, min_disk=3)
    in_use = conn.block_storage.create_volume(size=1)
    sdk_status(conn, in_use, "available")
    holder = server_active(conn, conn.create_server(unique("holder"), flavor=flavor,
                                             boot_volume=in_use.id, network=network))  # fmt: skip

    def image(size: Any = 1, index: Any = 0, **more: Any) -> dict[str, Any]:
        return {"boot_index": index, "uuid": image_id, "source_type": "image",
                "destination_type": "volume", "volume_size": size, **more}  # fmt: skip

    def volume(volume_id: str) -> dict[str, Any]:
        return {"boot_index": 0, "uuid": volume_id, "source_type": "volume",
                "destination_type": "volume"}  # fmt: skip

    cases: list[tuple[list[dict[str, Any]] | None, str]] = [
        (None, "Missing imageRef attribute"),
        ([image(index=None)], "Boot sequence"),
        ([image(), image()], "Boot sequence"),
        ([volume("6b1f0c7e-1111-4a4a-9b9b-000000000000")], "failed to get volume"),
        ([volume(theirs)], f"failed to get volume {theirs}"),
        ([volume(in_use.id)], "Invalid volume"),
        ([image(uuid=big_image)], "smaller than the minimum size"),
        ([image(size=0)], "non-zero size"),
        ([image(size=-1)], "volume_size"),
        ([image(size="ten")], "volume_size"),
        ([image(source_type="disk")], "source_type"),
    ]
    servers_before = {s["id"] for s in http.get("/servers").json()["servers"]}
    volumes_before = {v.id for v in conn.block_storage.volumes()}
    for mappings, expected in cases:
        body: dict[str, Any] = {"name": unique("bad"), "flavorRef": flavor, "networks": "none"}
        if mappings is not None:
            body["block_device_mapping_v2"] = mappings
        refused = http.post("/servers", json={"server": body})
        message = assert_nova_fault(refused, 400, "badRequest")
        assert expected in message, (mappings, message)
    # none new (earlier tests' servers and their volumes may go meanwhile: not waited for)
    assert {s["id"] for s in http.get("/servers").json()["servers"]} <= servers_before
    assert {v.id for v in conn.block_storage.volumes()} <= volumes_before
    assert conn.block_storage.get_volume(in_use.id).status == "in-use"

    # a region whose backend cannot boot from volumes says so, before anything exists
    with nova(gateway, gateway.token(CLOUD), "2.79") as plain:
        plain.base_url = httpx.URL(str(plain.base_url).replace("/RegionOne/", f"/{PLAIN}/"))
        refused = plain.post("/servers", json={"server": {
            "name": unique("plain"), "flavorRef": flavor, "networks": "none",
            "block_device_mapping_v2": [image()]}})  # fmt: skip
        assert "boot from volume" in assert_nova_fault(refused, 400, "badRequest")
    delete_server(conn, holder.id)


# -- rebuild of a volume-backed server (Nova before 2.93): only the root volume's image -------


@pytest.fixture(scope="module")
def images(conn: Any, image_id: str) -> tuple[str, str]:
    """The image the servers' root volumes are made of, and another one."""
    return image_id, active_image(conn)


def boot_from_volume(conn: Any, image_id: str, flavor: str, network: str) -> Any:
    return server_active(conn, conn.create_server(
        unique("bfv"), image=image_id, flavor=flavor, network=network, boot_from_volume=True,
        volume_size=1, terminate_volume=True))  # fmt: skip


def rebuild(http: httpx.Client, server_id: str, image_id: str, **fields: Any) -> httpx.Response:
    return http.post(f"/servers/{server_id}/action",
                     json={"rebuild": {"imageRef": image_id, **fields}})  # fmt: skip


def test_sdk_rebuilds_a_volume_backed_server_on_its_own_image_keeping_its_volumes(
    conn: Any, http: httpx.Client, network: str, images: tuple[str, str], flavor: str
) -> None:
    own, _ = images
    server = boot_from_volume(conn, own, flavor, network)
    [root] = attached_volume_ids(http, server.id)
    data = conn.block_storage.create_volume(size=1, name=unique("data"))
    sdk_status(conn, data, "available")
    conn.attach_volume(server, data, wait=True, timeout=60)

    rebuilt = conn.compute.rebuild_server(server, image=own, name="renamed", admin_password="pw")
    assert rebuilt.name == "renamed"
    server = server_active(conn, server)
    shown = http.get(f"/servers/{server.id}").json()["server"]
    assert (shown["name"], shown["image"]) == ("renamed", "")
    assert attached_volume_ids(http, server.id) == [root, data.id]
    for volume_id in (root, data.id):
        volume = conn.block_storage.get_volume(volume_id)
        assert volume.status == "in-use"
        assert [a["server_id"] for a in volume.attachments] == [server.id]
    actions = [a.action for a in conn.compute.server_actions(server.id)]
    assert actions.count("rebuild") == 1
    [event] = [a for a in conn.compute.server_actions(server.id) if a.action == "rebuild"]
    assert conn.compute.get_server_action(event.request_id, server.id).message is None

    conn.detach_volume(server, data, wait=True, timeout=60)
    delete_server(conn, server.id)
    delete_volume(conn, data.id)


def test_another_image_is_refused_and_changes_nothing(
    conn: Any, http: httpx.Client, network: str, images: tuple[str, str], flavor: str
) -> None:
    own, other = images
    server = boot_from_volume(conn, own, flavor, network)
    answer = rebuild(http, server.id, other, name="never")
    message = assert_nova_fault(answer, 400, "badRequest")
    assert message == (
        f"Image {other} is unacceptable: Unable to rebuild with a different image for a "
        "volume-backed server."
    )
    shown = http.get(f"/servers/{server.id}").json()["server"]
    assert (shown["status"], shown["name"], shown["image"]) == ("ACTIVE", server.name, "")
    assert [a.action for a in conn.compute.server_actions(server.id)] == ["create"]
    delete_server(conn, server.id)


def test_a_stopped_volume_backed_server_is_rebuilt_stopped(
    conn: Any, http: httpx.Client, network: str, images: tuple[str, str], flavor: str
) -> None:
    own, _ = images
    server = boot_from_volume(conn, own, flavor, network)
    conn.compute.stop_server(server)
    server_in(conn, server, "SHUTOFF")
    assert rebuild(http, server.id, own).status_code == 202
    eventually(lambda: http.get(f"/servers/{server.id}").json()["server"],
               lambda s: s["status"] == "SHUTOFF" and s["OS-EXT-STS:task_state"] is None,
               "the rebuilt server stopped again")  # fmt: skip
    [root] = attached_volume_ids(http, server.id)
    assert conn.block_storage.get_volume(root).status == "in-use"
    delete_server(conn, server.id)
