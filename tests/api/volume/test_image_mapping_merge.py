"""Nova's merge of a create's mappings over the ones its image defines, proven with the
``openstack`` CLI against a served gateway on sim: where a volume-backed server's image holds
the boot device, the image root mapping the CLI adds for ``--image`` gives way to it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import openstack.exceptions
import pytest

from tests.support.compute import assert_nova_fault, delete_server, nova
from tests.support.gateway import ServedGateway
from tests.support.identity import unique
from tests.support.image import create, image_client, upload
from tests.support.volume import attached_volume_ids, sdk_status
from tests.support.waiting import eventually

CLOUD = "interstack"


@pytest.fixture(scope="module")
def http(volume_gateway: ServedGateway) -> Iterator[httpx.Client]:
    with nova(volume_gateway, volume_gateway.token(CLOUD), "2.79") as api:
        yield api


@pytest.fixture(scope="module")
def world(conn: Any) -> tuple[str, str, str]:
    """(network name, image id, flavor id)."""
    net = conn.network.create_network(name=unique("net"))
    conn.network.create_subnet(network_id=net.id, ip_version=4, cidr="10.27.0.0/24")
    image = conn.image.create_image(name=unique("img"), data=b"\1" * 4096, disk_format="raw",
                                    container_format="bare")  # fmt: skip
    eventually(lambda: conn.image.get_image(image.id).status, lambda s: s == "active", "image")
    flavor = next(iter(conn.compute.flavors()))
    return str(net.name), str(image.id), str(flavor.id)


def test_the_cli_boots_a_volume_backed_image_from_its_root_snapshot(
    volume_gateway: ServedGateway, conn: Any, http: httpx.Client, world: tuple[str, str, str]
) -> None:
    """``openstack server create --image`` sends the image as a local root mapping at
    ``boot_index`` 0 beside the imageRef. Where the image's own mappings hold the boot
    device, Nova drops that entry, not the image's root: the server boots from a volume made
    of the root snapshot. A request's other boot device beside the image's is Nova's boot
    sequence 400."""
    network, image_id, flavor = world
    source = conn.block_storage.create_volume(size=1, image_id=image_id, name=unique("src"))
    sdk_status(conn, source, "available")
    snapshot = conn.block_storage.create_snapshot(volume_id=source.id, name=unique("root"))
    sdk_status(conn, snapshot, "available")
    mapping = [{"source_type": "snapshot", "destination_type": "volume", "boot_index": 0,
                "snapshot_id": snapshot.id, "device_name": "/dev/vda", "volume_size": 1,
                "delete_on_termination": True}]  # fmt: skip
    glance = image_client(volume_gateway, volume_gateway.token(CLOUD))
    image = create(glance, name=unique("vb-cli"), block_device_mapping=json.dumps(mapping),
                   bdm_v2="True", root_device_name="/dev/vda")  # fmt: skip
    upload(glance, image["id"], b"")

    boot = ("server", "create", "--image", image["id"], "--flavor", flavor, "--network", network)
    shown = volume_gateway.cli(CLOUD, *boot, "--wait", "-f", "json", unique("cli")).stdout

    server_id = json.loads(shown)["id"]
    [root] = attached_volume_ids(http, server_id)
    made = conn.block_storage.get_volume(root)
    assert (made.snapshot_id, [a["device"] for a in made.attachments]) == (
        snapshot.id, ["/dev/vda"])  # fmt: skip
    delete_server(conn, server_id)

    other_root = conn.block_storage.create_volume(size=1, image_id=image_id, name=unique("own"))
    sdk_status(conn, other_root, "available")
    own = f"uuid={other_root.id},source_type=volume,boot_index=0"
    refused = volume_gateway.cli(CLOUD, *boot, "--block-device", own, unique("cli"), check=False)
    assert refused.returncode != 0
    assert "Boot sequence for the instance" in refused.stderr, refused.stderr
    assert conn.block_storage.get_volume(other_root.id).status == "available"


def test_an_image_whose_mappings_hold_no_device_names_is_a_400_that_names_the_property(
    volume_gateway: ServedGateway, conn: Any, http: httpx.Client, world: tuple[str, str, str]
) -> None:
    """An image's properties are anyone's who may set them: a device name that is a number, a
    list or has a space, a tag that is no string or a negative size is Nova's 400 naming the
    property (they were 500s, or a server at ``/dev/vd b``), over HTTP and to openstacksdk,
    and nothing is made."""
    network, _, flavor = world
    glance = image_client(volume_gateway, volume_gateway.token(CLOUD))
    root = {"source_type": "blank", "destination_type": "volume", "boot_index": -1,
            "device_name": "/dev/vdb", "volume_size": 1}  # fmt: skip
    cases: list[tuple[dict[str, str], str]] = [
        ({"block_device_mapping": json.dumps([{**root, "device_name": 5}]), "bdm_v2": "True"},
         "device_name 5 is not a device name"),
        ({"block_device_mapping": json.dumps([{**root, "device_name": ["vdb"]}])},
         "device_name ['vdb'] is not a device name"),
        ({"block_device_mapping": json.dumps([{**root, "tag": {"a": 1}}]), "bdm_v2": "True"},
         "tag {'a': 1} is not a string"),
        ({"block_device_mapping": json.dumps([{**root, "volume_size": -1}]), "bdm_v2": "True"},
         "volume_size -1 is below 0"),
        ({"root_device_name": "vd b"}, "root_device_name 'vd b' is not a device name"),
        ({"mappings": json.dumps([{"virtual": "root", "device": "vd b"}])}, "mappings property"),
    ]  # fmt: skip
    volumes_before = {v.id for v in conn.block_storage.volumes()}
    network_id = conn.network.find_network(network).id
    for properties, expected in cases:
        image = create(glance, name=unique("odd"), **properties)
        upload(glance, image["id"], b"\1" * 512)
        answer = http.post("/servers", json={"server": {
            "name": unique("odd"), "flavorRef": flavor, "imageRef": image["id"],
            "networks": [{"uuid": network_id}]}})  # fmt: skip
        message = assert_nova_fault(answer, 400, "badRequest")
        assert expected in message, (properties, message)
        # as openstacksdk's users meet it: its BadRequestException with Nova's message
        with pytest.raises(openstack.exceptions.BadRequestException) as refused:
            conn.compute.create_server(name=unique("sdk"), flavor_id=flavor, image_id=image["id"],
                                       networks=[{"uuid": network_id}])  # fmt: skip
        assert expected in str(refused.value), (properties, str(refused.value))
    assert not list(conn.compute.servers())
    assert {v.id for v in conn.block_storage.volumes()} == volumes_before
