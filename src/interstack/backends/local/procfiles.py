"""What an instance sees of its virtual hardware: its flavor's vCPUs, not the host's CPUs.

A flavor's vCPUs become a cpuset: vCPU ``k`` runs on host CPU ``(start + k) mod n`` of the host's
``n`` online CPUs, ``start`` chosen from the instance's ref so that small instances spread over
the host. ``nproc`` (the affinity) then counts the distinct CPUs, and a generated
``/proc/cpuinfo``, bind-mounted read-only over the kernel's, lists exactly the flavor's vCPUs,
each a copy of its host CPU's entry renumbered ``0..vcpus-1``. A flavor with more vCPUs than
the host has wraps around: its cpuinfo still lists all of its vCPUs (two of them on one host
CPU), but ``nproc`` can only count the host's CPUs, since an affinity cannot name a CPU twice;
the CPU quota gives it no more than the host's CPUs either.

runc allows bind mounts over these few ``/proc`` files (as lxcfs uses them); anything else
under ``/proc`` stays the kernel's.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

HOST_CPUINFO = Path("/proc/cpuinfo")
ONLINE_CPUS = Path("/sys/devices/system/cpu/online")
#: the per-CPU fields that describe topology, rewritten for the instance's own numbering
_RENUMBERED = ("processor", "core id", "apicid", "initial apicid")
_COUNTS = ("siblings", "cpu cores")


def online_cpus() -> list[int]:
    """The host's online CPUs (``0-1,4`` -> ``[0, 1, 4]``)."""
    try:
        text = ONLINE_CPUS.read_text().strip()
    except OSError:
        return sorted(os.sched_getaffinity(0))
    cpus: list[int] = []
    for part in filter(None, text.split(",")):
        first, _, last = part.partition("-")
        cpus.extend(range(int(first), int(last or first) + 1))
    return cpus


def vcpu_map(vcpus: int, seed: str, host_cpus: list[int]) -> list[int]:
    """The host CPU of each of ``vcpus`` vCPUs, wrapping around the host's CPUs."""
    start = int.from_bytes(hashlib.sha256(seed.encode()).digest()[:4], "big") % len(host_cpus)
    return [host_cpus[(start + k) % len(host_cpus)] for k in range(max(1, vcpus))]


def cpuset(mapping: list[int]) -> str:
    """The cgroup ``cpuset.cpus`` value of a vCPU map (each host CPU once)."""
    return ",".join(str(cpu) for cpu in sorted(set(mapping)))


def _entries(cpuinfo: str) -> dict[int, list[str]]:
    """The host's cpuinfo entries by processor number."""
    found: dict[int, list[str]] = {}
    for block in cpuinfo.strip().split("\n\n"):
        lines = block.splitlines()
        for line in lines:
            key, _, value = line.partition(":")
            if key.strip() == "processor":
                found[int(value)] = lines
                break
    return found


def cpuinfo_for(mapping: list[int], host_cpuinfo: str) -> str:
    """``/proc/cpuinfo`` of an instance whose vCPU ``k`` runs on host CPU ``mapping[k]``."""
    entries = _entries(host_cpuinfo)
    fallback = next(iter(entries.values()), [])
    blocks = []
    for vcpu, host_cpu in enumerate(mapping):
        lines = []
        for line in entries.get(host_cpu, fallback):
            key, sep, _ = line.partition(":")
            name = key.strip()
            if sep and name in _RENUMBERED:
                lines.append(f"{key}: {vcpu}")
            elif sep and name in _COUNTS:
                lines.append(f"{key}: {len(mapping)}")
            else:
                lines.append(line)
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n\n"


def write_cpuinfo(target: Path, mapping: list[int]) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(cpuinfo_for(mapping, HOST_CPUINFO.read_text()))


def rewrite_in_place(target: Path, content: bytes) -> None:
    """Replace the content of a view a running guest reads through a bind mount. The mount
    holds the file itself, so a new file renamed over it would go unseen: the new bytes are
    written over the old ones in one ``pwrite``. The views keep every number at a fixed width,
    so the length stays and a reader never sees the file empty or cut short (one racing the
    write may read some numbers old and others new, as with the kernel's own files read in
    parts); a length that did change is set after the write."""
    fd = os.open(target, os.O_WRONLY)
    try:
        os.pwrite(fd, content, 0)
        if os.fstat(fd).st_size != len(content):
            os.ftruncate(fd, len(content))
    finally:
        os.close(fd)
