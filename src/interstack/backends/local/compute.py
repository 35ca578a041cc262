"""Servers as runc instances: the compute driver and the jobs that boot and stop them.

Requests return at once; booting (preparing the image, mounting the root, starting runc) and
stopping (SIGTERM, then SIGKILL after ``stop_timeout_seconds``) run as jobs on a small thread
pool, and every step is written to the instance's record first, so a restarted gateway resumes
what was in flight (:meth:`LocalCompute.adopt`). ``get_server`` reads the record and runc's view:
a booting instance becomes ``ACTIVE`` once its init marks it up, and one whose init exited on its
own (``poweroff`` inside) is ``STOPPED``.

Suspend is a pause (the freezer cgroup; memory stays resident): the ``suspend`` capability is set
and ``SUSPENDED`` differs from ``PAUSED`` only in name and in the action that ends it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Protocol

from interstack.backends.contract import (
    BootVolume,
    ComputeDriver,
    NativeRef,
    PowerAction,
    ServerInfo,
    ServerSpec,
    ServerStatus,
)
from interstack.backends.local import configdrive, console, guest_password
from interstack.backends.local.bundle import BlockDevice
from interstack.backends.local.guest import (
    hostname_for,
    write_boot_dir,
    write_resolv_conf,
    write_seed,
)
from interstack.backends.local.host import TINI
from interstack.backends.local.images import LocalImages
from interstack.backends.local.instances import (
    REF_PREFIX,
    Instance,
    InstanceRecord,
    Phase,
    ref_for,
)
from interstack.backends.local.network import links
from interstack.backends.local.settings import LocalSettings
from interstack.backends.local.supervisor import SupervisorClient
from interstack.errors import BackendError, Conflict, NotFound, NotSupported

log = logging.getLogger(__name__)
S = ServerStatus
#: an instance's config drive files, beside its disk (:mod:`.configdrive`)
CONFIG_DRIVE_DIR = "config-drive"


class ServerPorts(Protocol):
    """The networking seam: realized ports plugged into a server's network namespace.

    The local backend's network driver provides it. ``plug_port`` is called on every boot for
    each port in ``ServerSpec.ports`` in order (``eth0``, ``eth1``...), so it must be idempotent.
    ``unplug_port`` is called for each of them when the server is deleted, before its namespace
    goes: the port's host end is gone once the call returns (deleting a namespace removes its
    veths only when the kernel gets round to it), so Neutron can delete the port at once.
    """

    def plug_port(self, port: NativeRef, netns_path: Path, ifname: str) -> None: ...

    def serves_metadata(self, port: NativeRef) -> bool:
        """Whether the instance reaches the metadata service at 169.254.169.254 this way."""
        ...

    def dns_servers(self, port: NativeRef) -> list[str]:
        """The resolvers the instance is told about through this port (what DHCP would say)."""
        ...

    def unplug_port(self, port: NativeRef) -> None: ...


class VolumeDevices(Protocol):
    """The block storage seam (``.volumes.LocalBlockStorage``): the attached volumes' devices of
    a server, for its bundle on every boot; their release when the server is deleted; a new
    server's boot volumes, and its root volume mounted as its root filesystem."""

    def boot_devices(self, server: NativeRef) -> list[BlockDevice]: ...

    def server_deleted(self, server: NativeRef) -> None: ...

    def attach_at_boot(
        self, server: NativeRef, root: BootVolume | None, volumes: Sequence[BootVolume]
    ) -> None: ...

    def mount_root(self, server: NativeRef, rootfs: Path) -> None: ...


#: phase -> what get_server reports (booting phases report the record's ``booting_as``)
REPORTED = {
    Phase.BUILDING: S.BUILDING,
    Phase.STARTING: S.STOPPED,
    Phase.REBOOTING: S.REBOOTING,
    Phase.ACTIVE: S.ACTIVE,
    Phase.STOPPING: S.ACTIVE,
    Phase.STOPPED: S.STOPPED,
    Phase.PAUSED: S.PAUSED,
    Phase.SUSPENDED: S.SUSPENDED,
    Phase.ERROR: S.ERROR,
}

#: phases in which a job is working on the instance
IN_PROGRESS = frozenset(
    {Phase.BUILDING, Phase.STARTING, Phase.REBOOTING, Phase.BOOTING, Phase.STOPPING}
)

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


class LocalCompute(ComputeDriver):
    def __init__(
        self,
        data_dir: Path,
        settings: LocalSettings,
        images: LocalImages,
        ports: ServerPorts | None = None,
    ) -> None:
        self.instances_dir = data_dir / "instances"
        self.runc_root = data_dir / "runc"
        self.settings = settings
        self.images = images
        self.ports = ports
        self.supervisor = SupervisorClient(data_dir, settings.console_log_max_bytes)
        #: set by the backend once its block storage exists
        self.volumes: VolumeDevices | None = None
        self._jobs: ThreadPoolExecutor | None = None
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()

    # -- plumbing -----------------------------------------------------------------------------

    def start(self) -> None:
        self.instances_dir.mkdir(parents=True, exist_ok=True)
        self.runc_root.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._jobs = ThreadPoolExecutor(self.settings.boot_workers, thread_name_prefix="local")
        self.adopt()

    def close(self) -> None:
        if self._jobs is not None:
            self._jobs.shutdown(wait=True, cancel_futures=True)
            self._jobs = None
        self.supervisor.close()

    def _instance(self, ref: str) -> Instance:
        try:
            return Instance(self.instances_dir, self.runc_root, ref)
        except ValueError:
            raise NotFound(f"no server {ref}") from None

    def _lock(self, ref: str) -> threading.Lock:
        with self._locks_guard:
            return self._locks.setdefault(ref, threading.Lock())

    def _volumes(self) -> VolumeDevices:
        if self.volumes is None:
            raise NotSupported("this local backend has no block storage")
        return self.volumes

    def instance_lock(self, ref: str) -> threading.Lock:
        """The lock every change to instance ``ref`` holds (volume attachments too)."""
        return self._lock(ref)

    def _submit(self, job: Callable[[str], None], ref: str) -> None:
        if self._jobs is None:
            raise BackendError("the local backend is not started")
        self._jobs.submit(self._guarded, job, ref)

    def _guarded(self, job: Callable[[str], None], ref: str) -> None:
        try:
            job(ref)
        except Exception:  # a job must never die silently: the server shows the fault
            log.exception("local backend job %s on %s failed", job.__name__, ref)
            self._fail(ref, "internal error in the local backend (see the gateway log)")

    def _fail(self, ref: str, fault: str) -> None:
        instance = self._instance(ref)
        with self._lock(ref):
            record = instance.load()
            if record is None:
                return
            instance.log(f"boot failed: {fault}")
            try:
                instance.teardown()
            except BackendError as exc:
                log.warning("cleaning up %s after a failure: %s", ref, exc.message)
            instance.save(record.moved(Phase.ERROR, fault=fault))

    def _info(self, record: InstanceRecord) -> ServerInfo:
        status = REPORTED.get(record.phase)
        if record.phase is Phase.BOOTING:
            status = REPORTED[record.booting_as]
        return ServerInfo(
            ref=NativeRef(record.ref),
            gateway_id=record.gateway_id,
            status=status or S.ERROR,
            fault=record.fault if record.phase is Phase.ERROR else None,
        )

    # -- jobs ---------------------------------------------------------------------------------

    def _boot(self, ref: str) -> None:
        """Prepare the root, mount it, start the instance: BUILDING/STARTING -> BOOTING."""
        instance = self._instance(ref)
        record = instance.load()
        if record is None:
            return
        source = f"image {record.image or 'debian-12'}"
        image_root: Path | None = None
        if record.root_volume is not None:
            source = f"its root volume {record.root_volume}"
        instance.log(f"booting {record.name} from {source}")
        try:
            if record.root_volume is None:
                image_root = self.images.root_for(
                    NativeRef(record.image) if record.image else None,
                    progress=_ConsoleProgress(instance),
                )
        except (BackendError, NotFound) as exc:
            self._fail(ref, f"cannot boot from {source}: {exc.message}")
            return
        with self._lock(ref):
            record = instance.load()
            if record is None or record.phase not in {
                Phase.BUILDING,
                Phase.STARTING,
                Phase.REBOOTING,
            }:
                return  # deleted or changed while the image was prepared
            try:
                write_boot_dir(instance.boot_dir, TINI)
                disk = instance.upper
                if image_root is None:  # the root volume is the disk: mounted first
                    instance.teardown()  # a leftover from a crash or a host reboot
                    self._volumes().mount_root(NativeRef(ref), instance.rootfs)
                    disk = instance.rootfs
                drive = configdrive.install(instance.dir / CONFIG_DRIVE_DIR, disk)
                write_seed(
                    disk,
                    instance_id=record.gateway_id,
                    hostname=hostname_for(record.name),
                    public_key=record.public_key,
                    user_data=record.user_data,
                    metadata_service=self.ports is not None
                    and any(self.ports.serves_metadata(NativeRef(p)) for p in record.ports),
                    config_drive=drive,
                )
                if self.ports is not None:
                    resolvers = [
                        r for p in record.ports for r in self.ports.dns_servers(NativeRef(p))
                    ]
                    write_resolv_conf(disk, resolvers)
                instance.ensure_netns()
                if self.ports is not None:
                    for index, port in enumerate(record.ports):
                        self.ports.plug_port(NativeRef(port), instance.netns_path, f"eth{index}")
                devices = self.volumes.boot_devices(NativeRef(ref)) if self.volumes else []
                instance.write_bundle(record, self.settings.pids_limit, tuple(devices))
                if image_root is not None:
                    instance.teardown()  # a leftover from a crash or a host reboot
                    instance.mount_root(image_root)
                self.supervisor.run(self.runc_root, instance.bundle, ref, instance.console)
            except BackendError as exc:
                instance.log(f"boot failed: {exc.message}")
                try:
                    instance.teardown()
                except BackendError:
                    log.warning("cleaning up %s after a failed boot", ref)
                instance.save(record.moved(Phase.ERROR, fault=exc.message))
                return
            instance.save(record.moved(Phase.BOOTING, booting_as=record.phase))

    def _stop(self, ref: str) -> None:
        """STOPPING/REBOOTING -> STOPPED (or on to a boot): SIGTERM, wait, SIGKILL, clean up."""
        instance = self._instance(ref)
        with self._lock(ref):
            record = instance.load()
            if record is None or record.phase not in {Phase.STOPPING, Phase.REBOOTING}:
                return
            state = instance.runtime_state()
            if state is not None and state[0] == "running":
                instance.signal("TERM")
                deadline = time.monotonic() + self.settings.stop_timeout_seconds
                while time.monotonic() < deadline:
                    state = instance.runtime_state()
                    if state is None or state[0] == "stopped":
                        break
                    time.sleep(0.05)
            instance.teardown()
            if record.phase is Phase.STOPPING:
                instance.log("stopped")
                instance.save(record.moved(Phase.STOPPED))
                return
        self._boot(ref)

    # -- the contract -------------------------------------------------------------------------

    def create_server(self, spec: ServerSpec) -> ServerInfo:
        instance = self._instance(f"{REF_PREFIX}{spec.gateway_id}")
        with self._lock(instance.ref):
            existing = instance.load()
            if existing is not None:
                return self._info(existing)
            record = InstanceRecord.from_spec(spec)
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

    def get_server(self, ref: NativeRef) -> ServerInfo:
        instance = self._instance(ref)
        record = instance.load()
        if record is None:
            raise NotFound(f"no server {ref}")
        if record.phase in {Phase.BOOTING, Phase.ACTIVE}:
            record = self._observe(instance, record)
        return self._info(record)

    def _observe(self, instance: Instance, record: InstanceRecord) -> InstanceRecord:
        """Move BOOTING to ACTIVE once the init is up; notice an init that exited."""
        state = instance.runtime_state()
        running = state is not None and state[0] in {"running", "created"}
        if running and record.phase is Phase.ACTIVE:
            return record
        with self._lock(instance.ref):
            current = instance.load()
            if current is None or current.phase is not record.phase:
                return current or record
            if running and instance.is_ready():
                current = current.moved(Phase.ACTIVE)
            elif not running and current.phase is Phase.BOOTING:
                instance.teardown()
                current = current.moved(
                    Phase.ERROR,
                    fault=f"the instance's init exited while booting: {_last(instance)}",
                )
            elif not running:
                instance.log("the instance's init exited: the server is stopped")
                instance.teardown()
                current = current.moved(Phase.STOPPED)
            else:
                return current
            instance.save(current)
            return current

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
            instance.destroy()

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

    def _record(self, instance: Instance) -> InstanceRecord:
        record = instance.load()
        if record is None:
            raise NotFound(f"no server {instance.ref}")
        return record

    def console_output(self, ref: NativeRef, length: int | None = None) -> str:
        instance = self._instance(ref)
        if instance.load() is None:
            raise NotFound(f"no server {ref}")
        console.trim(instance.console, self.settings.console_log_max_bytes)
        return console.last_lines(instance.console, length)

    def list_servers(self) -> list[ServerInfo]:
        if not self.instances_dir.is_dir():
            return []
        found = []
        for directory in sorted(self.instances_dir.iterdir()):
            if directory.name.startswith(REF_PREFIX):
                record = self._instance(directory.name).load()
                if record is not None:
                    found.append(self._info(record))
        return found

    def adopt(self) -> None:
        """After a gateway restart: resume jobs in flight, restart instances that should run
        but do not (the host rebooted); running ones are left alone."""
        for info in self.list_servers():
            instance = self._instance(info.ref)
            record = instance.load()
            if record is None:
                continue
            if record.phase in {Phase.BUILDING, Phase.STARTING}:
                self._submit(self._boot, record.ref)
            elif record.phase in {Phase.STOPPING, Phase.REBOOTING}:
                self._submit(self._stop, record.ref)
            elif (
                record.phase in {Phase.BOOTING, Phase.ACTIVE, Phase.PAUSED, Phase.SUSPENDED}
                and instance.runtime_state() is None
            ):
                instance.log("not running after a restart of the host: starting it again")
                instance.save(record.moved(Phase.STARTING, booting_as=Phase.STARTING))
                self._submit(self._boot, record.ref)


def _last(instance: Instance) -> str:
    try:
        lines = [
            ln for ln in instance.console.read_text(errors="replace").splitlines() if ln.strip()
        ]
    except FileNotFoundError:
        return "no output"
    return lines[-1].strip() if lines else "no output"


class _ConsoleProgress:
    """Image build progress, written to the console of the instance waiting for it."""

    def __init__(self, instance: Instance) -> None:
        self.instance = instance

    def step(self, line: str) -> None:
        self.instance.log(f"image: {line}")
