"""One instance on the host: its persisted record, its directory and its host artifacts.

Everything about an instance lives under ``<data>/instances/<ref>/`` so that a restarted
gateway finds it again::

    record.json   what the server is (spec, phase, fault: :mod:`.instance_record`), rewritten
                  atomically
    console.log   the instance's output (runc, tini, the init, cloud-init), appended per boot
    disk/upper    the server's disk: the overlay's writable layer (survives stop/start)
    disk/work     overlayfs's work directory
    rootfs/       where the overlay is mounted while the instance runs
    bundle/       the OCI bundle (config.json)
    boot/         the guest init, tini and the boot's utmp records, read-only at /run/interstack
    proc/         generated /proc files (cpuinfo, meminfo, stat), mounted read-only over the
                  kernel's
    sys/          the block devices the instance sees in /sys (:mod:`.sysblock`)
    clocks.json   the offsets of the instance's clocks (:mod:`.clocks`)
    exit.json     how the last boot's PID 1 ended, written by the supervisor (:meth:`exit_record`)
    lock          the instance's lock, the gateway's and the supervisor's (:mod:`.hostlock`)

Its view of ``/sys/devices/system/cpu`` is shared with the instances of the same vCPU map, in
``<data>/cpu-views`` (:mod:`.cpusys`). Host artifacts outside it: the overlay mount, the network
namespace ``/run/netns/<name>``, the runc state (under ``<data>/runc``) and the cgroups
``/interstack/<ref>``; :meth:`teardown` and :meth:`destroy` remove them.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import asdict
from enum import StrEnum
from pathlib import Path

from interstack.backends.contract import LocalDisk
from interstack.backends.contract.compute import hostname_for
from interstack.backends.local import (
    clocks,
    console,
    cpushare,
    cpusys,
    exitrecord,
    meminfo,
    procfiles,
    procstat,
    sysblock,
    utmp,
)
from interstack.backends.local.bundle import BlockDevice, BundleSpec, oci_config, with_devices
from interstack.backends.local.diskfiles import holds_file
from interstack.backends.local.exitrecord import ExitRecord, Reboot
from interstack.backends.local.guest import READY_MARKER, REBOOT_EXIT_CODE
from interstack.backends.local.host import (
    CGROUP_PARENT,
    CgroupMode,
    cgroup_mode,
    has_cpuset,
    is_mounted,
    run,
    unmount,
)
from interstack.backends.local.instance_record import REF_PREFIX, InstanceRecord, Phase
from interstack.backends.local.network import links
from interstack.errors import BackendError, NotFound

#: beside ``instances``: the vCPU views the instances share (:mod:`.cpusys`)
CPU_VIEWS_DIR = "cpu-views"
NETNS_DIR = Path("/run/netns")


class Ending(StrEnum):
    """How an instance's PID 1 ended, by its exit code: tini's is its init's (:mod:`.guest`)."""

    POWERED_OFF = "powered off"  # the init stopped (poweroff, halt, shutdown inside, or SIGTERM)
    REBOOT = "reboot"  # reboot or shutdown -r inside
    CRASHED = "crashed"  # the init died (killed, or failed) without being asked to stop

    @classmethod
    def of(cls, exit_code: int) -> Ending:
        if exit_code == 0:
            return cls.POWERED_OFF
        return cls.REBOOT if exit_code == REBOOT_EXIT_CODE else cls.CRASHED


def server_netns_name(gateway_id: str) -> str:
    """The network namespace of a server, named from its gateway id (the networking seam)."""
    return f"srv-{gateway_id}"


#: in an instance's directory: its record
RECORD_NAME = "record.json"


class Instance:
    """The host side of one instance: paths, record I/O and the runc/mount/netns calls."""

    def __init__(self, instances_dir: Path, runc_root: Path, ref: str) -> None:
        if not ref.startswith(REF_PREFIX) or "/" in ref:
            raise ValueError(f"not an instance ref: {ref}")
        self.ref = ref
        self.dir = instances_dir / ref
        self.runc_root = runc_root
        self.record_path = self.dir / RECORD_NAME
        self.console = self.dir / console.LOG_NAME
        self.upper = self.dir / "disk" / "upper"
        self.work = self.dir / "disk" / "work"
        self.rootfs = self.dir / "rootfs"
        self.bundle = self.dir / "bundle"
        self.boot_dir = self.dir / "boot"
        self.proc_dir = self.dir / "proc"
        #: the vCPU views, shared by the instances with the same vCPU map (:mod:`.cpusys`)
        self.cpu_views = instances_dir.parent / CPU_VIEWS_DIR
        self.cgroup_path = f"/{CGROUP_PARENT}/{ref}"

    # -- the record ---------------------------------------------------------------------------

    def load(self) -> InstanceRecord | None:
        try:
            raw = json.loads(self.record_path.read_text())
        except FileNotFoundError:
            return None
        raw["ports"] = tuple(raw["ports"])
        raw["phase"] = Phase(raw["phase"])
        raw["booting_as"] = Phase(raw["booting_as"])
        raw["local_disks"] = tuple(LocalDisk(**d) for d in raw.get("local_disks", ()))
        return InstanceRecord(**raw)

    def save(self, record: InstanceRecord) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        tmp = self.record_path.with_name(f".{RECORD_NAME}.tmp")
        tmp.write_text(json.dumps(asdict(record), indent=1))
        os.replace(tmp, self.record_path)

    def log(self, line: str) -> None:
        """Append to the console log of an instance that exists; a line about an instance
        deleted meanwhile (an image build still reporting progress) is dropped, never left as a
        directory of its own."""
        try:
            with self.console.open("a", encoding="utf-8") as out:
                out.write(f"interstack: {line}\n")
        except FileNotFoundError:
            return

    # -- runc ---------------------------------------------------------------------------------

    def _runc(self, *args: str, what: str) -> str:
        return run(clocks.runc_argv(self.runc_root, self.ref, *args), what=what)

    def runtime_state(self) -> tuple[str, int] | None:
        """runc's status (running, paused, stopped, created) and PID 1's pid, or ``None``."""
        if not (self.runc_root / self.ref).exists():
            return None
        try:
            state = json.loads(self._runc("state", self.ref, what="read the instance state"))
        except (BackendError, ValueError):
            return None
        return str(state.get("status")), int(state.get("pid") or 0)

    def init_pid(self) -> int | None:
        """The host pid of the instance's PID 1 while it lives, from runc's state file and
        /proc, without running runc: the boot's readiness check runs often, and runc (a Go
        binary started per call) takes a tenth of a second and more on a loaded host. ``None``
        when runc knows no such instance or its init has exited (a pid taken over by another
        process is not in the instance's cgroup)."""
        pid = self._state_pid()
        if pid is None:
            return None
        try:
            cgroups = Path(f"/proc/{pid}/cgroup").read_text()
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return None
        if pid <= 0 or stat.rpartition(")")[2].split()[:1] in (["Z"], ["X"]):
            return None  # exited, not reaped yet
        ours = any(line.endswith(f":{self.cgroup_path}") for line in cgroups.splitlines())
        return pid if ours else None

    def _state_pid(self) -> int | None:
        return state_pid(self.runc_root, self.ref)

    def init_alive(self) -> bool:
        """Whether the instance's PID 1 still runs (:meth:`init_pid`); cheap enough for every
        listing, while :meth:`runtime_state` is the authority."""
        return self.init_pid() is not None

    def exit_record(self, wait_seconds: float = 0.0) -> ExitRecord | None:
        """How the current boot's PID 1 ended, as the supervisor recorded it on reaping it
        (:mod:`.exitrecord`); None while it is not recorded (waiting up to ``wait_seconds``: the
        supervisor reaps an exit a moment after it shows) or with no supervisor to record it. A
        record of an earlier PID 1 than the one runc knows is not it, nor a reboot done whose
        new PID 1 has ended too (its own record follows)."""
        deadline = time.monotonic() + wait_seconds
        while True:
            record = exitrecord.read(self.dir)
            if record is not None and self._is_current(record):
                return exitrecord.outlived(record)
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.02)

    def _is_current(self, record: ExitRecord) -> bool:
        if record.reboot is Reboot.DONE:
            return record.next_pid is not None and self.init_pid() == record.next_pid
        known = self._state_pid()
        return known is None or known == record.pid

    def ending(self, wait_seconds: float = 0.0) -> Ending | None:
        """How the last boot's PID 1 ended (:meth:`exit_record`), None while not recorded."""
        record = self.exit_record(wait_seconds)
        return Ending.of(record.exit_code) if record is not None else None

    def is_ready(self, pid: int | None = None) -> bool:
        """Whether the guest init has marked the instance up (it sees its own /run); ``pid`` is
        an :meth:`init_pid` just read, which spares reading it again."""
        pid = pid or self.init_pid()
        return pid is not None and marked_up(pid)

    def signal(self, name: str) -> None:
        """Send a signal to PID 1 (tini forwards it to the init); a stopped one is fine."""
        try:
            self._runc("kill", self.ref, name, what=f"send {name} to the instance")
        except BackendError:
            state = self.runtime_state()
            if state is not None and state[0] != "stopped":
                raise

    def pause(self) -> None:
        self._runc("pause", self.ref, what="freeze the instance")

    def resume(self) -> None:
        self._runc("resume", self.ref, what="thaw the instance")

    # -- host artifacts -----------------------------------------------------------------------

    @property
    def netns_name(self) -> str:
        return server_netns_name(self.ref.removeprefix(REF_PREFIX))

    @property
    def netns_path(self) -> Path:
        return NETNS_DIR / self.netns_name

    def ensure_netns(self) -> None:
        """The server's network namespace with loopback up (ports are plugged into it)."""
        links.ensure_netns(self.netns_name)

    def write_bundle(
        self, record: InstanceRecord, pids_limit: int, block_devices: tuple[BlockDevice, ...] = ()
    ) -> None:
        vcpus = procfiles.vcpu_map(record.vcpus, self.ref, procfiles.online_cpus())
        cpuinfo = self.proc_dir / "cpuinfo"
        procfiles.write_cpuinfo(cpuinfo, vcpus)
        memory = meminfo.write(self.dir, record.ram_mb * 1024 * 1024)
        stat = procstat.write(self.dir, vcpus)
        cpus = cpusys.write(self.cpu_views, vcpus)
        devices = ((d.path, d.major, d.minor) for d in block_devices)
        root_bytes = record.disk_gb * 1024**3 or sysblock.ROOT_DISK_FALLBACK
        sysblock.reset(self.dir, devices, root_bytes, record.root_device)
        spec = BundleSpec(
            hostname=hostname_for(record.name),
            rootfs=self.rootfs,
            boot_dir=self.boot_dir,
            netns_path=self.netns_path,
            cgroup_path=self.cgroup_path,
            flavor=record.flavor,
            pids_limit=pids_limit,
            block_devices=block_devices,
            cpus=procfiles.cpuset(vcpus) if has_cpuset() else None,
            views=(
                (cpuinfo, "/proc/cpuinfo"),
                (memory, "/proc/meminfo"),
                (stat, "/proc/stat"),
                (cpus, "/sys/devices/system/cpu"),
                (sysblock.block_dir(self.dir), "/sys/block"),
                (sysblock.devno_dir(self.dir), "/sys/dev/block"),
            ),
        )
        self.bundle.mkdir(parents=True, exist_ok=True)
        tmp = self.bundle / ".config.json.tmp"
        tmp.write_text(json.dumps(oci_config(spec), indent=1))
        os.replace(tmp, self.bundle / "config.json")

    def rewrite_block_devices(self, block_devices: tuple[BlockDevice, ...]) -> None:
        """The bundle's volumes' devices are now ``block_devices`` (a hot attach or detach):
        the next boot the supervisor makes on its own, a reboot inside the guest, has these
        volumes, and the instance's own local disks as before."""
        config = self.bundle / "config.json"
        try:
            current = json.loads(config.read_text())
        except FileNotFoundError:
            return  # never booted: its first boot writes the bundle
        except ValueError as exc:
            raise BackendError(f"the bundle of {self.ref} is unreadable: {exc}") from exc
        record = self.load()
        local = {d.device for d in record.local_disks} if record is not None else set()
        kept = tuple(d for d in self.block_devices() if d.path in local)
        tmp = self.bundle / ".config.json.tmp"
        tmp.write_text(json.dumps(with_devices(current, kept + block_devices), indent=1))
        os.replace(tmp, config)

    def block_devices(self) -> tuple[BlockDevice, ...]:
        """The volumes' devices the bundle lists: those attached now, as the gateway last wrote
        them (:meth:`rewrite_block_devices`); none without a bundle."""
        try:
            nodes = json.loads((self.bundle / "config.json").read_text())["linux"]["devices"]
            return tuple(
                BlockDevice(str(n["path"]), int(n["major"]), int(n["minor"]))
                for n in nodes
                if n.get("type") == "b"
            )
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return ()

    def new_boot(self) -> None:
        """A boot the gateway is about to start: the last boot's end forgotten, and
        :meth:`boot_records`."""
        exitrecord.clear(self.dir)  # the last boot's end
        self.boot_records()

    def boot_records(self) -> None:
        """Clocks that start at zero for the boot about to start (:mod:`.clocks`), and that
        boot's instant in what the guest reads of it: its utmp records and ``/proc/stat``. (A
        reboot the supervisor makes keeps the exit record, which says it made it.)"""
        clocks.fresh(self.dir)
        utmp.write(self.boot_dir, clocks.booted_at(self.dir))
        procstat.refresh(self.dir, booting=True)

    def mount_root(self, image_root: Path) -> None:
        for directory in (self.upper, self.work, self.rootfs):
            directory.mkdir(parents=True, exist_ok=True)
        if is_mounted(self.rootfs):
            return
        options = f"lowerdir={image_root},upperdir={self.upper},workdir={self.work}"
        run(
            ["mount", "-t", "overlay", "overlay", "-o", options, str(self.rootfs)],
            what="mount the instance's root",
        )

    def teardown(self) -> None:
        """Stop what runs and unmount: what a stopped instance must not hold. Idempotent."""
        if self.runtime_state() is not None:
            # --force kills what still runs (thawing a frozen instance first)
            self._runc("delete", "--force", self.ref, what="remove the instance from runc")
            cpushare.rebalance()
        unmount(self.rootfs)

    def destroy(self) -> None:
        """Everything :meth:`teardown` does, then the netns, cgroups and the directory."""
        self.teardown()
        if self.netns_path.exists():
            run(["ip", "netns", "delete", self.netns_name], what="delete the network namespace")
        for cgroup in cgroup_dirs(self.cgroup_path):
            if cgroup.is_dir():
                try:
                    cgroup.rmdir()
                except OSError as exc:
                    raise BackendError(f"cannot remove cgroup {cgroup}: {exc.strerror}") from exc
        shutil.rmtree(self.dir, ignore_errors=True)


def state_pid(runc_root: Path, ref: str) -> int | None:
    """The PID 1 runc's state file of instance ``ref`` names (alive or not), or ``None``."""
    try:
        state = json.loads((runc_root / ref / "state.json").read_text())
        return int(state["init_process_pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def marked_up(pid: int) -> bool:
    """Whether the guest whose PID 1 is host pid ``pid`` marked itself up (the host sees the
    guest's /run through that process's root)."""
    return marked_up_in(Path(f"/proc/{pid}/root"))


def marked_up_in(guest_root: Path) -> bool:
    """Whether the guest tree ``guest_root`` holds the readiness marker, a file. A link the guest
    left at ``/run`` or at the marker is no mark: followed, it would resolve against the host's
    root and tell the guest (by its server's status) whether a path of the host's exists."""
    return holds_file(guest_root, READY_MARKER)


def instance_at(instances_dir: Path, runc_root: Path, ref: str) -> Instance:
    """The instance ``ref`` names; ``NotFound`` for a ref that is not an instance's (a ref
    comes from the store, so a malformed one is a server this backend never had)."""
    try:
        return Instance(instances_dir, runc_root, ref)
    except ValueError:
        raise NotFound(f"no server {ref}") from None


def cgroup_dirs(path: str) -> list[Path]:
    """The cgroup directories of ``path`` on this host (one per v1 hierarchy, or one on v2)."""
    root = Path("/sys/fs/cgroup")
    relative = path.lstrip("/")
    if cgroup_mode() is CgroupMode.V2:
        return [root / relative]
    return [
        hierarchy / relative
        for hierarchy in sorted(root.iterdir())
        if hierarchy.is_dir() and not hierarchy.is_symlink() and hierarchy.name != "unified"
    ]


def memory_limit_bytes(path: str) -> int | None:
    """The memory limit of cgroup ``path``, or ``None`` if it has none or does not exist."""
    root = Path("/sys/fs/cgroup")
    relative = path.lstrip("/")
    if cgroup_mode() is CgroupMode.V2:
        limit_file = root / relative / "memory.max"
    else:
        limit_file = root / "memory" / relative / "memory.limit_in_bytes"
    try:
        text = limit_file.read_text().strip()
    except FileNotFoundError:
        return None
    return None if text == "max" else int(text)
