"""The block device mappings an image defines, as Nova reads them from Glance for a server
booted from it (its ``block_device_mapping`` property, bdm v2 or legacy; the legacy
``mappings`` property's EC2 virtual names; its root device name), and writes them for the
snapshot of a volume-backed server; merged under a create's own mappings as Nova merges them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any, cast, get_args

from interstack.errors import BadRequest
from interstack.services.compute.block_devices import (
    ROOT_DEVICE,
    SWAP_FORMAT,
    BlockDevice,
    DestinationType,
    SourceType,
    blank_local,
    device_path,
    is_flavor_disk_name,
    legacy_device,
    no_device,
)
from interstack.services.interfaces import VolumeSnapshotForImage

# -- the block device mapping a volume-backed server's image carries ---------------------------

#: the bus and kind Nova records for a server's virtio disks (``/dev/vdX``)
DISK_BUS = "virtio"
DEVICE_TYPE = "disk"

#: a device name as Nova's API takes one (``vdb``, ``/dev/vdb``: no spaces, at most 255),
#: matched whole (``$`` alone would take a name ending in a newline)
_DEVICE_NAME = re.compile(r"[a-zA-Z0-9._/-]{1,255}")
#: the strings ``oslo_utils.strutils.bool_from_string`` takes for true (Nova reads an image's
#: ``delete_on_termination`` with it: "false" is false)
_TRUE_STRINGS = frozenset({"1", "t", "true", "on", "y", "yes"})


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
    mapped = [e for e in entries if isinstance(e, dict)]
    if str(properties.get("bdm_v2", "")).lower() in {"true", "1", "yes"}:
        return tuple(_image_device(e) for e in mapped)
    return _legacy_devices(mapped, image_root_device(properties))


# -- the legacy ``mappings`` image property (EC2's virtual names) --------------------------------

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
    named = [e for e in entries if e["virtual"] == "root" or is_flavor_disk_name(e["virtual"])]
    devices = [e.get("device") for e in named]
    if not all(isinstance(d, str) and _DEVICE_NAME.fullmatch(d) for d in devices):
        raise BadRequest(_BAD_MAPPINGS)
    return named


def image_root_device(properties: Mapping[str, str]) -> str | None:
    """The image's root device name: its ``root_device_name`` property, else the device its
    ``mappings`` give the ``root`` virtual name (as Nova reads it)."""
    explicit = _device_name(properties.get("root_device_name"), "root_device_name")
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
        guest_format = SWAP_FORMAT if virtual == "swap" else None
        disks.append(blank_local(size, guest_format, device_path(entry["device"])))
    return tuple(disks)


def _legacy_devices(
    entries: Sequence[Mapping[str, Any]], root_device_name: str | None
) -> tuple[BlockDevice, ...]:
    """Nova's legacy image mappings as bdm v2 (:func:`legacy_device`): a ``snapshot_id`` or
    ``volume_id`` source, each a volume, the one at the image's ``root_device_name`` (``vda``
    when it names none, as Nova assumes) booting (``boot_index`` 0), any other an extra disk
    beside the image; ``swap`` and ``ephemeralN`` the flavor's blank local disks, held to its
    sizes as a request's are; ``no_device`` nothing at its device."""
    translated: list[BlockDevice] = []
    for entry in entries:
        virtual_name = entry.get("virtual_name")
        device = legacy_device(
            virtual_name=virtual_name if isinstance(virtual_name, str) else None,
            snapshot_id=_text(entry, "snapshot_id"),
            volume_id=_text(entry, "volume_id"),
            no_device_=bool(entry.get("no_device")),
            device_name=_device_name(entry.get("device_name"), "device_name"),
            volume_size=_volume_size(entry),
            delete_on_termination=_flag(entry.get("delete_on_termination")),
        )
        if device is None:
            raise BadRequest(
                "Block Device Mapping is Invalid: the image's legacy block_device_mapping has "
                "an entry with neither a snapshot_id nor a volume_id (nor a swap or "
                "ephemeralN virtual_name, nor no_device)."
            )
        translated.append(device)
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


def _integer(entry: Mapping[str, Any], key: str) -> int | None:
    try:
        return None if entry.get(key) is None else int(entry[key])
    except (TypeError, ValueError):
        raise BadRequest(
            "Block Device Mapping is Invalid: the image's boot_index and volume_size must be "
            "integers."
        ) from None


def _invalid_field(key: str, value: object, expected: str) -> BadRequest:
    return BadRequest(
        f"Block Device Mapping is Invalid: the image's {key} {value!r} is not {expected}; "
        "the image's owner can correct the property (openstack image set --property)."
    )


def _device_name(value: object, key: str) -> str | None:
    """An image's device name (None when it gives none): written by anyone who may set the
    image's properties, so anything but a device name is the create's 400, not its 500."""
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not _DEVICE_NAME.fullmatch(value):
        raise _invalid_field(key, value, "a device name such as /dev/vdb")
    return value


def _text(entry: Mapping[str, Any], key: str) -> str | None:
    value = entry.get(key)
    if value is not None and not (isinstance(value, str) and len(value) <= 255):
        raise _invalid_field(key, value, "a string of at most 255 characters")
    return value


def _flag(value: object) -> bool:
    """Nova's ``strutils.bool_from_string`` (not strict): true only for a true boolean or one
    of its true strings."""
    if isinstance(value, bool):
        return value
    return value is not None and str(value).strip().lower() in _TRUE_STRINGS


def _volume_size(entry: Mapping[str, Any]) -> int | None:
    """An entry's ``volume_size``: GB, never below 0, as Nova's ``BlockDeviceDict`` validates
    it — a negative size would lower the sum of the ephemeral disks held to the flavor's, and
    let another disk of the image's grow past it."""
    size = _integer(entry, "volume_size")
    if size is not None and size < 0:
        raise BadRequest(
            f"Block Device Mapping is Invalid: the image's volume_size {size} is below 0."
        )
    return size


def _image_device(entry: Mapping[str, Any]) -> BlockDevice:
    if entry.get("no_device"):
        return no_device(
            _device_name(entry.get("device_name"), "device_name"), _integer(entry, "boot_index")
        )
    source, destination = entry.get("source_type"), entry.get("destination_type") or "volume"
    if source not in get_args(SourceType) or destination not in get_args(DestinationType):
        raise BadRequest(
            f"Block Device Mapping is Invalid: the image maps a {source!r} source to a "
            f"{destination!r} destination."
        )
    boot_index, size = _integer(entry, "boot_index"), _volume_size(entry)
    return BlockDevice(
        source_type=cast(SourceType, source),
        destination_type=cast(DestinationType, destination),
        uuid=None if source == "blank" else _text(entry, f"{source}_id"),
        boot_index=boot_index,
        volume_size=size,
        delete_on_termination=_flag(entry.get("delete_on_termination")),
        device_name=_device_name(entry.get("device_name"), "device_name"),
        volume_type=_text(entry, "volume_type"),
        tag=_text(entry, "tag"),
        guest_format=_text(entry, "guest_format"),
    )


def merge_image_devices(
    defined: Sequence[BlockDevice], requested: Sequence[BlockDevice]
) -> tuple[BlockDevice, ...]:
    """The request's mappings over the image's, as Nova merges them (``_merge_bdms_lists``):
    the image's mapping at a device the request names goes (a ``no_device`` entry only takes
    it away), every other stays. Where the image's mappings hold the boot device, the
    request's image mapping at ``boot_index`` 0 (the one clients add for the imageRef) goes
    instead; any other boot device the request adds beside the image's is Nova's boot
    sequence 400."""
    if any(d.boot_index == 0 for d in defined):
        requested = [d for d in requested if not (d.boot_index == 0 and d.source_type == "image")]
    names = {device_path(d.device_name) for d in requested if d.device_name}
    return (*requested, *(d for d in defined if device_path(d.device_name) not in names))
