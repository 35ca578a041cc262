"""A server create's block device mappings in the services' words: ``block_device_mapping_v2``
entries as given, and the legacy ``block_device_mapping`` translated as Nova translates it (a
volume or a snapshot at a device; the one at the root device boots when there is no image)."""

from __future__ import annotations

from interstack.api.compute.schemas import servers as schemas
from interstack.services.compute.block_devices import (
    ROOT_DEVICE,
    BlockDevice,
    DestinationType,
    device_path,
)


def _v2(entry: schemas.BlockDevice) -> BlockDevice | None:
    if entry.no_device:
        return None
    source = entry.source_type or ("volume" if entry.uuid else "blank")
    # Nova's defaults: volumes and snapshots land on volumes, images and blanks on local disks
    default: DestinationType = "volume" if source in ("volume", "snapshot") else "local"
    return BlockDevice(
        source_type=source,
        destination_type=entry.destination_type or default,
        uuid=entry.uuid or None,
        boot_index=entry.boot_index,
        volume_size=entry.volume_size,
        delete_on_termination=entry.delete_on_termination,
        device_name=entry.device_name,
        volume_type=entry.volume_type,
        tag=entry.tag,
    )


def _legacy(entry: schemas.LegacyBlockDevice, has_image: bool) -> BlockDevice | None:
    if entry.no_device or not (entry.volume_id or entry.snapshot_id):
        return None
    root = not has_image and device_path(entry.device_name) == ROOT_DEVICE
    return BlockDevice(
        source_type="volume" if entry.volume_id else "snapshot",
        destination_type="volume",
        uuid=entry.volume_id or entry.snapshot_id,
        boot_index=0 if root else None,
        volume_size=entry.volume_size,
        delete_on_termination=entry.delete_on_termination,
        device_name=entry.device_name,
    )


def block_devices(new: schemas.NewServer, has_image: bool) -> tuple[BlockDevice, ...]:
    """Both mapping formats of the create, the v2 entries first (Nova takes one or the other)."""
    found = [_v2(e) for e in new.block_device_mapping_v2 or ()]
    found += [_legacy(e, has_image) for e in new.block_device_mapping or ()]
    return tuple(d for d in found if d is not None)
