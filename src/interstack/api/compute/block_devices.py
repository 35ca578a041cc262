"""A server create's block device mappings in the services' words, checked as Nova's API checks
their format: ``block_device_mapping_v2`` entries as given (a source and its uuid, a source and
destination Nova supports), and the legacy ``block_device_mapping`` translated as Nova
translates it (a volume or a snapshot at a device, the one at the image's root device booting,
which the service decides; ``swap`` and ``ephemeralN`` virtual names the flavor's blank local
disks)."""

from __future__ import annotations

from interstack.api.compute.schemas import servers as schemas
from interstack.errors import BadRequest
from interstack.services.compute.block_devices import (
    SWAP_FORMAT,
    BlockDevice,
    DestinationType,
    is_flavor_disk_name,
)

#: Nova's disk buses (``DiskBus.ALL``)
DISK_BUSES = frozenset({"fdc", "ide", "sata", "scsi", "usb", "virtio", "xen", "lxc", "uml"})
#: the sources each destination takes (Nova's "valid source / destination combinations")
_SOURCES_OF: dict[DestinationType, frozenset[str]] = {
    "volume": frozenset({"volume", "snapshot", "image", "blank"}),
    "local": frozenset({"image", "blank"}),
}


def _invalid(details: str) -> BadRequest:
    return BadRequest(f"Block Device Mapping is Invalid: {details}")


def _v2(entry: schemas.BlockDevice, has_image: bool) -> BlockDevice | None:
    if entry.no_device:
        return None
    source = entry.source_type
    if source is None:
        raise _invalid("Some required fields are missing (source_type).")
    if source == "blank" and entry.uuid:
        raise _invalid("Invalid device UUID.")
    if source != "blank" and not entry.uuid:
        raise _invalid("Missing device UUID.")
    # Nova's defaults: volumes and snapshots land on volumes, images and blanks on local disks
    default: DestinationType = "volume" if source in ("volume", "snapshot") else "local"
    destination = entry.destination_type or default
    if source not in _SOURCES_OF[destination]:
        raise _invalid(
            f"a '{source}' source cannot go to destination_type '{destination}': only images "
            "and blank disks map to 'local'."
        )
    if source == "image" and destination == "local" and not (has_image and entry.boot_index == 0):
        # the image a server boots from is its imageRef; this entry only repeats it
        raise _invalid("Mapping image to local is not supported.")
    if destination == "local" and entry.volume_type:
        raise _invalid("Specifying a volume_type with destination_type=local is not supported.")
    if source == "volume" and entry.volume_type:
        raise _invalid("Specifying volume type to existing volume is not supported.")
    if entry.disk_bus and entry.disk_bus not in DISK_BUSES:
        raise _invalid(f"The provided disk bus {entry.disk_bus} is not valid.")
    return BlockDevice(
        source_type=source,
        destination_type=destination,
        uuid=entry.uuid or None,
        boot_index=entry.boot_index,
        volume_size=entry.volume_size,
        delete_on_termination=entry.delete_on_termination,
        device_name=entry.device_name,
        volume_type=entry.volume_type,
        tag=entry.tag,
        guest_format=entry.guest_format,
    )


def _legacy(entry: schemas.LegacyBlockDevice) -> BlockDevice | None:
    """Nova's ``from_legacy``: which entry boots is the service's to say, by the image's root
    device name (the service's ``legacy_boot_order``)."""
    if entry.no_device:
        return None
    virtual = entry.virtual_name
    if virtual is not None and is_flavor_disk_name(virtual):
        return BlockDevice(
            source_type="blank",
            destination_type="local",
            boot_index=-1,
            volume_size=entry.volume_size,
            delete_on_termination=True,
            device_name=entry.device_name,
            guest_format=SWAP_FORMAT if virtual == "swap" else None,
        )
    if not (entry.volume_id or entry.snapshot_id):
        raise _invalid("Unrecognized legacy format.")
    return BlockDevice(
        source_type="snapshot" if entry.snapshot_id else "volume",
        destination_type="volume",
        uuid=entry.snapshot_id or entry.volume_id,
        boot_index=-1,
        volume_size=entry.volume_size,
        delete_on_termination=entry.delete_on_termination,
        device_name=entry.device_name,
    )


def block_devices(new: schemas.NewServer, has_image: bool) -> tuple[BlockDevice, ...]:
    """Both mapping formats of the create, the v2 entries first (Nova takes one or the other);
    a format Nova refuses is its 400."""
    found = [_v2(e, has_image) for e in new.block_device_mapping_v2 or ()]
    found += [_legacy(e) for e in new.block_device_mapping or ()]
    return tuple(d for d in found if d is not None)
