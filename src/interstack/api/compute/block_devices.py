"""A server create's block device mappings in the services' words, checked as Nova's API checks
their format: ``block_device_mapping_v2`` entries as given (a source and its uuid, a source and
destination Nova supports), and the legacy ``block_device_mapping`` translated as Nova
translates it (a volume or a snapshot at a device, the one at the image's root device booting,
which the service decides; ``swap`` and ``ephemeralN`` virtual names the flavor's blank local
disks). A ``no_device`` entry of either kind is kept: it takes away the image's mapping at its
device."""

from __future__ import annotations

from interstack.api.compute.schemas import servers as schemas
from interstack.errors import BadRequest
from interstack.services.compute.block_devices import (
    BlockDevice,
    DestinationType,
    legacy_device,
    no_device,
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


def _image_without_destination(entry: schemas.BlockDevice, has_image: bool) -> BlockDevice:
    """Nova's API takes an image entry without ``destination_type`` and makes no disk of it:
    at ``boot_index`` 0 beside an imageRef the server boots from that image, elsewhere the
    entry stands for nothing (the image must exist: the service looks). At ``boot_index`` 0
    without an imageRef Nova's server fails to build; here that is a 400 that says what to
    ask for instead, before anything exists."""
    if entry.boot_index == 0 and not has_image:
        raise _invalid(
            "an image mapping at boot_index 0 without an imageRef needs destination_type "
            "'volume' and a volume_size (the server boots from a volume made of the image); "
            "to boot from the image itself, give it as imageRef."
        )
    return BlockDevice(
        source_type="image",
        destination_type=None,
        uuid=entry.uuid,
        boot_index=entry.boot_index,
        device_name=entry.device_name,
        tag=entry.tag,
    )


def _v2(entry: schemas.BlockDevice, has_image: bool) -> BlockDevice:
    if entry.no_device:
        return no_device(entry.device_name, entry.boot_index)
    source = entry.source_type
    if source is None:
        raise _invalid("Some required fields are missing (source_type).")
    if source == "blank" and entry.uuid:
        raise _invalid("Invalid device UUID.")
    if source != "blank" and not entry.uuid:
        raise _invalid("Missing device UUID.")
    if source == "image" and entry.destination_type is None:
        return _image_without_destination(entry, has_image)
    # what Nova's later checks make of a missing destination: volumes and snapshots are
    # attached volumes, a blank one is a local disk (an ephemeral or swap disk)
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


def _legacy(entry: schemas.LegacyBlockDevice) -> BlockDevice:
    """Nova's ``from_legacy``: which entry boots is the service's to say, by the image's root
    device name (the service's ``legacy_boot_order``)."""
    device = legacy_device(
        virtual_name=entry.virtual_name,
        snapshot_id=entry.snapshot_id,
        volume_id=entry.volume_id,
        no_device_=entry.no_device,
        device_name=entry.device_name,
        volume_size=entry.volume_size,
        delete_on_termination=entry.delete_on_termination,
    )
    if device is None:
        raise _invalid("Unrecognized legacy format.")
    return device


def block_devices(new: schemas.NewServer, has_image: bool) -> tuple[BlockDevice, ...]:
    """Both mapping formats of the create, the v2 entries first (Nova takes one or the other);
    a format Nova refuses is its 400."""
    found = [_v2(e, has_image) for e in new.block_device_mapping_v2 or ()]
    return (*found, *(_legacy(e) for e in new.block_device_mapping or ()))
