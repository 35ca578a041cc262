"""Volumes and snapshots on disk: one directory each under ``<data>/volumes``.

::

    volumes/vol-<gateway id>/record.json   what the volume is (size, status, attachment)
    volumes/vol-<gateway id>/disk.raw      its data: a sparse file, as large as the volume
    volumes/snap-<gateway id>/record.json  the snapshot (its volume, size, status)
    volumes/snap-<gateway id>/disk.raw     a sparse copy of the volume's file

Records are rewritten atomically, so a restarted gateway finds every volume, its attachment and
a creation that was in flight (which it marks failed: the copy cannot be resumed).
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from interstack.backends.contract import NativeRef, SnapshotInfo, VolumeInfo, VolumeStatus
from interstack.errors import NotFound

VOLUME_PREFIX = "vol-"
SNAPSHOT_PREFIX = "snap-"
DISK = "disk.raw"
RECORD = "record.json"
GiB = 1024**3
#: MiB in a GiB (volumes' sizes as the host's disk counts them, :mod:`..hostdisk`)
GiB_MB = 1024


@dataclass(frozen=True)
class VolumeRecord:
    ref: str
    gateway_id: str
    name: str
    size_gb: int
    status: VolumeStatus
    #: the server (instance ref) it is attached to, and the device name the guest sees
    attached_to: str | None = None
    device: str | None = None
    fault: str | None = None
    #: the server's root disk (mounted as its root filesystem, not a device inside it)
    root: bool = False

    def moved(self, status: VolumeStatus, **changes: Any) -> VolumeRecord:
        return replace(self, status=status, **changes)

    def info(self) -> VolumeInfo:
        """The volume as the block storage contract shows it."""
        return VolumeInfo(
            ref=NativeRef(self.ref),
            gateway_id=self.gateway_id,
            status=self.status,
            size_gb=self.size_gb,
            attached_to=NativeRef(self.attached_to) if self.attached_to else None,
            fault=self.fault if self.status is VolumeStatus.ERROR else None,
        )


@dataclass(frozen=True)
class SnapshotRecord:
    ref: str
    gateway_id: str
    name: str
    volume: str
    size_gb: int
    status: VolumeStatus
    fault: str | None = None

    def moved(self, status: VolumeStatus, **changes: Any) -> SnapshotRecord:
        return replace(self, status=status, **changes)

    def info(self) -> SnapshotInfo:
        """The snapshot as the block storage contract shows it."""
        return SnapshotInfo(
            ref=NativeRef(self.ref),
            gateway_id=self.gateway_id,
            status=self.status,
            size_gb=self.size_gb,
            fault=self.fault if self.status is VolumeStatus.ERROR else None,
        )


class Shelf:
    """The directories of volumes and snapshots; paths, record I/O, listing."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def dir(self, ref: str, prefix: str) -> Path:
        if not ref.startswith(prefix) or "/" in ref or ref in {".", ".."}:
            raise NotFound(f"no {'volume' if prefix == VOLUME_PREFIX else 'snapshot'} {ref}")
        return self.directory / ref

    def disk(self, ref: str) -> Path:
        prefix = SNAPSHOT_PREFIX if ref.startswith(SNAPSHOT_PREFIX) else VOLUME_PREFIX
        return self.dir(ref, prefix) / DISK

    def _read(self, ref: str, prefix: str) -> dict[str, Any] | None:
        try:
            raw: dict[str, Any] = json.loads((self.dir(ref, prefix) / RECORD).read_text())
        except FileNotFoundError:
            return None
        raw["status"] = VolumeStatus(raw["status"])
        return raw

    def volume(self, ref: str) -> VolumeRecord | None:
        raw = self._read(ref, VOLUME_PREFIX)
        return VolumeRecord(**raw) if raw is not None else None

    def snapshot(self, ref: str) -> SnapshotRecord | None:
        raw = self._read(ref, SNAPSHOT_PREFIX)
        return SnapshotRecord(**raw) if raw is not None else None

    def get_volume(self, ref: NativeRef) -> VolumeRecord:
        found = self.volume(ref)
        if found is None:
            raise NotFound(f"no volume {ref}")
        return found

    def get_snapshot(self, ref: NativeRef) -> SnapshotRecord:
        found = self.snapshot(ref)
        if found is None:
            raise NotFound(f"no snapshot {ref}")
        return found

    def holds(self, ref: str) -> bool:
        """Whether the volume or snapshot ``ref`` still has its record (it was not deleted)."""
        prefix = SNAPSHOT_PREFIX if ref.startswith(SNAPSHOT_PREFIX) else VOLUME_PREFIX
        return (self.dir(ref, prefix) / RECORD).exists()

    def save(self, record: VolumeRecord | SnapshotRecord) -> None:
        prefix = VOLUME_PREFIX if isinstance(record, VolumeRecord) else SNAPSHOT_PREFIX
        directory = self.dir(record.ref, prefix)
        directory.mkdir(parents=True, exist_ok=True)
        tmp = directory / f".{RECORD}.tmp"
        tmp.write_text(json.dumps(asdict(record), indent=1))
        os.replace(tmp, directory / RECORD)

    def remove(self, ref: str) -> None:
        prefix = SNAPSHOT_PREFIX if ref.startswith(SNAPSHOT_PREFIX) else VOLUME_PREFIX
        shutil.rmtree(self.dir(ref, prefix), ignore_errors=True)

    def volumes(self) -> list[VolumeRecord]:
        return [v for ref in self._refs(VOLUME_PREFIX) if (v := self.volume(ref)) is not None]

    def snapshots(self) -> list[SnapshotRecord]:
        return [s for ref in self._refs(SNAPSHOT_PREFIX) if (s := self.snapshot(ref)) is not None]

    def _refs(self, prefix: str) -> list[str]:
        if not self.directory.is_dir():
            return []
        return sorted(p.name for p in self.directory.iterdir() if p.name.startswith(prefix))
