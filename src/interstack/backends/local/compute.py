"""Servers as runc instances: the compute driver's contract (create, power actions, ports,
listing, adoption after a restart).

Requests return at once; the jobs that boot and stop instances, and the state machine they
move through, are in :mod:`.lifecycle`. ``get_server`` reads the record and runc's view.

Suspend is a pause (the freezer cgroup; memory stays resident): the ``suspend`` capability is set
and ``SUSPENDED`` differs from ``PAUSED`` only in name and in the action that ends it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import replace
from pathlib import Path
from typing import Any

from interstack.backends.contract import (
    ComputeDriver,
    ImageInfo,
    NativeRef,
    PowerAction,
    ServerInfo,
    ServerSpec,
)
from interstack.backends.local import configdrive, console, guest_password, localdisks
from interstack.backends.local.guest import write_resolv_conf
from interstack.backends.local.guestfiles import CONFIG_DRIVE_DIR, save_network
from interstack.backends.local.host import is_mounted
from interstack.backends.local.hostdisk import HostDisk, RecordAllotments
from interstack.backends.local.instance_record import REF_PREFIX, InstanceRecord, Phase, ref_for
from interstack.backends.local.instances import RECORD_NAME, Instance
from interstack.backends.local.lifecycle import IN_PROGRESS, RUNS, InstanceJobs
from interstack.backends.local.network import links
from interstack.backends.local.rebooter import REBOOTS_IN
from interstack.backends.local.seams import ServerPorts
from interstack.backends.local.snapshots import ServerCaptures
from interstack.backends.local.volumes import plug
from interstack.errors import BackendError, Conflict, NotFound, NotSupported

log = logging.getLogger(__name__)

#: action -> phases it is allowed from
ALLOWED_FROM = {
    PowerAction.START: {Phase.STOPPED},
    PowerAction.STOP: {Phase.ACTIVE, Phase.PAUSED, Phase.SUSPENDED, Phase.ERROR},
    PowerAction.REBOOT: {Phase.ACTIVE},
    PowerAction.HARD_REBOOT: {
        Phase.ACTIVE,
        Phase.STOPPED,
        Phase.PAUSED,
        Phase.SUSPENDED,
        Phase.ERROR,
    },
    PowerAction.PAUSE: {Phase.ACTIVE},
    PowerAction.UNPAUSE: {Phase.PAUSED},
    PowerAction.SUSPEND: {Phase.ACTIVE},
    PowerAction.RESUME: {Phase.SUSPENDED},
}


class LocalCompute(InstanceJobs, ComputeDriver):
    """The compute driver of the local backend: the contract over :class:`InstanceJobs`."""

    #: createImage (:mod:`.snapshots`), set by the backend
    captures: ServerCaptures | None = None
    #: the data dir's file system, where servers are placed (set by the backend; without it
    #: every server is)
    host_disk: HostDisk | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._allotted = RecordAllotments(self._record_disk_mb)

    def start(self) -> None:
        self.start_jobs()
        self.adopt()

    def watch_settling(self, settled: Callable[[str], None]) -> None:
        """Booting instances are watched (:mod:`.bootwatch`); ``settled`` hears of each that
        is up or failed, within a few tens of milliseconds."""
        self._settled = settled

    def device_name_refusal(self, device: str) -> str | None:
        return plug.device_name_refusal(device)

    def create_server(self, spec: ServerSpec) -> ServerInfo:
        plug.check_root_device(spec.root_device)
        localdisks.check(spec.local_disks, spec.root_device)
        instance = self._instance(f"{REF_PREFIX}{spec.gateway_id}")
        with self._lock(instance.ref):
            existing = instance.load()
            if existing is not None:
                return self._info(existing)
            record = InstanceRecord.from_spec(spec)
            with self._placed(record):
                instance.save(record)
            if spec.config_drive is not None:
                configdrive.store(instance.dir / CONFIG_DRIVE_DIR, spec.config_drive)
        if spec.root_volume is not None or spec.volumes:
            try:
                self._volumes().attach_at_boot(
                    ref_for(spec.gateway_id), spec.root_volume, spec.volumes
                )
            except BaseException:
                with self._lock(instance.ref):
                    instance.destroy()
                raise
        self._submit(self._boot, instance.ref)
        return self._info(record)

    def _placed(self, record: InstanceRecord) -> AbstractContextManager[None]:
        """Where the block records the server, once the host's disk has room for it."""
        if self.host_disk is None:
            return nullcontext()
        return self.host_disk.server_placed(f"server {record.gateway_id}", record.disk_mb)

    def disk_allotted_mb(self) -> int:
        """What the instances' disks may come to take of the host, every one recorded (the
        records read again only where they changed)."""
        if not self.instances_dir.is_dir():
            return 0
        records = self.instances_dir.glob(f"{REF_PREFIX}*/{RECORD_NAME}")
        return self._allotted.total(records)

    def _record_disk_mb(self, path: Path) -> int:
        record = self._instance(path.parent.name).load()
        return 0 if record is None else record.disk_mb

    def get_server(self, ref: NativeRef) -> ServerInfo:
        instance = self._instance(ref)
        record = instance.load()
        if record is None:
            raise NotFound(f"no server {ref}")
        if record.phase is Phase.BOOTING or record.phase in RUNS:
            record = self._observe(instance, record)
        return self._info(record)

    def delete_server(self, ref: NativeRef) -> None:
        try:
            instance = self._instance(ref)
        except NotFound:
            return
        with self._lock(ref):
            record = instance.load()
            instance.record_path.unlink(missing_ok=True)  # jobs in flight see it gone
            instance.teardown()
            if self.volumes is not None:
                self.volumes.server_deleted(NativeRef(ref))
            if self.ports is not None and record is not None:
                for port in record.ports:
                    self.ports.unplug_port(NativeRef(port))
            localdisks.release(instance.dir)  # before its directory goes with their files
            instance.destroy()
        self._guest_reboots.forget(ref)
        if record is not None and record.image and record.root_volume is None:
            self.images.release_unused([NativeRef(record.image)])  # a deleted image's root

    def images_in_use(self) -> set[str]:
        """The images the instances' records name: each one's root is the lower layer of an
        instance's disk, running or stopped (a start boots from it again)."""
        return {record.image for _, record in self._records() if record.image}

    def power_action(self, ref: NativeRef, action: PowerAction) -> ServerInfo:
        instance = self._instance(ref)
        with self._lock(ref):
            record = instance.load()
            if record is None:
                raise NotFound(f"no server {ref}")
            if record.phase not in ALLOWED_FROM[action]:
                busy = " (a change is in progress)" if record.phase in IN_PROGRESS else ""
                raise Conflict(
                    f"cannot {action.replace('_', ' ')} server {record.gateway_id} while it is "
                    f"{self._info(record).status}{busy}"
                )
            if action in {PowerAction.PAUSE, PowerAction.SUSPEND}:
                instance.pause()
                record = record.moved(
                    Phase.PAUSED if action is PowerAction.PAUSE else Phase.SUSPENDED
                )
            elif action in {PowerAction.UNPAUSE, PowerAction.RESUME}:
                instance.resume()
                record = record.moved(Phase.ACTIVE)
            elif action is PowerAction.START:
                record = record.moved(Phase.STARTING, booting_as=Phase.STARTING)
            elif action is PowerAction.STOP:
                record = record.moved(Phase.STOPPING)
            else:
                if action is PowerAction.HARD_REBOOT:
                    instance.teardown()
                record = record.moved(Phase.REBOOTING, booting_as=Phase.REBOOTING)
            instance.log(f"{action.replace('_', ' ')} requested")
            instance.save(record)
        if record.phase in {Phase.STOPPING} or (
            record.phase is Phase.REBOOTING and action is PowerAction.REBOOT
        ):
            self._submit(self._stop, ref)
        elif record.phase in {Phase.STARTING, Phase.REBOOTING}:
            self._submit(self._boot, ref)
        return self._info(record)

    def snapshot_server(self, ref: NativeRef, image_gateway_id: str) -> ImageInfo:
        if self.captures is None:
            raise NotSupported(f"server {ref}: this local backend captures no images")
        return self.captures.snapshot(ref, image_gateway_id)

    def attach_port(self, ref: NativeRef, port: NativeRef) -> None:
        """Plug ``port`` into the server's namespace now (as the lowest free ``ethN``) if it
        has one, and into every later boot; addresses, routes, security groups and
        anti-spoofing come with the plug (:meth:`ServerPorts.plug_port`)."""
        ports = self._server_ports(ref)
        instance = self._instance(ref)
        with self._lock(ref):
            record = self._record(instance)
            if port in record.ports:
                return
            if instance.netns_path.exists():
                ifname = links.free_ifname(str(instance.netns_path))
                ports.plug_port(port, instance.netns_path, ifname)
            instance.log(f"interface {port} attached")
            instance.save(replace(record, ports=(*record.ports, port)))
            self._rewrite_resolv_conf(instance)

    def detach_port(self, ref: NativeRef, port: NativeRef) -> None:
        """Unplug ``port`` (both veth ends go, and the routes through it) and forget it."""
        ports = self._server_ports(ref)
        instance = self._instance(ref)
        with self._lock(ref):
            record = self._record(instance)
            if port not in record.ports:
                return
            ports.unplug_port(port)
            instance.log(f"interface {port} detached")
            instance.save(replace(record, ports=tuple(p for p in record.ports if p != port)))
            self._rewrite_resolv_conf(instance)

    def refresh_resolvers(self, ports: list[str]) -> None:
        """Each running instance on one of ``ports`` gets its subnets' DNS servers in its
        ``/etc/resolv.conf`` now, as a guest's DHCP client would when its lease is renewed (a
        stopped one gets them when it boots). The network driver calls this (the backend wires
        it) when a subnet's DNS servers or DHCP server change."""
        wanted = set(ports)
        for instance, found in self._records():
            if wanted & set(found.ports):
                with self._lock(instance.ref):
                    self._rewrite_resolv_conf(instance)

    def _rewrite_resolv_conf(self, instance: Instance) -> None:
        """The instance's network facts from its ports now, kept for its next boot (the
        supervisor's reboots read them, :mod:`.guestfiles`), and a running instance's
        resolv.conf rewritten from them (its lock held)."""
        record = instance.load()
        if record is None:
            return
        network = self.guest_network(record)
        save_network(instance, network)
        if record.phase not in {*RUNS, Phase.BOOTING} or not is_mounted(instance.rootfs):
            return
        try:
            write_resolv_conf(instance.rootfs, list(network.resolvers or ()))
        except (BackendError, OSError) as exc:
            log.warning("instance %s: resolv.conf not rewritten: %s", instance.ref, exc)

    def set_admin_password(self, ref: NativeRef, password: str) -> None:
        instance = self._instance(ref)
        with self._lock(ref):
            record = self._record(instance)
            state = instance.runtime_state()
            if record.phase is not Phase.ACTIVE or state is None or state[0] != "running":
                raise Conflict(
                    f"server {record.gateway_id} is not running: its guest cannot take a password"
                )
            guest_password.set_password(self.runc_root, ref, password)

    def _server_ports(self, ref: NativeRef) -> ServerPorts:
        if self.ports is None:
            raise NotSupported(f"server {ref}: this backend has no network to plug ports from")
        return self.ports

    def console_output(self, ref: NativeRef, length: int | None = None) -> str:
        instance = self._instance(ref)
        if instance.load() is None:
            raise NotFound(f"no server {ref}")
        console.trim(instance.console, self.settings.console_log_max_bytes)
        return console.last_lines(instance.console, length)

    def list_servers(self) -> list[ServerInfo]:
        """Every instance as it really is: one whose init exited behind the backend's back
        (``poweroff`` in the guest, a crash) is noticed here and listed stopped, so the
        reconciler shows the server SHUTOFF."""
        found = []
        for instance, persisted in self._records():
            record = persisted
            if record.phase is Phase.BOOTING or (
                record.phase in RUNS and not instance.init_alive()
            ):
                record = self._observe(instance, record)
            found.append(self._info(record))
        return found

    def _records(self) -> Iterator[tuple[Instance, InstanceRecord]]:
        """Every instance with its record, as persisted."""
        if not self.instances_dir.is_dir():
            return
        for directory in sorted(self.instances_dir.iterdir()):
            if directory.name.startswith(REF_PREFIX):
                instance = self._instance(directory.name)
                record = instance.load()
                if record is not None:
                    yield instance, record

    def adopt(self) -> None:
        """After a gateway restart: resume jobs in flight, restart instances that should run
        but do not (the host rebooted); running ones are left alone."""
        for instance, record in self._records():
            if record.phase in {Phase.BUILDING, Phase.STARTING}:
                self._submit(self._boot, record.ref)
            elif record.phase in {Phase.STOPPING, Phase.REBOOTING}:
                self._submit(self._stop, record.ref)
            elif record.phase is Phase.BOOTING and instance.init_pid() is not None:
                self.boot_watch.add(record.ref)
            elif record.phase in RUNS and (pid := instance.init_pid()) is not None:
                self.exit_watch.add(record.ref, pid)
            elif record.phase in REBOOTS_IN and _rebooted_by_supervisor(instance):
                # a reboot inside the guest, which the supervisor makes: its boot is watched
                if record.phase is Phase.BOOTING:
                    self.boot_watch.add(record.ref)
                else:
                    self._observe(instance, record)
            elif (
                record.phase in {Phase.BOOTING, Phase.ACTIVE, Phase.PAUSED, Phase.SUSPENDED}
                and instance.runtime_state() is None
            ):
                instance.log("not running after a restart of the host: starting it again")
                instance.save(record.moved(Phase.STARTING, booting_as=Phase.STARTING))
                self._submit(self._boot, record.ref)


def _rebooted_by_supervisor(instance: Instance) -> bool:
    """Whether the supervisor is booting the instance again (its guest rebooted itself)."""
    ended = instance.exit_record()
    return ended is not None and ended.rebooting
