"""A server create's block device mappings, checked as Nova checks them and turned into what the
server boots from: an image, or a root volume (Nova's boot from volume), plus data volumes.

Mappings with a volume destination (and the image -> local root disk) become disks here. Blank
local mappings are the flavor's ephemeral and swap disks: Nova's checks hold them to the
flavor's sizes (:func:`check_local_disks`), and a backend gives them only if it declares
``ephemeral_disks``. The mappings an image defines, merged under the request's, are
:mod:`.image_block_devices`'.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from interstack.backends.contract import LocalDisk
from interstack.errors import BadRequest
from interstack.services.compute.device_names import is_under_dev, next_device_name
from interstack.services.interfaces import VolumeForBoot

SourceType = Literal["image", "volume", "snapshot", "blank"]
DestinationType = Literal["local", "volume"]
ROOT_DEVICE = "/dev/vda"
#: a blank local disk's ``guest_format`` when it is the swap disk (else an ephemeral disk)
SWAP_FORMAT = "swap"
#: Nova's ``max_local_block_devices`` (its default): local disks a server may have, the image
#: it boots from, its ephemeral and swap disks, requested or the flavor's, counted
MAX_LOCAL_DISKS = 3

BOOT_SEQUENCE = (
    "Block Device Mapping is Invalid: Boot sequence for the instance and image/block device "
    "mapping combination is not valid."
)


@dataclass(frozen=True)
class BlockDevice:
    """One ``block_device_mapping_v2`` entry (or a legacy one, translated), validated by the
    API layer's schema; ``boot_index`` None (or negative) means "not bootable".

    As in Nova, an entry may have no destination: a ``no_device`` one (no source either) says
    that nothing is at its ``device_name``, which removes an image's mapping there; an image
    without ``destination_type`` is neither a local disk nor a volume (the imageRef's root
    when it boots, else nothing)."""

    source_type: SourceType | None
    destination_type: DestinationType | None
    uuid: str | None = None
    boot_index: int | None = None
    volume_size: int | None = None
    delete_on_termination: bool = False
    device_name: str | None = None
    volume_type: str | None = None
    tag: str | None = None
    #: ``swap`` for a swap disk (a blank local disk), as Nova marks one
    guest_format: str | None = None


@dataclass(frozen=True)
class BootDisks:
    """What a server boots from: ``image_id`` (an image) or a root in ``volumes``."""

    image_id: str | None
    volumes: tuple[VolumeForBoot, ...] = ()
    #: the device its root is at (Nova's ``root_device_name``): the root volume's, or the
    #: image's root device name
    root_device: str = ROOT_DEVICE

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


def blank_local(
    size: int | None, guest_format: str | None, device_name: str | None = None
) -> BlockDevice:
    """Nova's ``create_blank_bdm``: an ephemeral disk (``guest_format`` ``swap``: the swap
    disk) of ``size`` (GB; MB for swap; None: the flavor's) at ``device_name`` or unnamed."""
    return BlockDevice(
        source_type="blank",
        destination_type="local",
        boot_index=-1,
        volume_size=size,
        delete_on_termination=True,
        device_name=device_name,
        guest_format=guest_format,
    )


def no_device(device_name: str | None, boot_index: int | None = None) -> BlockDevice:
    """Nova's ``no_device`` entry: nothing at ``device_name`` (an image's mapping there goes)."""
    return BlockDevice(None, None, device_name=device_name, boot_index=boot_index)


def legacy_device(
    *,
    virtual_name: str | None,
    snapshot_id: str | None,
    volume_id: str | None,
    no_device_: bool | None,
    device_name: str | None,
    volume_size: int | None,
    delete_on_termination: bool,
) -> BlockDevice | None:
    """Nova's ``from_legacy``, for a request's legacy entry and an image's alike: ``swap`` and
    ``ephemeralN`` virtual names are the flavor's blank local disks, then a snapshot or a
    volume (a volume destination), then ``no_device``; None for an entry of none of these
    (each caller says why it is wrong). Which entry boots is :func:`legacy_boot_order`'s."""
    if virtual_name is not None and is_flavor_disk_name(virtual_name):
        guest_format = SWAP_FORMAT if virtual_name == "swap" else None
        return blank_local(volume_size, guest_format, device_name)
    if snapshot_id or volume_id:
        return BlockDevice(
            source_type="snapshot" if snapshot_id else "volume",
            destination_type="volume",
            uuid=snapshot_id or volume_id,
            boot_index=-1,
            volume_size=volume_size,
            delete_on_termination=delete_on_termination,
            device_name=device_name,
        )
    if no_device_:
        return no_device(device_name)
    return None


def boot_disks(
    image_ref: str | None,
    devices: Sequence[BlockDevice],
    count: int,
    *,
    root_device: str = ROOT_DEVICE,
) -> BootDisks:
    """Check the mappings (Nova's 400s) and say what the server boots from.

    ``image_ref`` is the create's ``imageRef`` (None when empty). Without one, the mapping of
    ``boot_index`` 0 is the root: an image for a local disk, or a volume. ``root_device`` is
    the boot image's root device name, as Nova reads it: where the root of an image boot is
    (no volume takes that device, and one may name ``/dev/vda`` if it is another), and where a
    root volume whose mapping names no device is. A volume named
    automatically takes the next free name with the server's root device's prefix
    (:mod:`.device_names`: ``/dev/sdb`` after a root at ``/dev/sda``).
    """
    if image_ref is None and not devices:
        raise BadRequest("Missing imageRef attribute")
    for name in (root_device, *(d.device_name for d in devices)):
        if name and not is_under_dev(name):
            raise BadRequest(
                f"Block Device Mapping is Invalid: {name} is not the name of a device under "
                "/dev (such as /dev/vdb)."
            )
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
    # Nova's root_device_name: the boot image's, where a mapping names none (a root volume's too)
    default_root = device_path(root_device) or ROOT_DEVICE
    image_root = None if root_is_volume else default_root
    taken: set[str] = set() if image_root is None else {image_root}
    # the devices mappings name (the flavor's disks at the names an image gives them, too) are
    # not for a volume named automatically, whichever comes first
    named = {
        path
        for d in devices
        if d.destination_type is not None and (path := device_path(d.device_name)) is not None
    }
    planned: list[VolumeForBoot] = []
    # the device the server's root is at, whose prefix the names made for the others take
    server_root = image_root or ROOT_DEVICE
    # the root first: it takes /dev/vda unless it names another device
    for device in sorted(volumes, key=lambda d: d is not root):
        _check_size(device)
        source = device.source_type
        if source is None or (source != "blank" and not device.uuid):
            raise BadRequest(
                f"Block Device Mapping is Invalid: a '{source}' mapping needs the uuid of its "
                "source."
            )
        is_root = root_is_volume and device is root
        path = _device(device, is_root, taken, named, image_root, server_root, default_root)
        if is_root:
            server_root = path
        taken.add(path)
        planned.append(
            VolumeForBoot(
                source=source,
                source_id=device.uuid if device.source_type != "blank" else None,
                device=path,
                size_gb=device.volume_size or None,
                volume_type=device.volume_type,
                delete_on_termination=device.delete_on_termination,
                root=root_is_volume and device is root,
                tag=device.tag,
            )
        )
    root_volume = next((v for v in planned if v.root), None)
    root_device = root_volume.device if root_volume is not None else image_root or ROOT_DEVICE
    return BootDisks(image_id=image_id, volumes=tuple(planned), root_device=root_device)


def check_backend_device_names(
    disks: BootDisks, local: Sequence[LocalDisk], refusal: Callable[[str], str | None]
) -> None:
    """The create's 400 where the backend refuses a name the server's disks are to be at (its
    root, its volumes, its local disks: ``ComputeDriver.device_name_refusal``), before
    anything exists — Nova's hypervisor fails such a name at the build."""
    for name in (disks.root_device, *(v.device for v in disks.volumes), *(d.device for d in local)):
        if (problem := refusal(name)) is not None:
            raise BadRequest(f"Block Device Mapping is Invalid: {problem}")


def _device(
    device: BlockDevice,
    is_root: bool,
    taken: set[str],
    named: set[str],
    image_root: str | None,
    server_root: str,
    default_root: str,
) -> str:
    """The device of a volume at boot: the root's (``default_root``, the boot image's root
    device name, unless it names another), the one it names if free, else the next free one
    after ``server_root`` with its prefix."""
    requested = device_path(device.device_name)
    if is_root:
        return requested or default_root
    if requested is not None:
        if requested in taken:
            raise BadRequest(
                f"The volume cannot be assigned the same device name as the root device "
                f"{image_root}"
                if requested == image_root
                else f"The supplied device path ({requested}) is in use."
            )
        return requested
    free = next_device_name(server_root, taken | named)
    if free is None:
        raise BadRequest("No free device name is left for the server's volumes.")
    return free


# -- the flavor's local disks: ephemeral and swap ----------------------------------------------


def is_swap(device: BlockDevice) -> bool:
    return (
        device.source_type == "blank"
        and device.destination_type == "local"
        and device.guest_format == SWAP_FORMAT
    )


def is_ephemeral(device: BlockDevice) -> bool:
    return (
        device.source_type == "blank"
        and device.destination_type == "local"
        and device.guest_format != SWAP_FORMAT
    )


def check_local_disks(
    devices: Sequence[BlockDevice], disks: BootDisks, *, ephemeral_gb: int, swap_mb: int
) -> None:
    """Nova's 400s for a boot's blank local disks (``devices``: the request's mappings over
    the image's; ``disks``: what :func:`boot_disks` made of them): ephemeral disks no larger
    in sum than the flavor's ``ephemeral_gb`` (one without a size takes that whole size), at
    most one swap disk, no larger than the flavor's swap (MB), and at most
    :data:`MAX_LOCAL_DISKS` local disks in all: the image the server boots from, the mapped
    ones, and the flavor's own ephemeral or swap disk where no mapping replaces it."""
    ephemeral = [d for d in devices if is_ephemeral(d)]
    if sum(d.volume_size or ephemeral_gb for d in ephemeral) > ephemeral_gb:
        raise BadRequest(
            "Ephemeral disks requested are larger than the instance type allows. If no size "
            f"is given in one block device mapping, flavor ephemeral size will be used "
            f"(the flavor has {ephemeral_gb} GB)."
        )
    swaps = [d for d in devices if is_swap(d)]
    if len(swaps) > 1:
        raise BadRequest("Block Device Mapping is Invalid: More than one swap drive requested.")
    if swaps and (swaps[0].volume_size or 0) > swap_mb:
        raise BadRequest(
            "Swap drive requested is larger than instance type allows "
            f"(the flavor's swap is {swap_mb} MB)."
        )
    # the image a server boots from is a local disk where no mapping boots; Nova counts only
    # local mappings, so an image mapping without destination_type that boots counts none
    image_root = disks.image_id is not None and not any(d.boot_index == 0 for d in devices)
    flavor_disks = (ephemeral_gb > 0 and not ephemeral) + (swap_mb > 0 and not swaps)
    local = sum(d.destination_type == "local" for d in devices) + image_root + flavor_disks
    if local > MAX_LOCAL_DISKS:
        raise BadRequest(
            "Block Device Mapping is Invalid: You specified more local devices than the "
            f"limit allows ({MAX_LOCAL_DISKS}: the image, ephemeral and swap disks)."
        )


def requested_local_disks(devices: Sequence[BlockDevice]) -> bool:
    """Whether a request maps ephemeral or swap disks (blank local ones) of its own."""
    return any(is_ephemeral(d) or is_swap(d) for d in devices)


#: Nova's virtual name of an ephemeral disk: ``ephemeral0``, ``ephemeral1``, ...
_EPHEMERAL = re.compile(r"^ephemeral(\d|[1-9]\d+)$")


def is_flavor_disk_name(virtual_name: str) -> bool:
    """Whether a legacy ``virtual_name`` names a disk the flavor brings (``swap``,
    ``ephemeralN``), not a volume."""
    return virtual_name == "swap" or _EPHEMERAL.match(virtual_name) is not None
