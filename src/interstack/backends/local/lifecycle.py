"""How an instance boots and stops: the compute driver's jobs, its locks and its state machine.

Requests return at once; booting (preparing the image, mounting the root, starting runc) and
stopping (SIGTERM, then SIGKILL after ``stop_timeout_seconds``) run as jobs on a small thread
pool, and every step is written to the instance's record first, so a restarted gateway resumes
what was in flight (``LocalCompute.adopt``). A booting instance becomes ``ACTIVE`` once its init
marks it up. One whose init exited on its own is noticed at once (:mod:`.exitwatch`) and moved
on by how it ended (:meth:`InstanceJobs._observe`): ``poweroff`` inside makes it ``STOPPED``, a
crash ``STOPPED`` and crashed (also while it boots: a VM is running for its hypervisor as soon as
it started; a start or reboot whose guest so ends is told so, ``ServerInfo.boot_ended``), and
``reboot`` inside boots it again on its disk while it stays ``ACTIVE``, as a VM rebooting itself
does for its hypervisor: the supervisor boots it again (:mod:`.rebooter`, the gateway running or
not), and the gateway watches that boot come up (one the supervisor could not make stops the
instance; the gateway boots it itself only for a supervisor from before: what an exit leaves is
:func:`.instance_ends.after_exit`), and before each boot, the gateway's or the supervisor's,
what the guest reads is written anew (:mod:`.guestfiles`). Every change to an instance holds
its lock, which the supervisor's reboots take too (:mod:`.hostlock`).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from interstack.backends.contract import NativeRef, ServerInfo, ServerStatus
from interstack.backends.local import cpushare, localdisks
from interstack.backends.local.bootwatch import BootWatch
from interstack.backends.local.bundle import BlockDevice
from interstack.backends.local.cloudinithold import CloudInitHold, cloud_init_finished
from interstack.backends.local.exitwatch import ExitWatch
from interstack.backends.local.guest import write_boot_dir
from interstack.backends.local.guestfiles import (
    GuestNetwork,
    save_network,
    write_guest_files,
)
from interstack.backends.local.guestreboots import GuestReboots
from interstack.backends.local.host import TINI
from interstack.backends.local.hostlock import DirectoryLock
from interstack.backends.local.images import LocalImages
from interstack.backends.local.instance_ends import after_exit
from interstack.backends.local.instance_record import REF_PREFIX, InstanceRecord, Phase
from interstack.backends.local.instances import Instance, instance_at
from interstack.backends.local.rebooter import REBOOTS_IN
from interstack.backends.local.seams import ServerPorts, VolumeDevices
from interstack.backends.local.settings import LocalSettings
from interstack.backends.local.supervisor import SupervisorClient
from interstack.errors import BackendError, NotFound, NotSupported

log = logging.getLogger(__name__)
S = ServerStatus

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
#: phases in which the instance's init runs (frozen, for the last two)
RUNS = frozenset({Phase.ACTIVE, Phase.PAUSED, Phase.SUSPENDED})
#: how long an exit waits for the supervisor's record of how it ended (it reaps it meanwhile)
ENDING_WAIT_SECONDS = 2.0


class InstanceJobs:
    """The compute driver's plumbing (thread pool, per-instance locks) and its boot and stop
    jobs; :class:`.compute.LocalCompute` adds the driver contract on top."""

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
        self._locks: dict[str, DirectoryLock] = {}
        self._locks_guard = threading.Lock()
        #: the gateway's ``watch_settling`` callback, told of boots that settled
        self._settled: Callable[[str], None] | None = None
        self.boot_watch = BootWatch(self._still_booting, self._init_pid, self._report_settled)
        self.exit_watch = ExitWatch(self._exited)
        self._guest_reboots = GuestReboots()
        #: the cloud-init of instances up waits while other boots are on their way
        self.cloud_init_hold = CloudInitHold(lambda ref: cloud_init_finished(self._instance(ref)))

    # -- plumbing -----------------------------------------------------------------------------

    def start_jobs(self) -> None:
        self.instances_dir.mkdir(parents=True, exist_ok=True)
        self.runc_root.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._jobs = ThreadPoolExecutor(self.settings.boot_workers, thread_name_prefix="local")
        self.boot_watch.start()
        self.exit_watch.start()

    def close(self) -> None:
        self.boot_watch.close()
        self.exit_watch.close()
        if self._jobs is not None:
            self._jobs.shutdown(wait=True, cancel_futures=True)
            self._jobs = None
        self.cloud_init_hold.release_all()
        self.supervisor.close()

    def _instance(self, ref: str) -> Instance:
        return instance_at(self.instances_dir, self.runc_root, ref)

    def _lock(self, ref: str) -> DirectoryLock:
        with self._locks_guard:
            lock = self._locks.get(ref)
            if lock is None:
                lock = self._locks[ref] = DirectoryLock(self.instances_dir / ref)
            return lock

    def _volumes(self) -> VolumeDevices:
        if self.volumes is None:
            raise NotSupported("this local backend has no block storage")
        return self.volumes

    def supervisor_answers_mounts(self) -> bool:
        """Whether the supervisor answers the guests' volume mounts (:mod:`.volumes.guestmount`)."""
        return self.supervisor.answers_mounts()

    def instance_lock(self, ref: str) -> DirectoryLock:
        """The lock every change to instance ``ref`` holds (volume attachments too)."""
        return self._lock(ref)

    def _submit(self, job: Callable[[str], None], ref: str) -> None:
        if self._jobs is None:
            raise BackendError("the local backend is not started")
        if job == self._boot:
            self.cloud_init_hold.booting(ref)
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
        self._report_settled(ref)

    def _info(self, record: InstanceRecord) -> ServerInfo:
        status = REPORTED.get(record.phase)
        if record.phase in {Phase.BOOTING, Phase.REBOOTING}:
            status = REPORTED[record.booting_as]
        return ServerInfo(
            ref=NativeRef(record.ref),
            gateway_id=record.gateway_id,
            status=status or S.ERROR,
            fault=record.fault if record.phase is Phase.ERROR else None,
            crashed=record.crashed and record.phase is Phase.STOPPED,
            boot_ended=record.boot_ended if record.phase is Phase.STOPPED else None,
        )

    # -- jobs ---------------------------------------------------------------------------------

    def _boot(self, ref: str) -> None:
        """Prepare the root, mount it, start the instance: BUILDING/STARTING -> BOOTING."""
        instance = self._instance(ref)
        record = instance.load()
        if record is None:
            self.cloud_init_hold.settled(ref)
            return
        self.supervisor.warm()  # started while the root, disk and ports are prepared
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
        log.debug("instance %s: root image ready", ref)
        with self._lock(ref):
            record = instance.load()
            if record is None or record.phase not in {
                Phase.BUILDING,
                Phase.STARTING,
                Phase.REBOOTING,
            }:
                self.cloud_init_hold.settled(ref)
                return  # deleted or changed while the image was prepared
            try:
                write_boot_dir(  # only a built image's plan: it records that image's accounts
                    instance.boot_dir,
                    TINI,
                    image_root
                    and self.images.login_plan(NativeRef(record.image) if record.image else None),
                )
                disk = instance.upper
                if image_root is None:  # the root volume is the disk: mounted first
                    instance.teardown()  # a leftover from a crash or a host reboot
                    self._volumes().mount_root(NativeRef(ref), instance.rootfs)
                    disk = instance.rootfs
                self._write_guest_files(instance, record, disk)
                # cloud-init mounts ephemeral0 at /mnt and turns swap on: a login at ACTIVE
                # finds them as Nova's guests have them by then, so those are never held
                if not record.local_disks:
                    self.cloud_init_hold.hold(ref, instance.boot_dir)
                self._run(instance, record, image_root)
            except BackendError as exc:
                instance.log(f"boot failed: {exc.message}")
                try:
                    instance.teardown()
                except BackendError:
                    log.warning("cleaning up %s after a failed boot", ref)
                instance.save(record.moved(Phase.ERROR, fault=exc.message))
                self._report_settled(ref)
                return
            # a reboot reports what it was asked as (REBOOTING; ACTIVE from inside the guest)
            booting_as = record.booting_as if record.phase is Phase.REBOOTING else record.phase
            instance.save(record.moved(Phase.BOOTING, booting_as=booting_as))
        self.boot_watch.add(ref)

    def _run(self, instance: Instance, record: InstanceRecord, image_root: Path | None) -> None:
        """Plug the instance's ports, write its bundle, mount its root over the image's (a root
        volume is mounted already) and start it under runc (the lock held)."""
        instance.ensure_netns()
        if self.ports is not None:
            for index, port in enumerate(record.ports):
                self.ports.plug_port(NativeRef(port), instance.netns_path, f"eth{index}")
        devices = self._block_devices(instance, record)
        instance.write_bundle(record, self.settings.pids_limit, devices)
        if image_root is not None:
            instance.teardown()  # a leftover from a crash or a host reboot
            instance.mount_root(image_root)
        instance.new_boot()  # a new boot time: the clocks start at zero
        log.debug("instance %s: ports plugged, bundle written; starting runc", instance.ref)
        self.supervisor.run(self.runc_root, instance.bundle, instance.ref, instance.console)
        cpushare.started(instance.cgroup_path)

    def _block_devices(self, instance: Instance, record: InstanceRecord) -> tuple[BlockDevice, ...]:
        """The devices of the boot about to start: the instance's ephemeral and swap disks
        (made at its first boot: :mod:`.localdisks`), then its attached volumes'."""
        local = localdisks.prepare(instance.dir, record.local_disks)
        volumes = self.volumes.boot_devices(NativeRef(instance.ref)) if self.volumes else []
        return (*local, *volumes)

    def _write_guest_files(self, instance: Instance, record: InstanceRecord, disk: Path) -> None:
        """What the guest reads as it boots (:mod:`.guestfiles`), from its ports now; the
        network's facts are kept for the reboots the supervisor makes."""
        network = self.guest_network(record)
        save_network(instance, network)
        write_guest_files(instance, record, network, disk)

    def guest_network(self, record: InstanceRecord) -> GuestNetwork:
        """What the instance's ports tell its guest: whether one reaches the metadata service,
        and the DNS servers of their subnets, as DHCP would."""
        ports = self.ports
        if ports is None:
            return GuestNetwork(metadata_service=False, resolvers=None)
        refs = [NativeRef(p) for p in record.ports]
        return GuestNetwork(
            metadata_service=any(ports.serves_metadata(p) for p in refs),
            resolvers=tuple(r for p in refs for r in ports.dns_servers(p)),
        )

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

    # -- the boot watch -----------------------------------------------------------------------

    def _still_booting(self, ref: str) -> bool:
        """Observe a watched instance; whether it is still booting."""
        instance = self._instance(ref)
        record = instance.load()
        if record is None or record.phase is not Phase.BOOTING:
            return False
        return self._observe(instance, record).phase is Phase.BOOTING

    def _init_pid(self, ref: str) -> int | None:
        return self._instance(ref).init_pid()

    def _exited(self, ref: str) -> None:
        """The exit watch's word: the PID 1 of running instance ``ref`` exited. One that runs
        on with another PID 1 (the supervisor booted it again at once) is watched anew."""
        instance = self._instance(ref)
        record = instance.load()
        if record is None or record.phase not in RUNS:
            return
        current = self._observe(instance, record)
        if current.phase in RUNS and (pid := instance.init_pid()) is not None:
            self.exit_watch.add(ref, pid)

    def _report_settled(self, ref: str) -> None:
        self.cloud_init_hold.settled(ref)
        if self._settled is not None:
            self._settled(ref.removeprefix(REF_PREFIX))

    # -- the contract -------------------------------------------------------------------------

    def _record(self, instance: Instance) -> InstanceRecord:
        record = instance.load()
        if record is None:
            raise NotFound(f"no server {instance.ref}")
        return record

    def _observe(self, instance: Instance, record: InstanceRecord) -> InstanceRecord:
        """Move BOOTING to ACTIVE once the init is up; notice an init that exited and act on
        how it ended (:class:`.instances.Ending`): a reboot inside the guest is booted again by the
        supervisor, which the boot watch then follows (ACTIVE all along, as Nova sees a VM
        reboot itself; one the supervisor could not make stops the instance,
        :func:`.instance_ends.after_exit`);
        a poweroff or a crash of a running, paused or suspended instance makes it STOPPED
        (crashed, for a crash), as Nova's power-state sync makes such a guest SHUTOFF, its
        disk kept for a start. runc has the last word on an exit: the quick look at its state
        file only says it runs."""
        pid = instance.init_pid()
        if pid is not None and record.phase is not Phase.BOOTING:
            return record
        # how an exited init ended, waited for before the lock is taken: the supervisor records
        # it a moment after the exit shows, and every change to the instance takes the lock
        ended = instance.exit_record(ENDING_WAIT_SECONDS) if pid is None else None
        watch_boot = False
        with self._lock(instance.ref):
            current = instance.load()
            if current is None or current.phase is not record.phase:
                return current or record
            if ended is not None and ended.rebooting and current.phase in REBOOTS_IN:
                if current.phase is Phase.BOOTING:
                    return current  # the boot watch follows the supervisor's new boot
                log.debug("instance %s: the supervisor boots it again", instance.ref)
                current = current.moved(Phase.BOOTING, booting_as=Phase.ACTIVE)
                watch_boot = True
            else:
                running = pid is not None
                if not running:
                    state = instance.runtime_state()
                    running = state is not None and state[0] != "stopped"  # paused: it still is
                if running and instance.is_ready(pid):
                    log.debug("instance %s: the guest marked itself up", instance.ref)
                    cpushare.weigh_instance(instance.cgroup_path, booting=False)
                    current = current.moved(Phase.ACTIVE)
                    if pid is not None:
                        self.exit_watch.add(instance.ref, pid)
                elif running:
                    return current
                else:
                    current = after_exit(instance, current, ended or instance.exit_record())
            instance.save(current)
        if watch_boot:
            self.boot_watch.add(instance.ref)
        if current.phase is Phase.REBOOTING:
            self._reboot_guest(instance.ref)
        return current

    def _reboot_guest(self, ref: str) -> None:
        """Boot again an instance that rebooted itself under a supervisor from before the
        supervisor made reboots (:func:`.instance_ends.after_exit`), paced
        (:mod:`.guestreboots`): a reboot that must wait does so on a timer, not on a boot
        worker (a gateway stopped meanwhile leaves it REBOOTING, which ``adopt`` resumes)."""
        delay = self._guest_reboots.delay(ref, time.monotonic())
        if delay <= 0:
            self._submit(self._stop, ref)
            return
        self._instance(ref).log(f"the guest rebooted again soon: its boot waits {delay:.0f} s")

        def submit() -> None:
            with contextlib.suppress(BackendError, RuntimeError):  # the backend stopped
                self._submit(self._stop, ref)

        timer = threading.Timer(delay, submit)
        timer.daemon = True
        timer.start()


class _ConsoleProgress:
    """Image build progress, written to the console of the instance waiting for it."""

    def __init__(self, instance: Instance) -> None:
        self.instance = instance

    def step(self, line: str) -> None:
        self.instance.log(f"image: {line}")
