"""A server's ephemeral and swap disks as Nova plans them: the flavor's own where no mapping
replaces them, the mappings' otherwise, each at a device after the root (ephemeral disks
first, then swap), volumes named automatically after them; and the EC2 metadata's
block-device-mapping announcing them, which is how cloud-init finds ephemeral0."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from interstack.backends.contract import LocalDisk
from interstack.errors import BadRequest
from interstack.metadata import ec2
from interstack.services.compute.block_devices import BlockDevice, boot_disks, check_local_disks
from interstack.services.compute.image_block_devices import image_defined_devices
from interstack.services.compute.local_disks import (
    loaded,
    local_disks,
    stored,
    with_local_disks,
)
from tests.unit.test_metadata_formats import INSTANCE


def _plan(devices: tuple[BlockDevice, ...], ephemeral_gb: int, swap_mb: int) -> list[LocalDisk]:
    named = with_local_disks(devices, ephemeral_gb=ephemeral_gb, swap_mb=swap_mb)
    return list(local_disks(named, ephemeral_gb=ephemeral_gb, swap_mb=swap_mb))


def _blank(size: int | None = None, **more: object) -> BlockDevice:
    return BlockDevice(
        source_type="blank", destination_type="local", boot_index=-1, volume_size=size,
        **more,  # type: ignore[arg-type]
    )  # fmt: skip


def test_the_flavors_disks_follow_the_root_ephemeral_first() -> None:
    assert _plan((), 2, 512) == [
        LocalDisk("ephemeral0", "/dev/vdb", 2048, "ext4"),
        LocalDisk("swap", "/dev/vdc", 512, "swap"),
    ]
    assert _plan((), 0, 256) == [LocalDisk("swap", "/dev/vdb", 256, "swap")]
    assert _plan((), 0, 0) == []


def test_mapped_disks_replace_the_flavors_own_and_keep_their_names_and_formats() -> None:
    mapped = (
        _blank(1, guest_format="ext3"),
        _blank(device_name="vdf"),  # no size: the flavor's
        _blank(128, guest_format="swap", device_name="/dev/vdd"),
    )
    assert _plan(mapped, 4, 512) == [
        LocalDisk("ephemeral0", "/dev/vdb", 1024, "ext3"),
        LocalDisk("ephemeral1", "/dev/vdf", 4096, "ext4"),
        LocalDisk("swap", "/dev/vdd", 128, "swap"),
    ]


def test_a_volume_named_automatically_takes_the_device_after_the_local_disks() -> None:
    volume = BlockDevice(source_type="blank", destination_type="volume", volume_size=1)
    named = with_local_disks((volume,), ephemeral_gb=1, swap_mb=64)

    disks = boot_disks("image-1", named, 1)

    assert [v.device for v in disks.volumes] == ["/dev/vdd"]


def test_a_local_disk_named_automatically_skips_the_images_root_device() -> None:
    """An image whose root device name is ``/dev/vdb`` boots there: the flavor's ephemeral
    disk takes ``/dev/vdc``, and ``/dev/vda`` stays unnamed as ever."""
    named = with_local_disks((), ephemeral_gb=1, swap_mb=0, root_device="vdb")

    assert [d.device_name for d in named] == ["/dev/vdc"]


def test_a_local_disk_named_automatically_follows_a_root_volume_at_the_images_root() -> None:
    """A root volume whose mapping names no device is at the boot image's root device
    (``/dev/sda``): the flavor's ephemeral disk takes the next name with its prefix."""
    root = BlockDevice("image", "volume", uuid="img", boot_index=0, volume_size=1)
    named = with_local_disks((root,), ephemeral_gb=1, swap_mb=0, root_device="/dev/sda")

    assert [d.device_name for d in named if d.destination_type == "local"] == ["/dev/sdb"]


def test_the_row_keeps_what_the_plan_made() -> None:
    plan = _plan((), 1, 64)
    assert loaded(stored(plan)) == tuple(plan)


def test_ec2_metadata_announces_the_disks_by_their_virtual_names() -> None:
    instance = replace(INSTANCE, local_disks=(("ephemeral0", "/dev/vdb"), ("swap", "/dev/vdc")))
    mapping = ec2.find(ec2.tree(instance, "2009-04-04"), ["meta-data", "block-device-mapping"])
    assert isinstance(mapping, ec2.Directory)
    assert mapping.entries == {
        "ami": "vda",
        "root": "/dev/vda",
        "ephemeral0": "/dev/vdb",
        "swap": "/dev/vdc",
    }
    assert ec2.render(mapping).splitlines() == ["ami", "ephemeral0", "root", "swap"]
    plain = ec2.find(ec2.tree(INSTANCE, "2009-04-04"), ["meta-data", "block-device-mapping"])
    assert isinstance(plain, ec2.Directory) and set(plain.entries) == {"ami", "root"}


def test_a_volume_at_a_named_device_keeps_it_and_the_flavors_disks_take_the_next() -> None:
    volume = BlockDevice(
        source_type="blank", destination_type="volume", volume_size=1, device_name="/dev/vdb"
    )
    named = with_local_disks((volume,), ephemeral_gb=1, swap_mb=64)

    assert [d.device for d in local_disks(named, ephemeral_gb=1, swap_mb=64)] == [
        "/dev/vdc",
        "/dev/vdd",
    ]
    assert [v.device for v in boot_disks("image-1", named, 1).volumes] == ["/dev/vdb"]


@pytest.mark.parametrize("bdm_v2", [False, True], ids=["legacy", "bdm-v2"])
def test_an_images_disk_of_negative_size_grows_no_other_past_the_flavor(bdm_v2: bool) -> None:
    """Anyone may upload an image with mappings: ephemeral0 of -1000 GB beside ephemeral1 of
    1010 GB sums to the flavor's 10 GB, and ephemeral1 would be a 1010 GB disk on the host.
    A size below 0 is Nova's 400, before any disk is planned."""
    sizes = {"vdb": -1000, "vdc": 1010}
    if bdm_v2:
        entries = [
            {"source_type": "blank", "destination_type": "local", "device_name": device,
             "volume_size": size, "boot_index": -1}
            for device, size in sizes.items()
        ]  # fmt: skip
    else:
        entries = [
            {"virtual_name": f"ephemeral{index}", "device_name": device, "volume_size": size}
            for index, (device, size) in enumerate(sizes.items())
        ]
    properties = {"block_device_mapping": json.dumps(entries), "bdm_v2": str(bdm_v2)}

    with pytest.raises(BadRequest, match="volume_size -1000 is below 0"):
        devices = with_local_disks(
            image_defined_devices(properties, ephemeral_gb=10), ephemeral_gb=10, swap_mb=0
        )
        check_local_disks(devices, boot_disks("image-1", devices, 1), ephemeral_gb=10, swap_mb=0)
        local_disks(devices, ephemeral_gb=10, swap_mb=0)  # 1010 GB: what the check must stop


@pytest.mark.parametrize(
    ("mapped", "root_device"),
    [((_blank(1, device_name="vda"),), "vda"),
     ((_blank(1, device_name="/dev/vdb"),), "/dev/vdb"),
     ((_blank(1, device_name="vdb"), _blank(64, guest_format="swap", device_name="vdb")), "vda"),
     ((_blank(1, device_name="vdc"),
       BlockDevice(source_type="blank", destination_type="volume", volume_size=1,
                   device_name="/dev/vdc")), "vda")],
    ids=["at-vda", "at-the-images-root", "two-at-one-device", "at-a-volumes-device"],
)  # fmt: skip
def test_a_local_disk_at_a_device_taken_already_is_novas_400(
    mapped: tuple[BlockDevice, ...], root_device: str
) -> None:
    """Two disks at one device, or one at the root's, would reach the backend once the create
    was accepted (the local backend refuses /dev/vda there: the server went to ERROR)."""
    with pytest.raises(BadRequest, match=r"The supplied device path \(/dev/vd[abc]\) is in use"):
        with_local_disks(mapped, ephemeral_gb=1, swap_mb=64, root_device=root_device)


def test_a_local_disk_may_be_at_vda_where_the_root_is_elsewhere() -> None:
    """An image whose root device is ``/dev/sda`` leaves ``/dev/vda`` free: a mapping may put
    its ephemeral disk there (the local backend gives it), and the swap disk follows the root."""
    named = with_local_disks(
        (_blank(1, device_name="vda"),), ephemeral_gb=1, swap_mb=64, root_device="/dev/sda"
    )
    assert [d.device_name for d in named] == ["vda", "/dev/sdb"]
