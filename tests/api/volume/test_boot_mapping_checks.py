"""Nova's checks of a server create's block device mappings, over raw HTTP and openstacksdk
against a served gateway on sim: ephemeral disks within the flavor's ephemeral size, one swap
disk within its swap, at most three local disks, the v2 formats and source/destination pairs
Nova refuses, the legacy ``block_device_mapping`` read as Nova reads it (``vda`` is the root;
a mapping for another device is an extra disk). Every refusal is Nova's ``badRequest`` before
anything exists: no server, volume or port is left. A backend that gives no ephemeral or swap
disks (it lacks ``ephemeral_disks``: these tests' sim region is made without) refuses a
mapping that asks for one."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import openstack.exceptions
import pytest

from tests.support.compute import assert_nova_fault, delete_server, nova, server_active
from tests.support.gateway import ServedGateway
from tests.support.identity import unique
from tests.support.image import create, image_client, upload
from tests.support.volume import sdk_status
from tests.support.waiting import eventually

CLOUD = "interstack"
#: a flavor's ephemeral disk (GB) and swap (MB)
EPHEMERAL_GB, SWAP_MB = 2, 512


@pytest.fixture(scope="module")
def http(volume_gateway: ServedGateway) -> Iterator[httpx.Client]:
    """Nova as the demo user, whose openstacksdk connection is ``conn``."""
    with nova(volume_gateway, volume_gateway.token(CLOUD), "2.79") as api:
        yield api


@pytest.fixture(scope="module")
def world(volume_gateway: ServedGateway, conn: Any) -> dict[str, str]:
    """A network, an image and a flavor with an ephemeral disk and swap."""
    net = conn.network.create_network(name=unique("net"))
    conn.network.create_subnet(network_id=net.id, ip_version=4, cidr="10.23.0.0/24")
    image = conn.image.create_image(name=unique("img"), data=b"\1" * 4096, disk_format="raw",
                                    container_format="bare")  # fmt: skip
    eventually(lambda: conn.image.get_image(image.id).status, lambda s: s == "active", "image")
    with volume_gateway.connect("interstack-admin") as admin:
        flavor = admin.compute.create_flavor(name=unique("eph"), ram=512, vcpus=1, disk=1,
                                             ephemeral=EPHEMERAL_GB, swap=SWAP_MB)  # fmt: skip
    return {"network": str(net.id), "image": str(image.id), "flavor": str(flavor.id)}


def body(world: dict[str, str], **server: Any) -> dict[str, Any]:
    return {"server": {"name": unique("bdm"), "flavorRef": world["flavor"],
                       "imageRef": world["image"], "networks": [{"uuid": world["network"]}],
                       **server}}  # fmt: skip


def ephemeral(size: int | None = None, **more: Any) -> dict[str, Any]:
    entry = {"source_type": "blank", "destination_type": "local", "boot_index": -1, **more}
    return entry if size is None else {**entry, "volume_size": size}


def swap(size: int) -> dict[str, Any]:
    return ephemeral(size, guest_format="swap")


#: a blank volume, which a create that went too far would leave behind
BLANK_VOLUME = {"source_type": "blank", "destination_type": "volume", "volume_size": 1,
                "boot_index": -1, "delete_on_termination": True}  # fmt: skip


def image_root(world: dict[str, str], **more: Any) -> dict[str, Any]:
    return {"source_type": "image", "destination_type": "local", "uuid": world["image"],
            "boot_index": 0, **more}  # fmt: skip


def what_exists(conn: Any) -> tuple[set[str], set[str], set[str]]:
    return (
        {s.id for s in conn.compute.servers()},
        {v.id for v in conn.block_storage.volumes()},
        {p.id for p in conn.network.ports()},
    )


def assert_nothing_new(conn: Any, before: tuple[set[str], set[str], set[str]]) -> None:
    """No server, volume or port was made since ``before`` (one deleted meanwhile may go)."""
    after = what_exists(conn)
    assert [now - then for now, then in zip(after, before, strict=True)] == [set(), set(), set()]


def test_mappings_nova_refuses_are_its_400_and_leave_nothing(
    conn: Any, http: httpx.Client, world: dict[str, str]
) -> None:
    volume = conn.block_storage.create_volume(size=1, name=unique("mine"))
    sdk_status(conn, volume, "available")
    existing = {"source_type": "volume", "destination_type": "volume", "uuid": volume.id,
                "boot_index": -1}  # fmt: skip
    v2_cases: list[tuple[list[dict[str, Any]], dict[str, Any], str]] = [
        ([ephemeral(1), ephemeral(2)], {}, "Ephemeral disks requested are larger"),
        ([ephemeral(), ephemeral(1)], {}, "flavor ephemeral size will be used"),
        ([ephemeral(EPHEMERAL_GB + 1)], {}, "Ephemeral disks requested are larger"),
        ([swap(SWAP_MB + 1)], {}, "Swap drive requested is larger"),
        ([swap(128), swap(128)], {}, "More than one swap drive requested."),
        ([image_root(world), ephemeral(1), ephemeral(1), swap(128)], {},
         "more local devices than the limit allows"),
        ([ephemeral(1), ephemeral(1), swap(128)], {}, "more local devices"),  # and the image
        ([{**BLANK_VOLUME, "uuid": volume.id}], {}, "Invalid device UUID."),
        ([{"source_type": "volume", "destination_type": "volume", "boot_index": -1}], {},
         "Missing device UUID."),
        ([{"uuid": volume.id, "destination_type": "volume", "boot_index": -1}], {},
         "Some required fields are missing"),
        ([{**existing, "destination_type": "local"}], {}, "cannot go to destination_type"),
        ([image_root(world)], {"imageRef": ""}, "Mapping image to local is not supported."),
        ([image_root(world, boot_index=1)], {}, "Mapping image to local is not supported."),
        ([ephemeral(1, volume_type="fast")], {}, "volume_type with destination_type=local"),
        ([{**existing, "volume_type": "fast"}], {}, "volume type to existing volume"),
        ([{**BLANK_VOLUME, "disk_bus": "floppy9"}], {}, "disk bus floppy9 is not valid"),
        ([{**BLANK_VOLUME, "boot_index": 0}, {**BLANK_VOLUME, "boot_index": 0}],
         {"imageRef": ""}, "Boot sequence"),
        ([{**BLANK_VOLUME, "volume_size": -1}], {}, "volume_size"),
        # Nova's schema: no JSON boolean for an integer, no size past its database's integer
        ([{**BLANK_VOLUME, "volume_size": True}], {}, "volume_size True"),
        ([{**BLANK_VOLUME, "volume_size": 2**31}], {}, "from 0 to 2147483647"),
        ([{**BLANK_VOLUME, "volume_size": "2147483648"}], {}, "from 0 to 2147483647"),
        ([{**BLANK_VOLUME, "boot_index": True}], {}, "boot_index True is not an integer"),
        ([{**BLANK_VOLUME, "device_name": "vd b"}], {}, "device_name"),
        # Nova's boolean: true or false, or one of its spellings as a string ("yes", "On",
        # "0" ...), nothing else (pydantic alone took "t", "tRuE" and 1)
        ([{**BLANK_VOLUME, "delete_on_termination": "t"}], {}, "'t' is not a boolean"),
        ([{**BLANK_VOLUME, "delete_on_termination": 1}], {}, "1 is not a boolean"),
        ([{"device_name": "vdb", "no_device": "tRuE"}], {}, "'tRuE' is not a boolean"),
        ([{"device_name": "vdb", "no_device": 1}], {}, "1 is not a boolean"),
        ([], {"config_drive": "y"}, "'y' is not a boolean"),
        ([], {"return_reservation_id": 0}, "0 is not a boolean"),
    ]  # fmt: skip
    legacy_cases: list[tuple[list[dict[str, Any]], dict[str, Any], str]] = [
        ([{"device_name": "vdb"}], {}, "Unrecognized legacy format."),
        ([{"device_name": "vdb", "volume_id": volume.id, "delete_on_termination": "Y"}], {},
         "'Y' is not a boolean"),
        ([{"device_name": "vdb", "no_device": 1.0}], {}, "1.0 is not a boolean"),
        ([{"device_name": "vdb", "volume_id": volume.id, "volume_size": 2**31}], {},
         "from 0 to 2147483647"),
        ([{"device_name": "vdb", "virtual_name": "swap", "volume_size": 128},
          {"device_name": "vdc", "virtual_name": "swap", "volume_size": 128}], {},
         "More than one swap drive requested."),
        ([{"device_name": "vdb", "virtual_name": "ephemeral0", "volume_size": 3}], {},
         "Ephemeral disks requested are larger"),
        # no entry for the root device (vda) and no image: nothing to boot
        ([{"device_name": "vdb", "volume_id": volume.id}], {"imageRef": ""}, "Boot sequence"),
    ]  # fmt: skip
    before = what_exists(conn)
    for field, cases in (("block_device_mapping_v2", v2_cases),
                         ("block_device_mapping", legacy_cases)):  # fmt: skip
        for mappings, change, expected in cases:
            answer = http.post("/servers", json=body(world, **{field: mappings}, **change))
            message = assert_nova_fault(answer, 400, "badRequest")
            assert expected in message, (mappings, message)
    assert_nothing_new(conn, before)
    assert conn.block_storage.get_volume(volume.id).status == "available"
    conn.block_storage.delete_volume(volume)


def test_a_backend_without_ephemeral_disks_refuses_a_mapping_of_one_clearly(
    conn: Any, http: httpx.Client, world: dict[str, str]
) -> None:
    """Within the flavor's sizes, ephemeral and swap mappings pass Nova's checks; sim gives
    no such disks (it lacks ``ephemeral_disks``), so it says so instead of booting without
    them. The flavor's own ephemeral disk and swap, not mapped, are no refusal."""
    before = what_exists(conn)
    for mappings in ([ephemeral(EPHEMERAL_GB)], [swap(SWAP_MB)], [ephemeral(), swap(128)]):
        answer = http.post("/servers", json=body(world, block_device_mapping_v2=mappings))
        message = assert_nova_fault(answer, 400, "badRequest")
        assert "cannot give servers ephemeral or swap disks" in message, message
    legacy = [{"device_name": "vdb", "virtual_name": "ephemeral0"}]
    answer = http.post("/servers", json=body(world, block_device_mapping=legacy))
    assert "ephemeral or swap disks" in assert_nova_fault(answer, 400, "badRequest")
    mapped = [image_root(world), swap(SWAP_MB)]
    with pytest.raises(openstack.exceptions.BadRequestException, match="ephemeral or swap"):
        conn.compute.create_server(name=unique("sdk"), flavor_id=world["flavor"],
                                   image_id=world["image"], networks=[{"uuid": world["network"]}],
                                   block_device_mapping=mapped)  # fmt: skip
    assert_nothing_new(conn, before)

    plain = server_active(conn, conn.compute.create_server(
        name=unique("plain"), flavor_id=world["flavor"], image_id=world["image"],
        networks=[{"uuid": world["network"]}]))  # fmt: skip
    delete_server(conn, plain.id)


def attachments(http: httpx.Client, server_id: str) -> dict[str, str]:
    found = http.get(f"/servers/{server_id}/os-volume_attachments").json()["volumeAttachments"]
    return {a["device"]: a["volumeId"] for a in found}


def test_a_legacy_mapping_for_another_device_than_vda_is_an_extra_disk(
    volume_gateway: ServedGateway, conn: Any, http: httpx.Client, world: dict[str, str]
) -> None:
    """Nova's legacy mapping: the root device is ``vda``; a volume at ``vdb`` is attached there
    and the server boots from its image, a volume at ``vda`` is the server's root. The
    same holds for an image's legacy ``block_device_mapping`` property naming no root device:
    its entry at ``vdb`` (a volume made of a snapshot) is an extra disk, not the boot disk."""
    data = conn.block_storage.create_volume(size=1, name=unique("data"))
    sdk_status(conn, data, "available")
    answer = http.post("/servers", json=body(
        world, block_device_mapping=[{"device_name": "vdb", "volume_id": data.id}]))  # fmt: skip
    assert answer.status_code == 202, answer.text
    server = server_active(conn, conn.compute.get_server(answer.json()["server"]["id"]))
    assert server.image.id == world["image"]
    assert attachments(http, server.id) == {"/dev/vdb": data.id}
    delete_server(conn, server.id)
    sdk_status(conn, conn.block_storage.get_volume(data.id), "available")
    # a volume at vda is the root even beside an imageRef: Nova boots the volume
    root = conn.block_storage.create_volume(size=1, image_id=world["image"], name=unique("root"))
    sdk_status(conn, root, "available")
    at_vda = [{"device_name": "/dev/vda", "volume_id": root.id}]
    answer = http.post("/servers", json=body(world, block_device_mapping=at_vda))
    assert answer.status_code == 202, answer.text
    server = server_active(conn, conn.compute.get_server(answer.json()["server"]["id"]))
    assert attachments(http, server.id) == {"/dev/vda": root.id}
    delete_server(conn, server.id)

    snapshot = conn.block_storage.create_snapshot(volume_id=data.id, name=unique("snap"))
    sdk_status(conn, snapshot, "available")
    legacy = [{"device_name": "vdb", "snapshot_id": snapshot.id, "volume_size": 1,
               "delete_on_termination": True}]  # fmt: skip
    glance = image_client(volume_gateway, volume_gateway.token(CLOUD))
    image = create(glance, name=unique("legacy"), block_device_mapping=json.dumps(legacy))
    upload(glance, image["id"], b"\1" * 4096)
    answer = http.post("/servers", json=body({**world, "image": image["id"]}))
    assert answer.status_code == 202, answer.text
    server = server_active(conn, conn.compute.get_server(answer.json()["server"]["id"]))
    assert server.image.id == image["id"]
    [(device, made)] = attachments(http, server.id).items()
    assert device == "/dev/vdb"
    assert conn.block_storage.get_volume(made).snapshot_id == snapshot.id
    # it boots from the image's data, not from a volume: another image rebuilds it
    rebuilt = http.post(f"/servers/{server.id}/action",
                        json={"rebuild": {"imageRef": world["image"]}})  # fmt: skip
    assert rebuilt.status_code == 202, rebuilt.text
    server_active(conn, conn.compute.get_server(server.id))
    delete_server(conn, server.id)


def test_a_legacy_mapping_boots_the_volume_at_the_images_root_device_name(
    volume_gateway: ServedGateway, conn: Any, http: httpx.Client, world: dict[str, str]
) -> None:
    """Nova reads a legacy request's root device as the image's ``root_device_name`` (``vda``
    only when it names none): a volume mapped at that device is the server's root disk, and
    one at ``vdb`` stays an extra disk beside the image."""
    glance = image_client(volume_gateway, volume_gateway.token(CLOUD))
    image = create(glance, name=unique("sda"), root_device_name="/dev/sda")
    upload(glance, image["id"], b"\1" * 4096)
    root = conn.block_storage.create_volume(size=1, image_id=world["image"], name=unique("root"))
    sdk_status(conn, root, "available")
    at_sda = [{"device_name": "sda", "volume_id": root.id}]
    answer = http.post("/servers", json=body({**world, "image": image["id"]},
                                             block_device_mapping=at_sda))  # fmt: skip
    assert answer.status_code == 202, answer.text
    server = server_active(conn, conn.compute.get_server(answer.json()["server"]["id"]))
    assert attachments(http, server.id) == {"/dev/sda": root.id}
    # its root is the volume (made of another image): rebuilt with this image, Nova's 400
    rebuilt = http.post(f"/servers/{server.id}/action",
                        json={"rebuild": {"imageRef": image["id"]}})  # fmt: skip
    assert "volume-backed server" in assert_nova_fault(rebuilt, 400, "badRequest")
    delete_server(conn, server.id)
    sdk_status(conn, conn.block_storage.get_volume(root.id), "available")

    at_vdb = [{"device_name": "vdb", "volume_id": root.id}]
    answer = http.post("/servers", json=body({**world, "image": image["id"]},
                                             block_device_mapping=at_vdb))  # fmt: skip
    assert answer.status_code == 202, answer.text
    server = server_active(conn, conn.compute.get_server(answer.json()["server"]["id"]))
    assert server.image.id == image["id"]
    assert attachments(http, server.id) == {"/dev/vdb": root.id}
    delete_server(conn, server.id)


def test_v2_entries_with_the_fields_novas_schema_also_takes_boot(
    conn: Any, http: httpx.Client, world: dict[str, str]
) -> None:
    """Nova's v2 entry is its legacy one extended: ``volume_id``, ``snapshot_id``,
    ``image_id`` and ``connection_info`` pass its schema, and ``uuid`` names the source."""
    data = conn.block_storage.create_volume(size=1, name=unique("data"))
    sdk_status(conn, data, "available")
    mapping = [image_root(world, image_id=world["image"]),
               {"source_type": "volume", "destination_type": "volume", "uuid": data.id,
                "volume_id": data.id, "snapshot_id": None, "connection_info": "{}",
                "boot_index": -1, "device_name": "vdb"}]  # fmt: skip
    answer = http.post("/servers", json=body(world, block_device_mapping_v2=mapping))
    assert answer.status_code == 202, answer.text
    server = server_active(conn, conn.compute.get_server(answer.json()["server"]["id"]))
    assert attachments(http, server.id) == {"/dev/vdb": data.id}
    delete_server(conn, server.id)


def test_an_images_legacy_ephemeral_and_swap_entries_are_held_to_the_flavor(
    volume_gateway: ServedGateway, conn: Any, world: dict[str, str]
) -> None:
    """Nova's ``from_legacy`` makes an image's legacy ``swap`` and ``ephemeralN`` entries the
    flavor's blank local disks, in the same sums as a request's: larger than the flavor's,
    its 400 before anything exists; within them, the server boots."""
    glance = image_client(volume_gateway, volume_gateway.token(CLOUD))

    def image_mapping(*entries: dict[str, Any]) -> str:
        image = create(glance, name=unique("legacy"), block_device_mapping=json.dumps(entries))
        upload(glance, image["id"], b"\1" * 4096)
        return str(image["id"])

    too_large = [
        (image_mapping({"device_name": "vdb", "virtual_name": "ephemeral0",
                        "volume_size": EPHEMERAL_GB + 1}),
         "Ephemeral disks requested are larger"),
        (image_mapping({"device_name": "vdc", "virtual_name": "swap", "volume_size": SWAP_MB * 2}),
         "Swap drive requested is larger"),
    ]  # fmt: skip
    before = what_exists(conn)
    for image_id, expected in too_large:
        with pytest.raises(openstack.exceptions.BadRequestException, match=expected):
            conn.compute.create_server(name=unique("sdk"), flavor_id=world["flavor"],
                                       image_id=image_id,
                                       networks=[{"uuid": world["network"]}])  # fmt: skip
    assert_nothing_new(conn, before)

    fits = image_mapping({"device_name": "vdb", "virtual_name": "ephemeral0", "volume_size": 1})
    server = server_active(conn, conn.compute.create_server(
        name=unique("fits"), flavor_id=world["flavor"], image_id=fits,
        networks=[{"uuid": world["network"]}]))  # fmt: skip
    delete_server(conn, server.id)


def test_a_volume_takes_vda_but_not_the_images_own_root_device_name(
    volume_gateway: ServedGateway, conn: Any, http: httpx.Client, world: dict[str, str]
) -> None:
    """An image whose ``root_device_name`` is ``/dev/sda`` boots at ``sda``, as Nova reads it:
    a volume mapped there is its 400 (nothing made), one mapped at ``vda`` is attached there,
    and the server's ``root_device_name`` is ``/dev/sda``."""
    glance = image_client(volume_gateway, volume_gateway.token(CLOUD))
    image = create(glance, name=unique("sda"), root_device_name="/dev/sda")
    upload(glance, image["id"], b"\1" * 4096)
    at_sda = {**BLANK_VOLUME, "device_name": "/dev/sda"}
    at_vda = {**BLANK_VOLUME, "device_name": "vda"}
    root = image_root({**world, "image": image["id"]})
    before = what_exists(conn)

    refused = http.post("/servers", json=body({**world, "image": image["id"]},
                                              block_device_mapping_v2=[root, at_sda]))  # fmt: skip

    message = assert_nova_fault(refused, 400, "badRequest")
    assert (
        message == "The volume cannot be assigned the same device name as the root device /dev/sda"
    )
    assert_nothing_new(conn, before)
    server = server_active(conn, conn.compute.create_server(
        name=unique("vda"), flavor_id=world["flavor"], image_id=image["id"],
        networks=[{"uuid": world["network"]}], block_device_mapping=[root, at_vda]))  # fmt: skip
    [(device, _)] = attachments(http, server.id).items()
    assert device == "/dev/vda"
    # its root is where the image says, as an admin sees it (2.3's extended attributes)
    shown = volume_gateway.cli("interstack-admin", "server", "show", server.id, "-f", "json",
                               extra=("--os-compute-api-version", "2.3")).stdout  # fmt: skip
    assert json.loads(shown)["OS-EXT-SRV-ATTR:root_device_name"] == "/dev/sda"
    delete_server(conn, server.id)


def test_an_image_entry_without_destination_type_is_no_disk_as_in_nova(
    conn: Any, http: httpx.Client, world: dict[str, str]
) -> None:
    """Nova's API defaults no destination for an image entry: one that does not boot is no
    disk at all (the server boots from its imageRef, no volume is made), but its image must
    exist; one at ``boot_index`` 0 without an imageRef is a 400 that says what to map."""
    other = {"source_type": "image", "uuid": world["image"], "boot_index": -1,
             "device_name": "vdb"}  # fmt: skip
    server = server_active(conn, conn.compute.create_server(
        name=unique("nodest"), flavor_id=world["flavor"], image_id=world["image"],
        networks=[{"uuid": world["network"]}],
        block_device_mapping=[image_root(world), other]))  # fmt: skip
    assert server.image.id == world["image"]
    assert attachments(http, server.id) == {}
    delete_server(conn, server.id)

    before = what_exists(conn)
    missing = {**other, "uuid": "0c1e5e1e-0000-4000-8000-000000000000"}
    mapping = [image_root(world), missing]
    answer = http.post("/servers", json=body(world, block_device_mapping_v2=mapping))
    message = assert_nova_fault(answer, 400, "badRequest")
    assert message == f"Block Device Mapping is Invalid: failed to get image {missing['uuid']}."
    booting = {**other, "boot_index": 0}
    answer = http.post("/servers", json=body(world, imageRef="",
                                             block_device_mapping_v2=[booting]))  # fmt: skip
    message = assert_nova_fault(answer, 400, "badRequest")
    assert "needs destination_type 'volume' and a volume_size" in message, message
    assert_nothing_new(conn, before)


def test_no_device_takes_the_images_mapping_at_its_device_away(
    volume_gateway: ServedGateway, conn: Any, http: httpx.Client, world: dict[str, str]
) -> None:
    """The image's ``mappings`` place the flavor's ephemeral disk at ``vdb``; a request's
    ``no_device`` entry there takes it away (Nova's merge keeps it for its device name), so a
    volume named automatically is attached at ``vdb`` instead of ``vdc``; one that names a
    source and destination too is still nothing but that (no second volume)."""
    glance = image_client(volume_gateway, volume_gateway.token(CLOUD))
    mappings = [{"virtual": "ephemeral0", "device": "vdb"}]
    image = create(glance, name=unique("mapped"), mappings=json.dumps(mappings))
    upload(glance, image["id"], b"\1" * 4096)
    mapped = {**world, "image": image["id"]}
    # a no_device entry with a source and destination is no disk either (Nova's driver makes
    # nothing of a no_device mapping, whatever else it says): no volume is made of it
    with_fields = {**BLANK_VOLUME, "device_name": "vdb", "no_device": True}
    # Nova's boolean spelled as a string is what it says: "Yes" is true
    spelled = [{"device_name": "vdb", "no_device": "Yes"}]
    for extra, device in (([], "/dev/vdc"), ([{"device_name": "vdb", "no_device": True}],
                                             "/dev/vdb"), ([with_fields], "/dev/vdb"),
                          (spelled, "/dev/vdb")):  # fmt: skip
        answer = http.post("/servers", json=body(mapped, block_device_mapping_v2=[
            image_root(mapped), *extra, BLANK_VOLUME]))  # fmt: skip
        assert answer.status_code == 202, answer.text
        server = server_active(conn, conn.compute.get_server(answer.json()["server"]["id"]))
        assert list(attachments(http, server.id)) == [device]
        delete_server(conn, server.id)


def test_what_users_run_gets_novas_refusals_of_mappings(
    volume_gateway: ServedGateway, conn: Any, world: dict[str, str]
) -> None:
    """The checks above as users meet them: openstacksdk's ``create_server`` with v2 mappings
    and the ``openstack`` CLI's ``--swap``, ``--ephemeral`` and ``--block-device`` are each
    refused with Nova's message, and nothing is made."""
    before = what_exists(conn)
    sdk_cases = [
        ([ephemeral(1), ephemeral(2)], "Ephemeral disks requested are larger"),
        ([swap(128), swap(128)], "More than one swap drive requested."),
        ([image_root(world, boot_index=1)], "Mapping image to local is not supported."),
        ([{**BLANK_VOLUME, "disk_bus": "floppy9"}], "disk bus floppy9 is not valid"),
        # Nova's schema: a boot_index is an integer, never a JSON boolean
        ([{**BLANK_VOLUME, "boot_index": True}], "boot_index True is not an integer"),
        ([image_root(world, boot_index=False)], "boot_index False is not an integer"),
        ([{**BLANK_VOLUME, "delete_on_termination": "t"}], "'t' is not a boolean"),
    ]
    for mappings, expected in sdk_cases:
        with pytest.raises(openstack.exceptions.BadRequestException) as refused:
            conn.compute.create_server(name=unique("sdk"), flavor_id=world["flavor"],
                                       image_id=world["image"],
                                       networks=[{"uuid": world["network"]}],
                                       block_device_mapping=mappings)  # fmt: skip
        assert expected in str(refused.value), (mappings, str(refused.value))
    cli_cases = [
        (["--swap", str(SWAP_MB + 1)], "Swap drive requested is larger"),
        (["--ephemeral", f"size={EPHEMERAL_GB + 1}"], "Ephemeral disks requested are larger"),
        (["--block-device", "source_type=blank,destination_type=local,volume_size=1",
          "--block-device", "source_type=blank,destination_type=local,volume_size=2"],
         "Ephemeral disks requested are larger"),
    ]  # fmt: skip
    for options, expected in cli_cases:
        result = volume_gateway.cli(CLOUD, "server", "create", "--flavor", world["flavor"],
                                    "--image", world["image"], "--network", world["network"],
                                    *options, unique("cli"), check=False)  # fmt: skip
        assert result.returncode == 1, (options, result.stdout)
        assert "BadRequestException: 400" in result.stderr, (options, result.stderr)
        assert expected in result.stderr, (options, result.stderr)
    assert_nothing_new(conn, before)
