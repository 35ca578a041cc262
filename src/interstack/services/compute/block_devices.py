"""A server create's block device mappings, checked as Nova checks them and turned into what the
server boots from: an image, or a root volume (Nova's boot from volume), plus data volumes.

Only mappings with a volume destination (and the image -> local root disk) mean something
here; local ephemeral and swap disks come with the flavor and are not mapped separately.
"""

from __future__ import annotations

import string
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from interstack.errors import BadRequest
from interstack.services.interfaces import VolumeForBoot

SourceType = Literal["image", "volume", "snapshot", "blank"]
DestinationType = Literal["local", "volume"]
ROOT_DEVICE = "/dev/vda"

BOOT_SEQUENCE = (
    "Block Device Mapping is Invalid: Boot sequence for the instance and image/block device "
    "mapping combination is not valid."
)


@dataclass(frozen=True)
class BlockDevice:
    """One ``block_device_mapping_v2`` entry (or a legacy one, translated), validated by the
    API layer's schema; ``boot_index`` None (or negative) means "not bootable"."""

    source_type: SourceType
    destination_type: DestinationType
    uuid: str | None = None
    boot_index: int | None = None
    volume_size: int | None = None
    delete_on_termination: bool = False
    device_name: str | None = None
    volume_type: str | None = None
    tag: str | None = None


@dataclass(frozen=True)
class BootDisks:
    """What a server boots from: ``image_id`` (an image) or a root in ``volumes``."""

    image_id: str | None
    volumes: tuple[VolumeForBoot, ...] = ()

    @property
    def root(self) -> VolumeForBoot | None:
        return next((v for v in self.volumes if v.root), None)


def device_path(name: str | None) -> str | None:
    """Nova's device names: ``vdb`` and ``/dev/vdb`` are the same device."""
    if not name:
        return None
    return name if name.startswith("/dev/") else f"/dev/{name}"


def _check_sequence(indexes: Sequence[int]) -> None:
    if sorted(indexes) != list(range(len(indexes))) or not indexes:
        raise BadRequest(BOOT_SEQUENCE)


def _check_size(device: BlockDevice) -> None:
    if device.volume_size:
        return
    if device.source_type == "image":
        raise BadRequest(
            "Block Device Mapping is Invalid: Images with destination_type 'volume' need to "
            "have a non-zero size specified (volume_size)."
        )
    if device.source_type == "blank":
        raise BadRequest(
            "Block Device Mapping is Invalid: Blank volumes (source: 'blank', dest: 'volume') "
            "need to have non-zero size (volume_size)."
        )


def boot_disks(image_ref: str | None, devices: Sequence[BlockDevice], count: int) -> BootDisks:
    """Check the mappings (Nova's 400s) and say what the server boots from.

    ``image_ref`` is the create's ``imageRef`` (None when empty). Without one, the mapping of
    ``boot_index`` 0 is the root: an image for a local disk, or a volume.
    """
    if image_ref is None and not devices:
        raise BadRequest("Missing imageRef attribute")
    bootable = [d for d in devices if d.boot_index is not None and d.boot_index >= 0]
    root = next((d for d in bootable if d.boot_index == 0), None)
    indexes = [d.boot_index for d in bootable if d.boot_index is not None]
    if image_ref is not None and root is None:
        indexes.append(0)  # the image is the first boot device
    _check_sequence(indexes)
    volumes = [d for d in devices if d.destination_type == "volume"]
    if count > 1 and any(d.source_type == "volume" for d in volumes):
        raise BadRequest("Cannot attach one or more volumes to multiple instances")
    root_is_volume = root is not None and root.destination_type == "volume"
    if root_is_volume:
        image_id = None
    elif image_ref is not None:
        image_id = image_ref
    elif root is not None and root.source_type == "image" and root.uuid:
        image_id = root.uuid
    else:
        raise BadRequest(BOOT_SEQUENCE)
    taken: set[str] = set() if root_is_volume else {ROOT_DEVICE}
    planned: list[VolumeForBoot] = []
    # the root first: it takes /dev/vda unless it names another device
    for device in sorted(volumes, key=lambda d: d is not root):
        _check_size(device)
        if device.source_type != "blank" and not device.uuid:
            raise BadRequest(
                f"Block Device Mapping is Invalid: a '{device.source_type}' mapping needs "
                "the uuid of its source."
            )
        path = _device(device, root_is_volume and device is root, taken)
        taken.add(path)
        planned.append(
            VolumeForBoot(
                source=device.source_type,
                source_id=device.uuid if device.source_type != "blank" else None,
                device=path,
                size_gb=device.volume_size or None,
                volume_type=device.volume_type,
                delete_on_termination=device.delete_on_termination,
                root=root_is_volume and device is root,
                tag=device.tag,
            )
        )
    return BootDisks(image_id=image_id, volumes=tuple(planned))


def _device(device: BlockDevice, is_root: bool, taken: set[str]) -> str:
    requested = device_path(device.device_name)
    if is_root:
        return requested or ROOT_DEVICE
    if requested is not None:
        if requested in taken:
            raise BadRequest(
                f"The volume cannot be assigned the same device name as the root device "
                f"{ROOT_DEVICE}"
                if requested == ROOT_DEVICE
                else f"The supplied device path ({requested}) is in use."
            )
        return requested
    for letter in string.ascii_lowercase[1:]:
        candidate = f"/dev/vd{letter}"
        if candidate not in taken:
            return candidate
    raise BadRequest("No free device name is left for the server's volumes.")
