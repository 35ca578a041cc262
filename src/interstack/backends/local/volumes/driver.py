"""The block storage driver of the local backend: volumes as sparse files, on loop devices
while attached.

Creation (empty, from an image, a snapshot or another volume) runs on a small thread pool:
``create_volume`` answers ``CREATING`` and the record turns ``AVAILABLE`` (or ``ERROR`` with a
fault) when the file is ready. Snapshots are sparse copies taken the same way (of an attached
volume too: crash-consistent, but for a server's root volume, copied with the server held
still and its filesystem frozen, as Nova quiesces a server for its volumes' snapshots).
Extension grows the file, and its loop device when attached.

Attachment (:mod:`.plug`): to a running server the device appears at once at the requested name
with exactly its major:minor allowed; to a stopped one it is recorded, and the compute driver
asks :meth:`LocalBlockStorage.boot_devices` for the devices to put in the instance's bundle on
every boot, so attachments survive stop/start, reboots and gateway restarts; the bundle lists
the devices attached now (rewritten at each attach and detach), which is what the supervisor
reads to boot a guest that rebooted itself and to answer its mounts. How a guest uses the
device as a filesystem is in :mod:`.guestmount`.

Boot from volume: a server's root volume is attached when the server is created and mounted by
the host as the instance's root filesystem (``nodev``) on every boot, in place of the image's
overlay; it is never a device inside the instance (writing a mounted filesystem's device under
the kernel's feet would corrupt it), and it cannot be detached while the server exists.
"""

from __future__ import annotations

import logging
import os
import string
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any, Protocol

from interstack.backends.contract import (
    AttachmentInfo,
    BlockStorageDriver,
    BootVolume,
    ImageInfo,
    NativeRef,
    SnapshotInfo,
    SnapshotSpec,
    VolumeInfo,
    VolumeSpec,
    VolumeStatus,
)
from interstack.backends.local import sysblock
from interstack.backends.local.bundle import BlockDevice
from interstack.backends.local.host import run
from interstack.backends.local.hostlock import InstanceLock
from interstack.backends.local.images import LocalImages, ext4_extent
from interstack.backends.local.instances import REF_PREFIX, Instance, instance_at
from interstack.backends.local.quiesce import held_still
from interstack.backends.local.volumes import fill, plug
from interstack.backends.local.volumes.guestmount import (
    MountService,
    answer,
    install_helper,
    run_here,
)
from interstack.backends.local.volumes.records import (
    SNAPSHOT_PREFIX,
    VOLUME_PREFIX,
    Shelf,
    SnapshotRecord,
    VolumeRecord,
)
from interstack.errors import BackendError, BadRequest, Conflict, NotFound

log = logging.getLogger(__name__)
V = VolumeStatus
WORKERS = 2
#: where Nova shows a server's root disk
ROOT_DEVICE = "/dev/vda"


class Instances(Protocol):
    """What the driver needs of the compute driver: where instances live, and the lock that
    every change to one holds (so an attachment never races the instance's boot)."""

    instances_dir: Path
    runc_root: Path

    def instance_lock(self, ref: str) -> InstanceLock: ...

    def supervisor_answers_mounts(self) -> bool: ...


class LocalBlockStorage(BlockStorageDriver):
    def __init__(self, directory: Path, images: LocalImages, instances: Instances) -> None:
        self.shelf = Shelf(directory)
        self.images = images
        self.instances = instances
        self._jobs: ThreadPoolExecutor | None = None
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()
        #: the guests' mounts answered here, beside a supervisor from before it answered them
        self._mounts: MountService | None = None

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
                self.shelf.disk(record.ref).unlink(missing_ok=True)
                fault = "the gateway restarted while the data was being written"
                self.shelf.save(record.moved(V.ERROR, fault=fault))
        self._jobs = ThreadPoolExecutor(WORKERS, thread_name_prefix="local-volumes")
        if not self.instances.supervisor_answers_mounts():
            self._mounts = MountService(self._answer_mount)
            self._mounts.start()
            directory = self.instances.instances_dir
            for server in sorted(directory.iterdir()) if directory.is_dir() else []:
                if server.name.startswith(REF_PREFIX) and (server / "boot").is_dir():
                    self._mounts.listen(server.name, server / "boot")

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

    def _submit(self, job: Callable[[], None]) -> None:
        if self._jobs is None:
            raise BackendError("the local backend is not started")
        self._jobs.submit(job)

    def _instance(self, server: str) -> Instance:
        return instance_at(self.instances.instances_dir, self.instances.runc_root, server)

    def _fill_job(
        self, record: VolumeRecord | SnapshotRecord, fill_file: Callable[[Path], None]
    ) -> None:
        """Write the data into a temporary file, then move it in place and mark the record."""
        disk = self.shelf.disk(record.ref)
        partial = disk.with_name(f".{disk.name}.part")
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
            self.shelf.save(record)
        self._submit(lambda: self._fill_job(record, filler))
        return record.info()

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
            self.shelf.save(record)
        source = self.shelf.disk(volume.ref)
        size = volume.size_gb

        def copy(target: Path) -> None:
            fill.copy(source, target, size)

        server = volume.attached_to if volume.root else None
        filler = self._quiesced(server, copy) if server is not None else copy
        self._submit(lambda: self._fill_job(record, filler))
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

    # -- attachments --------------------------------------------------------------------------

    @contextmanager
    def _attachment_change(self, volume: NativeRef, server: NativeRef) -> Iterator[Instance]:
        """Hold the server's lock, then the volume's (the order every path takes)."""
        instance = self._instance(server)
        with self.instances.instance_lock(server), self._lock(volume):
            if instance.load() is None:
                raise NotFound(f"no server {server}")
            yield instance

    def _running_pid(self, instance: Instance) -> int | None:
        state = instance.runtime_state()
        if state is None or state[0] not in {"running", "paused", "created"} or state[1] <= 0:
            return None
        return state[1]

    def attach_volume(
        self, volume: NativeRef, server: NativeRef, device: str | None = None
    ) -> AttachmentInfo:
        with self._attachment_change(volume, server) as instance:
            record = self.shelf.get_volume(volume)
            if record.attached_to == server and record.device is not None:
                return AttachmentInfo(volume=volume, server=server, device=record.device)
            if record.attached_to is not None or record.status is not V.AVAILABLE:
                raise Conflict(f"volume {record.gateway_id} is {record.status}, not available")
            chosen = self._device_name(server, device)
            pid = self._running_pid(instance)
            if pid is not None and not plug.hot_plug_supported():
                raise Conflict(
                    f"server {server} must be stopped to attach a volume on this host (cgroup v2)"
                )
            disk = self.shelf.disk(volume)
            loop = plug.bind_loop(disk)
            try:
                if pid is not None:
                    plug.allow_device(instance.cgroup_path, loop)
                    plug.add_node(pid, chosen, loop)
                    sysblock.add(instance.dir, chosen, loop.major, loop.minor)
            except BaseException:
                self._unplug(pid, instance, chosen, loop)
                plug.free_loops(disk)
                raise
            self.shelf.save(record.moved(V.IN_USE, attached_to=server, device=chosen))
            self._rewrite_bundle(instance, server)
            return AttachmentInfo(volume=volume, server=server, device=chosen)

    def _device_name(self, server: str, requested: str | None) -> str:
        taken = {v.device for v in self.shelf.volumes() if v.attached_to == server and v.device}
        if requested is not None and requested not in taken:
            return plug.check_device_name(requested)
        for letter in string.ascii_lowercase[1:]:
            if f"/dev/vd{letter}" not in taken:
                return f"/dev/vd{letter}"
        raise Conflict(f"server {server} has no free device name left")

    def _unplug(
        self, pid: int | None, instance: Instance, device: str, loop: plug.LoopDevice
    ) -> None:
        """Take the device out of a running instance: its mounts, its node, its permission."""
        if pid is None:
            return
        for target in plug.guest_mounts_of(pid, loop):
            plug.unmount_in_guest(pid, loop, target)
        plug.remove_node(pid, device, loop)
        sysblock.remove(instance.dir, device, loop.major, loop.minor)
        plug.deny_device(instance.cgroup_path, loop)

    def detach_volume(self, volume: NativeRef, server: NativeRef) -> None:
        if self._instance(server).load() is None:  # the server is gone: its volumes are free
            self.server_deleted(server)
            return
        with self._attachment_change(volume, server) as instance:
            record = self.shelf.get_volume(volume)
            if record.attached_to != server:
                return
            if record.root:
                raise Conflict(f"volume {record.gateway_id} is the server's root disk")
            disk = self.shelf.disk(volume)
            pid = self._running_pid(instance)
            for loop in plug.loops_of(disk):
                self._unplug(pid, instance, record.device or "", loop)
            # off the bundle before its loop is freed: the bundle is what the guest's mounts
            # are checked against, and a freed loop's number goes to the next volume bound,
            # another server's maybe (a rewrite that fails leaves the loop bound to this one)
            self._rewrite_bundle(instance, server, leaving=volume)
            plug.free_loops(disk)
            self.shelf.save(record.moved(V.AVAILABLE, attached_to=None, device=None))

    def _rewrite_bundle(
        self, instance: Instance, server: NativeRef, leaving: NativeRef | None = None
    ) -> None:
        """The instance's bundle lists the volumes attached now but ``leaving``, on the loop
        devices bound now (the server's lock held, and the changed volume's): a reboot inside
        the guest, which the supervisor makes from the bundle, keeps them, and a detached
        one's device (its loop given out again) is gone."""
        devices: list[BlockDevice] = []
        for record in self.shelf.volumes():
            if record.ref == leaving:
                continue
            if record.attached_to == server and record.device is not None and not record.root:
                loops = plug.loops_of(self.shelf.disk(record.ref))
                devices.extend(BlockDevice(record.device, lp.major, lp.minor) for lp in loops[:1])
        instance.rewrite_block_devices(tuple(devices))

    # -- what the compute driver asks ---------------------------------------------------------

    def boot_devices(self, server: NativeRef) -> list[BlockDevice]:
        """The attached volumes' devices for the instance's bundle (loop devices bound now:
        after a host reboot they are new), and the guest's mount helper, whose requests the
        supervisor answers from the bundle (:mod:`.guestmount`; this driver does beside a
        supervisor from before). Called with the server's lock held."""
        boot_dir = self._instance(server).boot_dir
        install_helper(boot_dir)
        if self._mounts is not None:
            self._mounts.listen(server, boot_dir)
        devices = []
        for record in self.shelf.volumes():
            if record.attached_to == server and record.device is not None and not record.root:
                with self._lock(record.ref):
                    loop = plug.bind_loop(self.shelf.disk(record.ref))
                devices.append(BlockDevice(record.device, loop.major, loop.minor))
        return devices

    def attach_at_boot(
        self, server: NativeRef, root: BootVolume | None, volumes: Sequence[BootVolume]
    ) -> None:
        """Attach a new server's boot volumes before its first boot: the root volume (mounted
        as its root filesystem by :meth:`mount_root`, never a device inside) and data volumes
        (devices from the first boot on). All or nothing: on failure none stays attached."""
        done: list[NativeRef] = []
        try:
            if root is not None:
                self._attach_root(root.ref, server)
                done.append(root.ref)
            for volume in volumes:
                self.attach_volume(volume.ref, server, volume.device)
                done.append(volume.ref)
        except BaseException:
            for ref in done:
                self._release(ref, server)
            raise

    def _attach_root(self, volume: NativeRef, server: NativeRef) -> None:
        with self._attachment_change(volume, server):
            record = self.shelf.get_volume(volume)
            if record.attached_to == server:
                return
            if record.attached_to is not None or record.status is not V.AVAILABLE:
                raise Conflict(f"volume {record.gateway_id} is {record.status}, not available")
            ext4_extent(self.shelf.disk(volume))  # ImageUnusable now, not at every boot
            self.shelf.save(
                record.moved(V.IN_USE, attached_to=server, device=ROOT_DEVICE, root=True)
            )

    def _release(self, volume: NativeRef, server: NativeRef) -> None:
        with self._lock(volume):
            record = self.shelf.volume(volume)
            if record is not None and record.attached_to == server:
                plug.free_loops(self.shelf.disk(volume))
                self.shelf.save(
                    record.moved(V.AVAILABLE, attached_to=None, device=None, root=False)
                )

    def mount_root(self, server: NativeRef, rootfs: Path) -> None:
        """Mount the server's root volume's filesystem at ``rootfs`` (``nodev``: device nodes
        come from the bundle only). Called with the server's lock held, before each boot."""
        record = next((v for v in self.shelf.volumes() if v.attached_to == server and v.root), None)
        if record is None:
            raise BackendError(f"server {server} has no root volume attached")
        disk = self.shelf.disk(record.ref)
        offset, size = ext4_extent(disk)
        options = f"nodev,loop,offset={offset}" + (f",sizelimit={size}" if size else "")
        rootfs.mkdir(parents=True, exist_ok=True)
        run(
            ["mount", "-t", "ext4", "-o", options, str(disk), str(rootfs)],
            what="mount the root volume",
        )

    def server_deleted(self, server: NativeRef) -> None:
        """The server is gone: its volumes are detached (available) and their loops freed."""
        if self._mounts is not None:
            self._mounts.forget(server)
        for record in self.shelf.volumes():
            if record.attached_to != server:
                continue
            with self._lock(record.ref):
                current = self.shelf.volume(record.ref)
                if current is None or current.attached_to != server:
                    continue
                plug.free_loops(self.shelf.disk(record.ref))
                self.shelf.save(
                    current.moved(V.AVAILABLE, attached_to=None, device=None, root=False)
                )
