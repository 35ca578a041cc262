"""The block device mapping a volume-backed server's image carries (Nova's image properties),
read back for a server booted from the image, and merged under the request's own mappings."""

from __future__ import annotations

import json

import pytest

from interstack.errors import BadRequest
from interstack.services.compute.block_devices import BlockDevice, boot_disks
from interstack.services.compute.image_block_devices import (
    image_defined_devices,
    image_mapping_properties,
    image_root_device,
    merge_image_devices,
)
from interstack.services.interfaces import VolumeSnapshotForImage

ROOT = VolumeSnapshotForImage("snap-root", "/dev/vda", 3, 0, True)
DATA = VolumeSnapshotForImage("snap-data", "/dev/vdb", 5, None, False)


def test_the_properties_are_strings_as_glance_keeps_them() -> None:
    properties = image_mapping_properties([ROOT, DATA])

    assert (properties["bdm_v2"], properties["root_device_name"]) == ("True", "/dev/vda")
    root, data = json.loads(properties["block_device_mapping"])
    assert root["source_type"] == "snapshot" and root["destination_type"] == "volume"
    assert (root["snapshot_id"], root["boot_index"], root["volume_size"]) == ("snap-root", 0, 3)
    assert (data["snapshot_id"], data["boot_index"], data["device_name"]) == (
        "snap-data", None, "/dev/vdb")  # fmt: skip


def test_a_server_booted_from_the_image_boots_from_a_volume_made_of_the_root_snapshot() -> None:
    devices = image_defined_devices(image_mapping_properties([ROOT, DATA]))

    disks = boot_disks(None, devices, 1)

    assert disks.image_id is None
    root, data = disks.volumes
    assert (root.source, root.source_id, root.root, root.device) == (
        "snapshot", "snap-root", True, "/dev/vda")  # fmt: skip
    assert (root.size_gb, root.delete_on_termination) == (3, True)
    assert (data.source_id, data.root, data.device) == ("snap-data", False, "/dev/vdb")


def test_an_image_without_a_mapping_defines_nothing() -> None:
    assert image_defined_devices({}) == ()
    assert image_defined_devices({"block_device_mapping": "[]", "bdm_v2": "True"}) == ()


#: a legacy (pre bdm v2) mapping as Nova wrote it to Glance: no source or destination types
LEGACY = [
    {"device_name": "vdb", "volume_id": "vol-data", "snapshot_id": None, "volume_size": 5,
     "delete_on_termination": False, "no_device": None, "virtual_name": None},
    {"device_name": "/dev/vda", "snapshot_id": "snap-root", "volume_id": None, "volume_size": 3,
     "delete_on_termination": True, "no_device": None, "virtual_name": None},
    {"device_name": "vdc", "virtual_name": "ephemeral0"},
    {"device_name": "vdd", "no_device": True},
]  # fmt: skip


def test_a_legacy_mapping_boots_from_the_volume_at_the_images_root_device() -> None:
    devices = image_defined_devices(
        {"block_device_mapping": json.dumps(LEGACY), "root_device_name": "vda"}
    )

    data, root, ephemeral, nothing = devices
    assert (root.source_type, root.uuid, root.boot_index, root.volume_size) == (
        "snapshot", "snap-root", 0, 3)  # fmt: skip
    assert root.delete_on_termination is True
    assert (data.source_type, data.uuid, data.boot_index, data.device_name) == (
        "volume", "vol-data", -1, "vdb")  # fmt: skip
    # the flavor's ephemeral disk at vdc, as Nova's from_legacy makes it; nothing at vdd
    assert (ephemeral.source_type, ephemeral.destination_type, ephemeral.boot_index) == (
        "blank", "local", -1)  # fmt: skip
    assert (ephemeral.device_name, ephemeral.delete_on_termination) == ("vdc", True)
    assert (nothing.source_type, nothing.destination_type, nothing.device_name) == (
        None, None, "vdd")  # fmt: skip
    disks = boot_disks(None, devices, 1)
    assert disks.root is not None and disks.root.source_id == "snap-root"
    assert disks.root.device == "/dev/vda"


def test_a_legacy_mapping_without_a_root_device_name_takes_vda_for_the_root() -> None:
    """As Nova assumes ``vda``: an entry at another device is an extra disk, and the server
    boots from the image; the one at ``/dev/vda`` boots."""
    [data] = image_defined_devices({"block_device_mapping": json.dumps(LEGACY[:1])})
    assert (data.uuid, data.boot_index) == ("vol-data", -1)
    disks = boot_disks("image-1", (data,), 1)
    assert disks.image_id == "image-1" and disks.root is None
    assert [(v.source_id, v.device) for v in disks.volumes] == [("vol-data", "/dev/vdb")]

    data, root = image_defined_devices({"block_device_mapping": json.dumps(LEGACY[:2])})
    assert (root.uuid, root.boot_index, data.boot_index) == ("snap-root", 0, -1)


def test_a_legacy_entry_without_a_source_is_novas_400() -> None:
    with pytest.raises(BadRequest, match="neither a snapshot_id nor a volume_id"):
        image_defined_devices({"block_device_mapping": json.dumps([{"device_name": "vda"}])})


@pytest.mark.parametrize(
    "mapping",
    ["not json", json.dumps({"a": 1}), json.dumps([{"source_type": "floppy"}]),
     json.dumps([{"source_type": "snapshot", "snapshot_id": "s", "boot_index": "first"}])],
    ids=["not-json", "not-a-list", "unknown-source", "bad-boot-index"],
)  # fmt: skip
def test_a_broken_mapping_is_novas_400(mapping: str) -> None:
    with pytest.raises(BadRequest, match="Block Device Mapping is Invalid"):
        image_defined_devices({"block_device_mapping": mapping, "bdm_v2": "True"})


def test_the_request_replaces_the_images_mapping_at_each_device_it_names() -> None:
    """Nova's ``_merge_bdms_lists``: the request's mappings first, the image's at the devices
    the request names gone; its root at ``/dev/vda`` too, for a request's root there."""
    defined = image_defined_devices(image_mapping_properties([ROOT, DATA]))
    blank = BlockDevice("blank", "volume", volume_size=9, device_name="vdb")
    own_root = BlockDevice("volume", "volume", uuid="mine", boot_index=0, device_name="vda")

    merged = merge_image_devices(defined, [blank, own_root])

    assert merged == (blank, own_root)
    assert merge_image_devices(defined, []) == defined


# -- the legacy ``mappings`` property: where the flavor's disks go, and the root device ----------

#: EC2's virtual names as Nova reads them from Glance (a JSON string, like every property)
MAPPINGS = json.dumps(
    [{"virtual": "ami", "device": "sda1"}, {"virtual": "root", "device": "/dev/sda1"},
     {"virtual": "ephemeral0", "device": "vdb"}, {"virtual": "swap", "device": "vdc"}]
)  # fmt: skip


def test_mappings_place_the_flavors_disks_and_are_no_volumes() -> None:
    ephemeral, swap = image_defined_devices({"mappings": MAPPINGS}, ephemeral_gb=1, swap_mb=512)

    assert (ephemeral.source_type, ephemeral.destination_type) == ("blank", "local")
    assert (ephemeral.device_name, ephemeral.volume_size, ephemeral.guest_format) == (
        "/dev/vdb", 1, None)  # fmt: skip
    assert (swap.device_name, swap.volume_size, swap.guest_format) == ("/dev/vdc", 512, "swap")
    assert ephemeral.boot_index == swap.boot_index == -1
    disks = boot_disks("image-1", [ephemeral, swap], 1)
    assert (disks.image_id, disks.volumes) == ("image-1", ())


def test_a_flavor_without_ephemeral_or_swap_disks_leaves_their_mappings_out() -> None:
    assert image_defined_devices({"mappings": MAPPINGS}) == ()


def test_a_volume_named_automatically_skips_the_devices_the_mappings_give_the_flavors_disks() -> (
    None
):
    defined = image_defined_devices({"mappings": MAPPINGS}, ephemeral_gb=1, swap_mb=512)
    blank = BlockDevice("blank", "volume", volume_size=1)

    disks = boot_disks("image-1", merge_image_devices(defined, [blank]), 1)

    assert [v.device for v in disks.volumes] == ["/dev/vdd"]


def test_a_requested_volume_at_a_mapped_device_replaces_the_flavors_disk_there() -> None:
    defined = image_defined_devices({"mappings": MAPPINGS}, ephemeral_gb=1, swap_mb=512)
    blank = BlockDevice("blank", "volume", volume_size=1, device_name="vdb")

    merged = merge_image_devices(defined, [blank])

    assert [d.device_name for d in merged] == ["vdb", "/dev/vdc"]
    assert [v.device for v in boot_disks("image-1", merged, 1).volumes] == ["/dev/vdb"]


def test_the_root_of_mappings_names_the_boot_volume_of_a_legacy_mapping() -> None:
    legacy = [
        {"device_name": "vdb", "volume_id": "vol-data"},
        {"device_name": "sda1", "snapshot_id": "snap-root"},
    ]
    properties = {"block_device_mapping": json.dumps(legacy), "mappings": MAPPINGS}

    data, root = image_defined_devices(properties)

    assert (root.uuid, root.boot_index, data.boot_index) == ("snap-root", 0, -1)
    # the image's root_device_name comes first, as in Nova
    named = image_defined_devices({**properties, "root_device_name": "vdb"})
    assert [(d.uuid, d.boot_index) for d in named] == [("vol-data", 0), ("snap-root", -1)]


def test_an_image_mapping_onto_a_mapped_device_replaces_the_flavors_disk_there() -> None:
    legacy = [{"device_name": "/dev/vdb", "volume_id": "vol-data"}]
    properties = {
        "block_device_mapping": json.dumps(legacy),
        "mappings": MAPPINGS,
        "root_device_name": "/dev/vda",
    }

    defined = image_defined_devices(properties, ephemeral_gb=1, swap_mb=512)

    assert [(d.device_name, d.destination_type) for d in defined] == [
        ("/dev/vdb", "volume"), ("/dev/vdc", "local")]  # fmt: skip


@pytest.mark.parametrize(
    "mappings",
    ["not json", json.dumps({"virtual": "swap"}), json.dumps(["swap"]),
     json.dumps([{"virtual": "ephemeral0"}]), json.dumps([{"device": "vdb"}])],
    ids=["not-json", "not-a-list", "not-an-object", "no-device", "no-virtual-name"],
)  # fmt: skip
def test_broken_mappings_are_a_400_that_names_the_property(mappings: str) -> None:
    with pytest.raises(BadRequest, match="the image's mappings property"):
        image_defined_devices({"mappings": mappings}, ephemeral_gb=1)


def test_a_device_name_ending_in_a_newline_is_a_400_that_names_the_property() -> None:
    """Any user may set an image's properties; the name is matched whole (``$`` alone took
    ``vdb`` and a newline)."""
    with pytest.raises(BadRequest, match="root_device_name"):
        image_root_device({"root_device_name": "/dev/vdb\n"})
    mappings = json.dumps([{"virtual": "swap", "device": "vdc\n"}])
    with pytest.raises(BadRequest, match="the image's mappings property"):
        image_defined_devices({"mappings": mappings}, ephemeral_gb=1, swap_mb=1)


FLAGS = [("false", False), ("0", False), ("no", False), ("true", True), ("1", True), (True, True)]


@pytest.mark.parametrize(("given", "deleted"), FLAGS)
def test_delete_on_termination_is_read_as_nova_reads_it(given: object, deleted: bool) -> None:
    """Nova reads it with ``bool_from_string``: the string "false" keeps the volume (it was
    truthy here, and the server's deletion deleted the volume)."""
    entry = {"source_type": "blank", "destination_type": "volume", "volume_size": 1,
             "boot_index": -1, "delete_on_termination": given}  # fmt: skip
    legacy = json.dumps([{**entry, "volume_id": "v"}])
    v2 = json.dumps([entry])
    for properties in (
        {"block_device_mapping": v2, "bdm_v2": "True"},
        {"block_device_mapping": legacy},
    ):
        [device] = image_defined_devices(properties)
        assert device.delete_on_termination is deleted
