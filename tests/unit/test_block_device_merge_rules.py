"""Nova's rules for a create's mappings over the ones its image defines: the merge
(``_merge_bdms_lists`` and the client's image root dropped where the image holds the boot
device), ``no_device`` entries, an image's legacy swap and ephemeral entries held to the
flavor, the image's root device name, and an image entry without ``destination_type``."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace

import pytest

from interstack.api.compute.block_devices import block_devices
from interstack.api.compute.schemas.servers import NewServer
from interstack.errors import BadRequest
from interstack.metadata import ec2
from interstack.services.compute.block_devices import (
    BOOT_SEQUENCE,
    BlockDevice,
    boot_disks,
    check_local_disks,
    no_device,
)
from interstack.services.compute.image_block_devices import (
    image_defined_devices,
    image_mapping_properties,
    merge_image_devices,
)
from interstack.services.interfaces import VolumeSnapshotForImage
from tests.unit.test_metadata_formats import INSTANCE

ROOT = VolumeSnapshotForImage("snap-root", "/dev/vda", 3, 0, True)
DATA = VolumeSnapshotForImage("snap-data", "/dev/vdb", 5, None, False)
#: the entry openstacksdk's cloud layer and the ``openstack`` CLI add for ``--image``
CLIENT_IMAGE_ROOT = BlockDevice("image", "local", uuid="img", boot_index=0)


def volume_backed() -> tuple[BlockDevice, ...]:
    return image_defined_devices(image_mapping_properties([ROOT, DATA]))


# -- the merge ------------------------------------------------------------------------------


def test_the_images_boot_device_wins_over_the_image_root_a_client_adds() -> None:
    blank = BlockDevice("blank", "volume", volume_size=1)

    merged = merge_image_devices(volume_backed(), [CLIENT_IMAGE_ROOT, blank])

    disks = boot_disks(None, merged, 1)
    assert disks.root is not None and disks.root.source_id == "snap-root"
    assert [(v.source_id, v.device) for v in disks.volumes] == [
        ("snap-root", "/dev/vda"), (None, "/dev/vdc"), ("snap-data", "/dev/vdb")]  # fmt: skip


def test_an_image_without_a_boot_device_keeps_the_requests_image_root() -> None:
    mapped = image_defined_devices(
        {"block_device_mapping": json.dumps([{"device_name": "vdb", "volume_id": "v"}])}
    )

    assert merge_image_devices(mapped, [CLIENT_IMAGE_ROOT]) == (CLIENT_IMAGE_ROOT, *mapped)


def test_a_second_boot_device_beside_the_images_is_novas_boot_sequence_400() -> None:
    own_root = BlockDevice("volume", "volume", uuid="mine", boot_index=0)

    merged = merge_image_devices(volume_backed(), [own_root])

    with pytest.raises(BadRequest) as refused:
        boot_disks(None, merged, 1)
    assert refused.value.message == BOOT_SEQUENCE


def test_no_device_takes_the_images_mapping_at_its_device_away() -> None:
    merged = merge_image_devices(volume_backed(), [no_device("/dev/vdb"), no_device(None)])

    disks = boot_disks(None, merged, 1)
    assert [v.source_id for v in disks.volumes] == ["snap-root"]
    # a no_device is no disk of any kind
    check_local_disks(merged, disks, ephemeral_gb=0, swap_mb=0)


def test_no_device_in_an_image_hides_the_flavors_disk_its_mappings_place() -> None:
    mappings = json.dumps([{"virtual": "ephemeral0", "device": "vdb"}])
    legacy = json.dumps([{"device_name": "vdb", "no_device": True}])
    v2 = json.dumps([{"device_name": "/dev/vdb", "no_device": True}])

    for mapping, v2_flag in ((legacy, "False"), (v2, "True")):
        properties = {"mappings": mappings, "block_device_mapping": mapping, "bdm_v2": v2_flag}
        [nothing] = image_defined_devices(properties, ephemeral_gb=1)
        assert (nothing.source_type, nothing.destination_type) == (None, None)


def test_a_volume_named_automatically_skips_every_device_a_mapping_names() -> None:
    """The request's mappings come first; a volume of it without a name still leaves the
    image's named ones their devices."""
    unnamed = BlockDevice("blank", "volume", volume_size=1)

    disks = boot_disks(None, merge_image_devices(volume_backed(), [unnamed]), 1)

    assert sorted(v.device for v in disks.volumes) == ["/dev/vda", "/dev/vdb", "/dev/vdc"]


# -- an image's legacy swap and ephemeral entries count against the flavor --------------------


def legacy_image(*entries: Mapping[str, object]) -> tuple[BlockDevice, ...]:
    return image_defined_devices({"block_device_mapping": json.dumps(list(entries))})


def check(devices: tuple[BlockDevice, ...], *, ephemeral_gb: int, swap_mb: int) -> None:
    check_local_disks(
        devices, boot_disks("img", devices, 1), ephemeral_gb=ephemeral_gb, swap_mb=swap_mb
    )


def test_an_images_legacy_ephemeral_and_swap_entries_are_held_to_the_flavor() -> None:
    ephemeral = {"device_name": "vdb", "virtual_name": "ephemeral0", "volume_size": "3"}
    swap = {"device_name": "vdc", "virtual_name": "swap", "volume_size": 1024}

    [disk] = legacy_image(ephemeral)
    assert (disk.source_type, disk.destination_type, disk.volume_size) == ("blank", "local", 3)
    with pytest.raises(BadRequest, match="Ephemeral disks requested are larger"):
        check(legacy_image(ephemeral), ephemeral_gb=2, swap_mb=0)
    check(legacy_image(ephemeral), ephemeral_gb=3, swap_mb=0)
    with pytest.raises(BadRequest, match="Swap drive requested is larger"):
        check(legacy_image(swap), ephemeral_gb=0, swap_mb=512)
    check(legacy_image(swap), ephemeral_gb=0, swap_mb=1024)
    # the image's swap and the request's, at two devices: two swap disks
    request_swap = BlockDevice("blank", "local", volume_size=1, device_name="vdd",
                               guest_format="swap")  # fmt: skip
    with pytest.raises(BadRequest, match="More than one swap drive requested"):
        check(merge_image_devices(legacy_image(swap), [request_swap]), ephemeral_gb=0,
              swap_mb=1024)  # fmt: skip


def test_a_requests_entry_at_the_same_device_replaces_the_images_ephemeral_entry() -> None:
    ephemeral = {"device_name": "vdb", "virtual_name": "ephemeral0", "volume_size": 3}
    smaller = BlockDevice("blank", "local", volume_size=1, device_name="/dev/vdb")

    check(merge_image_devices(legacy_image(ephemeral), [smaller]), ephemeral_gb=1, swap_mb=0)


# -- the image's root device name --------------------------------------------------------------


def test_a_volume_cannot_take_the_images_root_device_but_may_take_vda_when_that_is_free() -> None:
    at_sda = BlockDevice("blank", "volume", volume_size=1, device_name="sda")
    at_vda = BlockDevice("blank", "volume", volume_size=1, device_name="vda")
    unnamed = BlockDevice("blank", "volume", volume_size=1)

    with pytest.raises(BadRequest) as refused:
        boot_disks("img", [at_sda], 1, root_device="/dev/sda")
    assert refused.value.message == (
        "The volume cannot be assigned the same device name as the root device /dev/sda"
    )
    disks = boot_disks("img", [at_vda, unnamed], 1, root_device="sda")
    # one named automatically takes the root's prefix, as Nova names it
    assert [v.device for v in disks.volumes] == ["/dev/vda", "/dev/sdb"]
    with pytest.raises(BadRequest, match="root device /dev/vda"):
        boot_disks("img", [at_vda], 1)


def test_the_server_keeps_the_device_its_root_is_at() -> None:
    """Nova's ``root_device_name``: the image's, else ``/dev/vda``; a root volume's device."""
    at_sdb = BlockDevice("volume", "volume", uuid="v", boot_index=0, device_name="sdb")

    assert boot_disks("img", [], 1, root_device="sda").root_device == "/dev/sda"
    assert boot_disks("img", [], 1).root_device == "/dev/vda"
    assert boot_disks(None, [at_sdb], 1, root_device="/dev/sda").root_device == "/dev/sdb"
    assert boot_disks(None, volume_backed(), 1).root_device == "/dev/vda"


def test_a_root_volume_naming_no_device_is_at_the_boot_images_root_device() -> None:
    """Nova's ``_default_block_device_names``: a root mapping without a device name takes the
    instance's ``root_device_name``, the boot image's; volumes named automatically follow it."""
    root = BlockDevice("image", "volume", uuid="img", boot_index=0, volume_size=1)
    data = BlockDevice("blank", "volume", volume_size=1)

    disks = boot_disks(None, [root, data], 1, root_device="sda")

    assert disks.root_device == "/dev/sda"
    assert [(v.root, v.device) for v in disks.volumes] == [(True, "/dev/sda"), (False, "/dev/sdb")]
    assert boot_disks(None, [root], 1).root_device == "/dev/vda"


def test_ec2_metadata_names_the_root_where_it_is() -> None:
    instance = replace(INSTANCE, root_device="/dev/sda")

    mapping = ec2.find(ec2.tree(instance, "2009-04-04"), ["meta-data", "block-device-mapping"])

    assert isinstance(mapping, ec2.Directory)
    assert mapping.entries == {"ami": "sda", "root": "/dev/sda"}


# -- an image entry without destination_type (the API's translation) --------------------------


def translated(image_ref: str, *entries: dict[str, object]) -> tuple[BlockDevice, ...]:
    new = NewServer.model_validate(
        {
            "name": "s",
            "imageRef": image_ref,
            "flavorRef": "1",
            "block_device_mapping_v2": list(entries),
        }
    )
    return block_devices(new, bool(image_ref))


def test_an_image_entry_without_destination_is_no_disk() -> None:
    [other] = translated("img", {"source_type": "image", "uuid": "other", "boot_index": -1})
    [root] = translated("img", {"source_type": "image", "uuid": "img", "boot_index": 0})

    assert (other.source_type, other.destination_type) == ("image", None)
    disks = boot_disks("img", [root, other], 1)
    assert (disks.image_id, disks.volumes) == ("img", ())
    # Nova counts local mappings only: this root is none, nor is the image counted for it
    extra = [BlockDevice("blank", "local", volume_size=1, device_name=f"vd{x}") for x in "bcd"]
    check_local_disks([root, *extra], disks, ephemeral_gb=3, swap_mb=0)


def test_an_image_entry_without_destination_cannot_boot_without_an_imageref() -> None:
    with pytest.raises(BadRequest) as refused:
        translated("", {"source_type": "image", "uuid": "img", "boot_index": 0})
    assert "destination_type 'volume' and a volume_size" in refused.value.message
    assert "give it as imageRef" in refused.value.message


def test_no_device_entries_of_both_formats_are_kept() -> None:
    [v2] = translated("img", {"no_device": True, "device_name": "vdb"})
    new = NewServer.model_validate(
        {
            "name": "s",
            "imageRef": "img",
            "flavorRef": "1",
            "block_device_mapping": [{"device_name": "vdc", "no_device": True}],
        }
    )
    [legacy] = block_devices(new, True)

    assert (v2.source_type, v2.device_name) == (None, "vdb")
    assert (legacy.source_type, legacy.device_name) == (None, "vdc")
