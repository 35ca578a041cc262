"""A server create's block device mappings, checked as Nova checks them and turned into what the
server boots from: an image, or a root volume (Nova's boot from volume), plus data volumes.

Mappings with a volume destination (and the image -> local root disk) become disks here. Blank
local mappings are the flavor's ephemeral and swap disks: Nova's checks hold them to the
flavor's sizes (:func:`check_local_disks`), and a backend gives them only if it declares
``ephemeral_disks``; the device names an image gives them (its ``mappings`` property) are
theirs either way: a volume named automatically takes another.
"""

from __future__ import annotations

import json
import re
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal, cast, get_args

from interstack.errors import BadRequest
from interstack.services.interfaces import VolumeForBoot, VolumeSnapshotForImage

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
    #: ``swap`` for a swap disk (a blank local disk), as Nova marks one
    guest_format: str | None = None


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
    # the flavor's disks at the names the image gives them: not for a volume named automatically
    local = {
        path
        for d in devices
        if d.destination_type == "local" and (path := device_path(d.device_name)) is not None
    }
    planned: list[VolumeForBoot] = []
    # the root first: it takes /dev/vda unless it names another device
    for device in sorted(volumes, key=lambda d: d is not root):
        _check_size(device)
        if device.source_type != "blank" and not device.uuid:
            raise BadRequest(
                f"Block Device Mapping is Invalid: a '{device.source_type}' mapping needs "
                "the uuid of its source."
            )
        path = _device(device, root_is_volume and device is root, taken, local)
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


def _device(device: BlockDevice, is_root: bool, taken: set[str], local: set[str]) -> str:
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
        if candidate not in taken and candidate not in local:
            return candidate
    raise BadRequest("No free device name is left for the server's volumes.")


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
    image_root = disks.image_id is not None and not any(
        d.source_type == "image" and d.destination_type == "local" and d.boot_index == 0
        for d in devices
    )
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


# -- the block device mapping a volume-backed server's image carries ---------------------------

#: the bus and kind Nova records for a server's virtio disks (``/dev/vdX``)
DISK_BUS = "virtio"
DEVICE_TYPE = "disk"


def image_mapping_properties(snapshots: Sequence[VolumeSnapshotForImage]) -> dict[str, str]:
    """The image properties of a volume-backed server's snapshot, as Nova writes them to Glance
    (where every property is a string): ``block_device_mapping`` (a JSON list of bdm v2 entries
    whose source is the snapshot of each volume), ``bdm_v2`` and ``root_device_name``."""
    mapping = [
        {
            "source_type": "snapshot",
            "destination_type": "volume",
            "snapshot_id": s.snapshot_id,
            "volume_id": None,
            "image_id": None,
            "boot_index": s.boot_index,
            "device_name": s.device,
            "volume_size": s.size_gb,
            "delete_on_termination": s.delete_on_termination,
            "disk_bus": DISK_BUS,
            "device_type": DEVICE_TYPE,
            "guest_format": None,
            "volume_type": None,
            "tag": None,
            "no_device": None,
        }
        for s in snapshots
    ]
    properties = {"block_device_mapping": json.dumps(mapping), "bdm_v2": "True"}
    root = next((s for s in snapshots if s.boot_index == 0), None)
    properties["root_device_name"] = (root.device if root else None) or ROOT_DEVICE
    return properties


def image_defined_devices(
    properties: Mapping[str, str], *, ephemeral_gb: int = 0, swap_mb: int = 0
) -> tuple[BlockDevice, ...]:
    """The block device mappings an image defines, for a server booted from it with a flavor
    of ``ephemeral_gb`` and ``swap_mb``: its ``block_device_mapping`` property (bdm v2 entries
    when ``bdm_v2`` says so, else Nova's legacy entries, translated as Nova does), over the
    flavor's disks its ``mappings`` property places (:func:`image_mapped_disks`)."""
    mapped_disks = image_mapped_disks(properties, ephemeral_gb=ephemeral_gb, swap_mb=swap_mb)
    return merge_image_devices(mapped_disks, _image_block_devices(properties))


def _image_block_devices(properties: Mapping[str, str]) -> tuple[BlockDevice, ...]:
    raw = properties.get("block_device_mapping")
    if not raw:
        return ()
    try:
        entries = json.loads(raw)
    except ValueError:
        entries = None
    if not isinstance(entries, list):
        raise BadRequest(
            "Block Device Mapping is Invalid: the image's block_device_mapping property is not "
            "a JSON list of mappings."
        )
    mapped = [e for e in entries if isinstance(e, dict) and not e.get("no_device")]
    if str(properties.get("bdm_v2", "")).lower() in {"true", "1", "yes"}:
        return tuple(_image_device(e) for e in mapped)
    return _legacy_devices(mapped, image_root_device(properties))


# -- the legacy ``mappings`` image property (EC2's virtual names) --------------------------------

#: Nova's virtual name of an ephemeral disk: ``ephemeral0``, ``ephemeral1``, ...
_EPHEMERAL = re.compile(r"^ephemeral(\d|[1-9]\d+)$")
_BAD_MAPPINGS = (
    "Block Device Mapping is Invalid: the image's mappings property is not a JSON list of "
    'entries such as {"virtual": "ephemeral0", "device": "vdb"}.'
)


def _image_mappings(properties: Mapping[str, str]) -> list[Mapping[str, Any]]:
    """The ``mappings`` property's entries: Glance keeps it as a JSON string, as Nova writes
    it (EC2's ``{"virtual": "root" | "ami" | "swap" | "ephemeralN", "device": "sda1"}``)."""
    raw = properties.get("mappings")
    if not raw:
        return []
    try:
        entries = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        entries = None
    if not isinstance(entries, list) or not all(
        isinstance(e, dict) and isinstance(e.get("virtual"), str) for e in entries
    ):
        raise BadRequest(_BAD_MAPPINGS)
    named = [
        e for e in entries if e["virtual"] in {"root", "swap"} or _EPHEMERAL.match(e["virtual"])
    ]
    if not all(isinstance(e.get("device"), str) and e["device"] for e in named):
        raise BadRequest(_BAD_MAPPINGS)
    return named


def is_flavor_disk_name(virtual_name: str) -> bool:
    """Whether a legacy ``virtual_name`` names a disk the flavor brings (``swap``,
    ``ephemeralN``), not a volume."""
    return virtual_name == "swap" or _EPHEMERAL.match(virtual_name) is not None


def image_root_device(properties: Mapping[str, str]) -> str | None:
    """The image's root device name: its ``root_device_name`` property, else the device its
    ``mappings`` give the ``root`` virtual name (as Nova reads it)."""
    explicit = properties.get("root_device_name")
    if explicit:
        return explicit
    roots = [e["device"] for e in _image_mappings(properties) if e["virtual"] == "root"]
    return roots[-1] if roots else None


def image_mapped_disks(
    properties: Mapping[str, str], *, ephemeral_gb: int, swap_mb: int
) -> tuple[BlockDevice, ...]:
    """The flavor's disks the image's ``mappings`` place, as Nova prepares them: blank local
    disks at the named devices (``swap`` and ``ephemeralN``; ``ami`` and ``root`` name the
    image itself), sized by the flavor (GB; MB for swap) and left out when the flavor has no
    such disk. They are no volumes; what they do here is keep their device names."""
    disks = []
    for entry in _image_mappings(properties):
        virtual = entry["virtual"]
        if virtual == "root":
            continue
        size = swap_mb if virtual == "swap" else ephemeral_gb
        if not size:
            continue
        disks.append(
            BlockDevice(
                source_type="blank",
                destination_type="local",
                boot_index=-1,
                volume_size=size,
                delete_on_termination=True,
                device_name=device_path(entry["device"]),
                guest_format=SWAP_FORMAT if virtual == "swap" else None,
            )
        )
    return tuple(disks)


def _legacy_devices(
    entries: Sequence[Mapping[str, Any]], root_device_name: str | None
) -> tuple[BlockDevice, ...]:
    """Nova's legacy image mappings as bdm v2: a ``snapshot_id`` or ``volume_id`` source, each
    a volume; the one at the image's ``root_device_name`` (``vda`` when it names none, as
    Nova assumes) boots (``boot_index`` 0), any other is an extra disk and the server boots
    from the image. Swap and ephemeral entries name the flavor's own disks and are left out."""
    translated: list[BlockDevice] = []
    for entry in entries:
        if is_flavor_disk_name(str(entry.get("virtual_name") or "")):
            continue
        if entry.get("snapshot_id"):
            source = "snapshot"
        elif entry.get("volume_id"):
            source = "volume"
        else:
            raise BadRequest(
                "Block Device Mapping is Invalid: the image's legacy block_device_mapping has "
                "an entry with neither a snapshot_id nor a volume_id."
            )
        translated.append(
            _image_device(
                {**entry, "source_type": source, "destination_type": "volume", "boot_index": None}
            )
        )
    return legacy_boot_order(translated, root_device_name)


def legacy_boot_order(
    devices: Sequence[BlockDevice], root_device_name: str | None, *, no_root: bool = False
) -> tuple[BlockDevice, ...]:
    """Nova's ``from_legacy_mapping`` for legacy entries (a request's or an image's): the
    volume or snapshot at the root device (the image's ``root_device_name``, ``vda`` when it
    names none) boots, every other entry is an extra disk; with ``no_root`` (the image's own
    mappings hold the boot device) none boots."""
    root = None if no_root else device_path(root_device_name) or ROOT_DEVICE
    return tuple(
        replace(
            d,
            boot_index=0
            if d.source_type in ("volume", "snapshot") and device_path(d.device_name) == root
            else -1,
        )
        for d in devices
    )


def _image_device(entry: Mapping[str, Any]) -> BlockDevice:
    source, destination = entry.get("source_type"), entry.get("destination_type") or "volume"
    if source not in get_args(SourceType) or destination not in get_args(DestinationType):
        raise BadRequest(
            f"Block Device Mapping is Invalid: the image maps a {source!r} source to a "
            f"{destination!r} destination."
        )
    try:
        boot_index = None if entry.get("boot_index") is None else int(entry["boot_index"])
        size = None if entry.get("volume_size") is None else int(entry["volume_size"])
    except (TypeError, ValueError):
        raise BadRequest(
            "Block Device Mapping is Invalid: the image's boot_index and volume_size must be "
            "integers."
        ) from None
    return BlockDevice(
        source_type=cast(SourceType, source),
        destination_type=cast(DestinationType, destination),
        uuid=None if source == "blank" else entry.get(f"{source}_id"),
        boot_index=boot_index,
        volume_size=size,
        delete_on_termination=bool(entry.get("delete_on_termination")),
        device_name=entry.get("device_name"),
        volume_type=entry.get("volume_type"),
        tag=entry.get("tag"),
    )


def merge_image_devices(
    defined: Sequence[BlockDevice], requested: Sequence[BlockDevice]
) -> tuple[BlockDevice, ...]:
    """The image's mappings under the request's, as Nova merges them: a requested mapping
    replaces the image's at the same device, and a request naming its own boot device
    (``boot_index`` 0) drops the image's."""
    names = {device_path(d.device_name) for d in requested if d.device_name}
    own_root = any(d.boot_index == 0 for d in requested)
    kept = [
        d
        for d in defined
        if device_path(d.device_name) not in names and not (own_root and d.boot_index == 0)
    ]
    return (*kept, *requested)
