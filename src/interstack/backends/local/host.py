"""The host the local backend runs on: what it offers, and running its tools.

Every tool failure becomes a ``BackendError`` carrying the tool's last line of output, so that a
server fault or an API error says what went wrong in one line.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence
from enum import StrEnum
from pathlib import Path

from interstack.errors import BackendError

CGROUP_ROOT = Path("/sys/fs/cgroup")
#: the cgroup under which every instance has its own (``/interstack/<ref>``)
CGROUP_PARENT = "interstack"
TINI = Path("/usr/bin/tini-static")
#: the tools instances and their networks need on the host (Debian packages runc, tini,
#: iproute2, nftables, dnsmasq-base)
REQUIRED_TOOLS = ("runc", "ip", "mount", "umount", "tar", "nft", "dnsmasq")
BR_NETFILTER = Path("/proc/sys/net/bridge/bridge-nf-call-iptables")


class CgroupMode(StrEnum):
    V1 = "v1"  # legacy or hybrid: one hierarchy per controller
    V2 = "v2"  # unified


def cgroup_mode() -> CgroupMode:
    """v2 when the unified hierarchy holds the controllers, else v1 (hybrid counts as v1)."""
    if (CGROUP_ROOT / "cgroup.controllers").exists():
        return CgroupMode.V2
    return CgroupMode.V1


def has_cpuset() -> bool:
    """Whether instances can be confined to CPUs (the cpuset controller is there to use)."""
    if cgroup_mode() is CgroupMode.V2:
        controllers = (CGROUP_ROOT / "cgroup.controllers").read_text().split()
        return "cpuset" in controllers
    return (CGROUP_ROOT / "cpuset" / "cpuset.cpus").exists()


def unavailable_reason() -> str | None:
    """Why this host cannot run local instances, or ``None`` if it can."""
    if os.geteuid() != 0:
        return "instances need root (runc, mounts, network namespaces)"
    missing = [tool for tool in REQUIRED_TOOLS if shutil.which(tool) is None]
    if missing:
        return f"missing host tools: {', '.join(missing)} (install the Debian packages)"
    if not TINI.exists():
        return f"missing {TINI} (Debian package tini)"
    if not Path("/proc/self/ns/pid").exists():
        return "the kernel has no PID namespaces"
    if not BR_NETFILTER.exists():
        return "the kernel has no br_netfilter: security groups could not filter bridged traffic"
    return None


def last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def run(argv: Sequence[str], *, what: str, input_bytes: bytes | None = None) -> str:
    """Run a host tool to completion; its output, or a ``BackendError`` naming ``what`` failed."""
    try:
        done = subprocess.run(  # noqa: S603 - argument list, no shell
            list(argv), input=input_bytes, capture_output=True, check=False, timeout=300
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise BackendError(f"{what}: {exc}") from exc
    if done.returncode != 0:
        detail = last_line(done.stderr.decode(errors="replace")) or last_line(
            done.stdout.decode(errors="replace")
        )
        raise BackendError(f"{what}: {detail or f'exit status {done.returncode}'}")
    return done.stdout.decode(errors="replace")


def is_mounted(path: Path) -> bool:
    target = str(path)
    with open("/proc/self/mounts", encoding="utf-8") as mounts:
        return any(line.split()[1] == target for line in mounts if len(line.split()) > 1)


def unmount(path: Path) -> None:
    """Unmount ``path`` if something is mounted there (lazily if busy)."""
    if is_mounted(path):
        run(["umount", "--lazy", str(path)], what=f"unmount {path}")
