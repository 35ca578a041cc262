"""Volumes attached to the local backend's servers: loop devices put into a running instance
(its device node, its devices cgroup, its ``/sys/block``), listed in the instance's bundle so
that every boot has them, and a server's root volume, mounted by the host as its root
filesystem. :class:`VolumeAttachments` is the half of :class:`.driver.LocalBlockStorage` that
changes which server a volume is on; the driver's other half makes, copies and deletes them.
"""

from __future__ import annotations

import string
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol

from interstack.backends.contract import AttachmentInfo, BootVolume, NativeRef, VolumeStatus
from interstack.backends.local import sysblock
from interstack.backends.local.bundle import BlockDevice
from interstack.backends.local.host import run
from interstack.backends.local.hostlock import DirectoryLock
from interstack.backends.local.imageformats import ext4_extent
from interstack.backends.local.instances import Instance, instance_at
from interstack.backends.local.volumes import plug
from interstack.backends.local.volumes.guestmount import MountService, install_helper
from interstack.backends.local.volumes.records import Shelf
from interstack.errors import BackendError, Conflict, NotFound

V = VolumeStatus
#: where Nova shows a server's root disk
ROOT_DEVICE = "/dev/vda"


class Instances(Protocol):
    """What the driver needs of the compute driver: where instances live, and the lock that
    every change to one holds (so an attachment never races the instance's boot)."""

    instances_dir: Path
    runc_root: Path

    def instance_lock(self, ref: str) -> DirectoryLock: ...

    def supervisor_answers_mounts(self) -> bool: ...


class VolumeAttachments:
    """Attaching and detaching volumes, and what the compute driver asks of them at boot.

    Mixed into :class:`.driver.LocalBlockStorage`, which holds the state named here."""

    shelf: Shelf
    instances: Instances
    #: the guests' mounts answered here, beside a supervisor from before it answered them
    _mounts: MountService | None

    def _lock(self, ref: str) -> threading.Lock:
        """The lock of one volume's record (the driver's)."""
        raise NotImplementedError

    def _instance(self, server: str) -> Instance:
        return instance_at(self.instances.instances_dir, self.instances.runc_root, server)

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
            chosen = self._device_name(server, instance, device)
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

    def _device_name(self, server: str, instance: Instance, requested: str | None) -> str:
        """The requested device if free, else the first free ``/dev/vdX``; never the device the
        guest's root disk is at (its record's: ``/dev/vda`` unless the gateway said another)."""
        record = instance.load()
        root = record.root_device if record is not None else ROOT_DEVICE
        taken = {v.device for v in self.shelf.volumes() if v.attached_to == server and v.device}
        if requested is not None and requested not in taken:
            return plug.check_device_name(requested, root)
        for letter in string.ascii_lowercase[1:]:
            if f"/dev/vd{letter}" not in taken | {root}:
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
                self._attach_root(root.ref, server, root.device)
                done.append(root.ref)
            for volume in volumes:
                self.attach_volume(volume.ref, server, volume.device)
                done.append(volume.ref)
        except BaseException:
            for ref in done:
                self._release(ref, server)
            raise

    def _attach_root(self, volume: NativeRef, server: NativeRef, device: str) -> None:
        """The root volume, recorded at ``device`` (where the gateway says the root is: a volume
        may be attached at ``/dev/vda`` when that is ``/dev/sda``)."""
        with self._attachment_change(volume, server):
            record = self.shelf.get_volume(volume)
            if record.attached_to == server:
                return
            if record.attached_to is not None or record.status is not V.AVAILABLE:
                raise Conflict(f"volume {record.gateway_id} is {record.status}, not available")
            ext4_extent(self.shelf.disk(volume))  # ImageUnusable now, not at every boot
            self.shelf.save(record.moved(V.IN_USE, attached_to=server, device=device, root=True))

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
