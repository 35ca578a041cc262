"""The OCI bundle (``config.json``) an instance runs from under runc.

What the instance gets: its own PID, mount, UTS, IPC and cgroup namespaces and the network
namespace the backend made for it; the default container capability set (no ``CAP_SYS_ADMIN``,
no ``CAP_MKNOD``, no ``CAP_NET_ADMIN``); the seccomp profile of :mod:`.seccomp`; a device
allow-list of the pseudo-devices and of exactly the attached volumes' devices (their nodes made
by runc); cgroup limits from the flavor (its vCPUs also as a cpuset, with a ``/proc/cpuinfo`` to
match: :mod:`.procfiles`); its attached volumes, and no other block device, in ``/sys/block``
(:mod:`.sysblock`); a writable root (the overlay the backend mounted)
and, read-only at ``/run/interstack``, the guest init and tini, which runs as PID 1 and reaps
orphans.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from interstack.backends.contract import FlavorSpec
from interstack.backends.local.guest import PLATFORM_ENV
from interstack.backends.local.seccomp import seccomp_profile

#: what Docker grants a container by default, less MKNOD (the device list is the only way in)
CAPABILITIES = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
]

#: (type, major, minor) of the character devices an instance may use; everything else is denied
ALLOWED_DEVICES = [
    ("c", 1, 3),  # null
    ("c", 1, 5),  # zero
    ("c", 1, 7),  # full
    ("c", 1, 8),  # random
    ("c", 1, 9),  # urandom
    ("c", 5, 0),  # tty
    ("c", 5, 2),  # ptmx
    ("c", 136, None),  # pts/*
]

MASKED_PATHS = [
    "/proc/acpi",
    "/proc/asound",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
]
READONLY_PATHS = [
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
]

#: where the guest init and tini appear inside the instance
GUEST_BOOT_DIR = "/run/interstack"
CPU_PERIOD_US = 100_000
#: the group of block devices in Debian's base-passwd (``disk``)
DISK_GID = 6
MiB = 1024 * 1024


@dataclass(frozen=True)
class BlockDevice:
    """A volume's block device inside the instance: its node (``/dev/vdb``) and numbers."""

    path: str
    major: int
    minor: int


@dataclass(frozen=True)
class BundleSpec:
    """What varies between instances."""

    hostname: str
    rootfs: Path
    boot_dir: Path
    netns_path: Path
    cgroup_path: str
    flavor: FlavorSpec
    pids_limit: int
    #: attached volumes: created as nodes in the instance and allowed, each exactly
    block_devices: tuple[BlockDevice, ...] = ()
    #: the host CPUs the instance may run on (a cpuset list, ``"0,1"``); ``None``: any
    cpus: str | None = None
    #: the backend's files and directories bind-mounted read-only over what the kernel would
    #: show (``/proc/cpuinfo``, ``/sys/block``): (host path, path inside)
    views: tuple[tuple[Path, str], ...] = ()


def _mount(destination: str, kind: str, source: str, options: list[str]) -> dict[str, Any]:
    return {"destination": destination, "type": kind, "source": source, "options": options}


def _mounts(boot_dir: Path, views: tuple[tuple[Path, str], ...]) -> list[dict[str, Any]]:
    generated = [
        _mount(target, "bind", str(source), ["bind", "ro", "nosuid", "nodev", "noexec"])
        for source, target in views
    ]
    return [
        _mount("/proc", "proc", "proc", ["nosuid", "noexec", "nodev"]),
        _mount("/dev", "tmpfs", "tmpfs", ["nosuid", "strictatime", "mode=755", "size=65536k"]),
        _mount(
            "/dev/pts",
            "devpts",
            "devpts",
            ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"],
        ),
        _mount(
            "/dev/shm",  # noqa: S108 - the instance's own tmpfs, not the host's
            "tmpfs",
            "shm",
            ["nosuid", "noexec", "nodev", "mode=1777", "size=64m"],
        ),
        _mount("/dev/mqueue", "mqueue", "mqueue", ["nosuid", "noexec", "nodev"]),
        _mount("/sys", "sysfs", "sysfs", ["nosuid", "noexec", "nodev", "ro"]),
        _mount(
            "/sys/fs/cgroup", "cgroup", "cgroup", ["nosuid", "noexec", "nodev", "relatime", "ro"]
        ),
        _mount("/run", "tmpfs", "tmpfs", ["nosuid", "nodev", "mode=755", "size=65536k"]),
        _mount(GUEST_BOOT_DIR, "bind", str(boot_dir), ["rbind", "ro", "nosuid", "nodev"]),
        *generated,
    ]


def _devices(block_devices: tuple[BlockDevice, ...] = ()) -> list[dict[str, Any]]:
    rules: list[dict[str, Any]] = [{"allow": False, "access": "rwm"}]
    for kind, major, minor in ALLOWED_DEVICES:
        rule: dict[str, Any] = {"allow": True, "type": kind, "major": major, "access": "rwm"}
        if minor is not None:
            rule["minor"] = minor
        rules.append(rule)
    for device in block_devices:
        rules.append(
            {
                "allow": True,
                "type": "b",
                "major": device.major,
                "minor": device.minor,
                "access": "rw",
            }
        )
    return rules


def _device_nodes(block_devices: tuple[BlockDevice, ...]) -> list[dict[str, Any]]:
    return [
        {
            "path": device.path,
            "type": "b",
            "major": device.major,
            "minor": device.minor,
            "fileMode": 0o660,
            "uid": 0,
            "gid": DISK_GID,
        }
        for device in block_devices
    ]


def with_devices(config: dict[str, Any], block_devices: tuple[BlockDevice, ...]) -> dict[str, Any]:
    """A bundle's ``config.json`` whose attached volumes are ``block_devices`` instead (their
    nodes and their allow-list entries), all else kept."""
    linux = config["linux"]
    resources = {**linux["resources"], "devices": _devices(block_devices)}
    return {
        **config,
        "linux": {**linux, "devices": _device_nodes(block_devices), "resources": resources},
    }


def oci_config(spec: BundleSpec) -> dict[str, Any]:
    """The bundle's ``config.json`` as a mapping."""
    capabilities = {name: list(CAPABILITIES) for name in ("bounding", "effective", "permitted")}
    return {
        "ociVersion": "1.0.2",
        "hostname": spec.hostname,
        "root": {"path": str(spec.rootfs), "readonly": False},
        "process": {
            "terminal": False,
            "user": {"uid": 0, "gid": 0},
            "args": [f"{GUEST_BOOT_DIR}/tini", "--", "/bin/sh", f"{GUEST_BOOT_DIR}/init"],
            "env": [
                "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "container=interstack",
                "LANG=C.UTF-8",
                PLATFORM_ENV,
            ],
            "cwd": "/",
            "capabilities": capabilities,
            # sudo and ssh logins need setuid programs to work
            "noNewPrivileges": False,
        },
        "mounts": _mounts(spec.boot_dir, spec.views),
        "linux": {
            "namespaces": [
                {"type": "pid"},
                {"type": "mount"},
                {"type": "uts"},
                {"type": "ipc"},
                {"type": "cgroup"},
                {"type": "network", "path": str(spec.netns_path)},
            ],
            "devices": _device_nodes(spec.block_devices),
            "cgroupsPath": spec.cgroup_path,
            "resources": {
                "devices": _devices(spec.block_devices),
                "memory": {"limit": spec.flavor.ram_mb * MiB},
                "cpu": {
                    "quota": spec.flavor.vcpus * CPU_PERIOD_US,
                    "period": CPU_PERIOD_US,
                    **({"cpus": spec.cpus} if spec.cpus is not None else {}),
                },
                "pids": {"limit": spec.pids_limit},
            },
            "seccomp": seccomp_profile(),
            "maskedPaths": MASKED_PATHS,
            "readonlyPaths": READONLY_PATHS,
            "rootfsPropagation": "rprivate",
        },
    }
