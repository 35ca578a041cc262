"""The block storage driver of the local backend: volumes as sparse files, on loop devices
while attached.

Creation (empty, from an image, a snapshot or another volume) runs on a small thread pool:
``create_volume`` answers ``CREATING`` and the record turns ``AVAILABLE`` (or ``ERROR`` with a
fault) when the file is ready. Snapshots are sparse copies taken the same way (of an attached
volume too: crash-consistent, but for a server's root volume, copied with the server held
still and its filesystem frozen, as Nova quiesces a server for its volumes' snapshots).
Extension grows the file, and its loop device when attached.

Attachment (:mod:`.attachments`, on :mod:`.plug`): to a running server the device appears at
once at the requested name with exactly its major:minor allowed; to a stopped one it is
recorded, and the compute driver asks :meth:`LocalBlockStorage.boot_devices` for the devices to
put in the instance's bundle on every boot, so attachments survive stop/start, reboots and
gateway restarts; the bundle lists the devices attached now (rewritten at each attach and
detach), which is what the supervisor reads to boot a guest that rebooted itself and to answer
its mounts. How a guest uses the device as a filesystem is in :mod:`.guestmount`.

Boot from volume: a server's root volume is attached when the server is created and mounted by
the host as the instance's root filesystem (``nodev``) on every boot, in place of the image's
overlay; it is never a device inside the instance (writing a mounted filesystem's device under
the kernel's feet would corrupt it), and it cannot be detached while the server exists.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

from interstack.backends.contract import (
    BlockStorageDriver,
    ImageInfo,
    NativeRef,
    SnapshotInfo,
    SnapshotSpec,
    VolumeInfo,
    VolumeSpec,
    VolumeStatus,
)
from interstack.backends.local import hostlock
from interstack.backends.local.hostdisk import HostDisk, RecordAllotments
from interstack.backends.local.images import LocalImages
from interstack.backends.local.instance_record import REF_PREFIX
from interstack.backends.local.quiesce import held_still
from interstack.backends.local.volumes import fill, plug
from interstack.backends.local.volumes.attachments import Instances, VolumeAttachments
from interstack.backends.local.volumes.guestmount import (
    MountService,
    answer,
    run_here,
)
from interstack.backends.local.volumes.records import (
    RECORD,
    SNAPSHOT_PREFIX,
    VOLUME_PREFIX,
    GiB_MB,
    Shelf,
    SnapshotRecord,
    VolumeRecord,
)
from interstack.errors import BackendError, BadRequest, Conflict, NotFound

log = logging.getLogger(__name__)
V = VolumeStatus
WORKERS = 2
#: in a volume's or a snapshot's directory: the file its filler holds locked while it fills
#: the disk (:func:`.hostlock.hold`), so that another gateway process's start leaves it be
FILLING = "filling"


def _partial(disk: Path) -> Path:
    """The temporary file a volume's or a snapshot's disk is filled in."""
    return disk.with_name(f".{disk.name}.part")


class LocalBlockStorage(VolumeAttachments, BlockStorageDriver):
    #: what Cinder's scheduler would be told of this backend (volume types ask by these)
    reported_capabilities = {
        "volume_backend_name": "local",
        "vendor_name": "interstack",
        "storage_protocol": "file",
    }
    #: the data dir's file system, where volumes are placed (set by the backend; without it
    #: every volume is)
    host_disk: HostDisk | None = None

    def __init__(self, directory: Path, images: LocalImages, instances: Instances) -> None:
        self.shelf = Shelf(directory)
        self.images = images
        self.instances = instances
        self._jobs: ThreadPoolExecutor | None = None
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()
        self._mounts = None
        self._allotted = RecordAllotments(self._record_disk_mb)

    # -- plumbing -----------------------------------------------------------------------------

    def start(self) -> None:
        """Mark creations a previous gateway left unfinished as failed (a half-written copy
        cannot be trusted) and start the worker pool."""
        self.shelf.directory.mkdir(parents=True, exist_ok=True)
        records: list[VolumeRecord | SnapshotRecord] = [
            *self.shelf.volumes(),
            *self.shelf.snapshots(),
        ]
        for record in records:
            if record.status is V.CREATING:
                self._give_up_filling(record)
        self._jobs = ThreadPoolExecutor(WORKERS, thread_name_prefix="local-volumes")
        if not self.instances.supervisor_answers_mounts():
            self._mounts = MountService(self._answer_mount)
            self._mounts.start()
            directory = self.instances.instances_dir
            for server in sorted(directory.iterdir()) if directory.is_dir() else []:
                if server.name.startswith(REF_PREFIX) and (server / "boot").is_dir():
                    self._mounts.listen(server.name, server / "boot")

    def _give_up_filling(self, record: VolumeRecord | SnapshotRecord) -> None:
        """A record left creating by a gateway that ended while it filled the file: ``ERROR``,
        its file and the temporary one it was filling removed. One another gateway process on
        the data dir fills now (its lock held, from before the record was saved to after its
        last save) is left to it."""
        disk = self.shelf.disk(record.ref)
        if hostlock.taken(disk.parent, FILLING):
            return
        with self._lock(record.ref):
            # read again: a filler that let go of its lock saved its record first
            current = self.shelf.volume(record.ref) or self.shelf.snapshot(record.ref)
            if current is None or current.status is not V.CREATING:
                return
            disk.unlink(missing_ok=True)
            _partial(disk).unlink(missing_ok=True)
            fault = "the gateway restarted while the data was being written"
            self.shelf.save(current.moved(V.ERROR, fault=fault))

    def _save_new(self, record: VolumeRecord | SnapshotRecord, what: str) -> int | None:
        """Save a new record, creating, once the host's disk has room for it, its filler's
        lock (:data:`FILLING`) held from before: the descriptor the fill job closes once the
        record is saved again. Nothing is left if it cannot be saved."""
        directory = self.shelf.disk(record.ref).parent
        directory.mkdir(parents=True, exist_ok=True)
        held = hostlock.hold(directory, FILLING)
        try:
            with self._placed(what, record.size_gb):
                self.shelf.save(record)
        except BaseException:
            if held is not None:
                os.close(held)
            if not self.shelf.holds(record.ref):
                shutil.rmtree(directory, ignore_errors=True)
            raise
        return held

    def _submit_fill(
        self,
        record: VolumeRecord | SnapshotRecord,
        fill_file: Callable[[Path], None],
        held: int | None,
    ) -> None:
        """Fill the record's file in a job; ``held`` (the filler's lock) is let go of once the
        job marked the record, or once it is cancelled (a close with fills still queued: the
        lock held on left its record creating to the next start in this process, passed over
        as another process's live fill, and its descriptor open)."""
        try:
            job = self._submit(lambda: self._fill(record, fill_file))
        except BaseException:
            if held is not None:
                os.close(held)
            raise
        if held is not None:
            job.add_done_callback(lambda _: os.close(held))

    def _answer_mount(self, server: str, request: dict[str, Any]) -> None:
        answer(self._instance(server), request, run_here)

    def close(self) -> None:
        if self._mounts is not None:
            self._mounts.close()
            self._mounts = None
        if self._jobs is not None:
            self._jobs.shutdown(wait=True, cancel_futures=True)
            self._jobs = None

    def _lock(self, ref: str) -> threading.Lock:
        with self._locks_guard:
            return self._locks.setdefault(ref, threading.Lock())

    def _submit(self, job: Callable[[], None]) -> Future[None]:
        if self._jobs is None:
            raise BackendError("the local backend is not started")
        return self._jobs.submit(job)

    def _fill(
        self, record: VolumeRecord | SnapshotRecord, fill_file: Callable[[Path], None]
    ) -> None:
        """Write the data into a temporary file, then move it in place and mark the record."""
        disk = self.shelf.disk(record.ref)
        partial = _partial(disk)
        try:
            fill_file(partial)
            os.replace(partial, disk)
        except Exception as exc:
            partial.unlink(missing_ok=True)
            fault = exc.message if isinstance(exc, BackendError | NotFound) else str(exc)
            if not isinstance(exc, BackendError | NotFound):
                log.exception("filling %s failed", record.ref)
            with self._lock(record.ref):
                if self.shelf.holds(record.ref):
                    self.shelf.save(record.moved(V.ERROR, fault=fault))
            return
        with self._lock(record.ref):
            if self.shelf.holds(record.ref):
                self.shelf.save(record.moved(V.AVAILABLE))
            else:  # deleted while it was written
                self.shelf.remove(record.ref)

    # -- volumes ------------------------------------------------------------------------------

    def _filler(self, spec: VolumeSpec) -> Callable[[Path], None]:
        """How the new volume's file is written, after checking synchronously that the source
        can be read (so a bad source is the caller's error, not a volume in ERROR)."""
        size = spec.size_gb
        if spec.snapshot is not None:
            source = self.shelf.get_snapshot(spec.snapshot)
            if source.status is not V.AVAILABLE:
                raise Conflict(f"snapshot {source.gateway_id} is {source.status}, not available")
            if size < source.size_gb:
                raise BadRequest(
                    f"the volume must have at least the snapshot's {source.size_gb} GiB"
                )
            disk = self.shelf.disk(source.ref)
            return lambda target: fill.copy(disk, target, size)
        if spec.source_volume is not None:
            volume = self.shelf.get_volume(spec.source_volume)
            if volume.status not in (V.AVAILABLE, V.IN_USE):
                raise Conflict(f"volume {volume.gateway_id} is {volume.status}, not available")
            if size < volume.size_gb:
                raise BadRequest(f"the volume must have at least the source's {volume.size_gb} GiB")
            disk = self.shelf.disk(volume.ref)
            return lambda target: fill.copy(disk, target, size)
        if spec.image is not None:
            image = spec.image
            self.images.open_image(image).close()  # NotFound for an unknown image, here
            return lambda target: fill.from_image(self.images, image, target, size)
        return lambda target: fill.empty(target, size)

    def create_volume(self, spec: VolumeSpec) -> VolumeInfo:
        ref = f"{VOLUME_PREFIX}{spec.gateway_id}"
        with self._lock(ref):
            existing = self.shelf.volume(ref)
            if existing is not None:
                return existing.info()
            if spec.size_gb <= 0:
                raise BadRequest("a volume needs a size of at least 1 GiB")
            filler = self._filler(spec)
            record = VolumeRecord(
                ref=ref,
                gateway_id=spec.gateway_id,
                name=spec.name,
                size_gb=spec.size_gb,
                status=V.CREATING,
            )
            held = self._save_new(record, f"volume {record.gateway_id}")
        self._submit_fill(record, filler, held)
        return record.info()

    def _placed(self, what: str, size_gb: int) -> AbstractContextManager[None]:
        """Where the block records a volume or a snapshot (a sparse copy of its volume's
        size), once the host's disk has room for it, as Cinder's scheduler places both."""
        if self.host_disk is None:
            return nullcontext()
        return self.host_disk.volume_placed(what, size_gb * GiB_MB)

    def disk_allotted_mb(self) -> int:
        """What the volumes and snapshots may come to take of the host (the records read
        again only where they changed)."""
        if not self.shelf.directory.is_dir():
            return 0
        return self._allotted.total(self.shelf.directory.glob(f"*/{RECORD}"))

    def _record_disk_mb(self, path: Path) -> int:
        """What the volume or snapshot recorded at ``path`` allots (one that failed has no
        file)."""
        ref = path.parent.name
        record: VolumeRecord | SnapshotRecord | None = None
        if ref.startswith(SNAPSHOT_PREFIX):
            record = self.shelf.snapshot(ref)
        elif ref.startswith(VOLUME_PREFIX):
            record = self.shelf.volume(ref)
        if record is None or record.status is V.ERROR:
            return 0
        return record.size_gb * GiB_MB

    def get_volume(self, ref: NativeRef) -> VolumeInfo:
        record = self.shelf.get_volume(ref)
        if record.attached_to is not None and self._instance(record.attached_to).load() is None:
            self.server_deleted(NativeRef(record.attached_to))  # its deletion was interrupted
            record = self.shelf.get_volume(ref)
        return record.info()

    def delete_volume(self, ref: NativeRef) -> None:
        with self._lock(ref):
            record = self.shelf.volume(ref)
            if record is None:
                return
            if record.attached_to is not None:
                raise Conflict(f"volume {record.gateway_id} is attached to a server")
            if any(s.volume == record.ref for s in self.shelf.snapshots()):
                raise Conflict(f"volume {record.gateway_id} has snapshots")
            plug.free_loops(self.shelf.disk(ref))
            self.shelf.remove(ref)

    def extend_volume(self, ref: NativeRef, size_gb: int) -> VolumeInfo:
        with self._lock(ref):
            record = self.shelf.get_volume(ref)
            if record.status not in (V.AVAILABLE, V.IN_USE):
                raise Conflict(
                    f"cannot extend volume {record.gateway_id} while it is {record.status}"
                )
            if size_gb <= record.size_gb:
                raise BadRequest(
                    f"volume {record.gateway_id} has {record.size_gb} GiB; "
                    f"{size_gb} GiB would not extend it"
                )
            disk = self.shelf.disk(ref)
            # the growth is placed as a new volume is (Cinder's scheduler checks an extend too)
            with self._placed(f"extend of volume {record.gateway_id}", size_gb - record.size_gb):
                fill.grow(disk, size_gb)
                plug.refresh_loop_size(disk)
                record = record.moved(record.status, size_gb=size_gb)
                self.shelf.save(record)
            return record.info()

    def copy_volume_to_image(
        self,
        ref: NativeRef,
        image_gateway_id: str,
        while_copying: AbstractContextManager[object] | None = None,
    ) -> ImageInfo:
        """The volume's whole file becomes a raw disk image (bootable if it holds a root);
        ``while_copying`` is held around the copy alone (:meth:`LocalImages.store_copy`)."""
        record = self.shelf.get_volume(ref)
        if record.status not in (V.AVAILABLE, V.IN_USE):
            raise Conflict(f"cannot copy volume {record.gateway_id} while it is {record.status}")
        return self.images.store_copy(image_gateway_id, self.shelf.disk(ref), while_copying)

    # -- snapshots ----------------------------------------------------------------------------

    def create_snapshot(self, spec: SnapshotSpec) -> SnapshotInfo:
        ref = f"{SNAPSHOT_PREFIX}{spec.gateway_id}"
        with self._lock(ref):
            existing = self.shelf.snapshot(ref)
            if existing is not None:
                return existing.info()
            volume = self.shelf.get_volume(spec.volume)
            if volume.status not in (V.AVAILABLE, V.IN_USE):
                raise Conflict(
                    f"cannot snapshot volume {volume.gateway_id} while it is {volume.status}"
                )
            record = SnapshotRecord(
                ref=ref,
                gateway_id=spec.gateway_id,
                name=spec.name,
                volume=volume.ref,
                size_gb=volume.size_gb,
                status=V.CREATING,
            )
            held = self._save_new(record, f"snapshot {record.gateway_id}")
        source = self.shelf.disk(volume.ref)
        size = volume.size_gb

        def copy(target: Path) -> None:
            fill.copy(source, target, size)

        server = volume.attached_to if volume.root else None
        filler = self._quiesced(server, copy) if server is not None else copy
        self._submit_fill(record, filler, held)
        return record.info()

    def _quiesced(self, server: str, copy: Callable[[Path], None]) -> Callable[[Path], None]:
        """``copy`` run with the server held still: its root volume's filesystem, which the
        host mounts, flushed and frozen, so the snapshot holds every write the guest made
        before it (a data volume's filesystem is the guest's own: its snapshot is
        crash-consistent)."""

        def held(target: Path) -> None:
            instance = self._instance(server)
            with self.instances.instance_lock(server), held_still(instance):
                copy(target)

        return held

    def get_snapshot(self, ref: NativeRef) -> SnapshotInfo:
        return self.shelf.get_snapshot(ref).info()

    def delete_snapshot(self, ref: NativeRef) -> None:
        with self._lock(ref):
            if self.shelf.snapshot(ref) is not None:
                self.shelf.remove(ref)
