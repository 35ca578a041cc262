"""The ``/proc/stat`` an instance sees: a ``cpu`` line per vCPU of its flavor, its own CPU time.

The kernel's file lists the host's CPUs and the host's time on them, so ``top`` and ``mpstat``
in a guest showed the host. The backend writes one per instance, bind-mounted read-only over
it (as :mod:`.meminfo` does): ``cpu<k>`` for each vCPU, its user and system time the instance's
own (its CPU cgroup's, per host CPU where the cgroup says, else shared evenly), its idle time the
rest of the time since the instance booted, and ``btime`` that boot (:mod:`.clocks`). The
remaining counters (interrupts, context switches, processes) are the host's, as lxcfs shows
them. The supervisor rewrites it every few seconds while the instance runs, in place and with
every number at a fixed width, so a reader never sees it cut short.
"""

from __future__ import annotations

import contextlib
import json
import time
from pathlib import Path

from interstack.backends.local import clocks, procfiles
from interstack.backends.local.host import CGROUP_PARENT, CGROUP_ROOT, CgroupMode, cgroup_mode

#: in an instance's directory: the instance's ``/proc/stat`` and its vCPU -> host CPU map
STAT = Path("proc") / "stat"
CPUS = Path("proc") / "cpus.json"
HOST_STAT = Path("/proc/stat")
#: the kernel's USER_HZ: /proc/stat counts in hundredths of a second
TICKS_PER_SECOND = 100
WIDTH = 16
#: the host's counters shown as they are (their first number only)
HOST_COUNTERS = ("intr", "ctxt", "processes", "procs_running", "procs_blocked")


def _cpu_line(name: str, user: int, system: int, idle: int) -> str:
    fields = (user, 0, system, idle, 0, 0, 0, 0, 0, 0)
    return f"{name:<5}" + "".join(f" {value:>{WIDTH}}" for value in fields) + "\n"


def render(times: list[tuple[int, int]], uptime_ticks: int, btime: int, host: str) -> str:
    """The file for vCPUs that used ``times`` (user, system ticks each) in ``uptime_ticks``."""
    lines = []
    per_vcpu = [(u, s, max(0, uptime_ticks - u - s)) for u, s in times]
    lines.append(_cpu_line("cpu", *(sum(column) for column in zip(*per_vcpu, strict=True))))
    lines.extend(_cpu_line(f"cpu{k}", *values) for k, values in enumerate(per_vcpu))
    counters = dict.fromkeys(HOST_COUNTERS, 0)
    for line in host.splitlines():
        name, _, rest = line.partition(" ")
        if name in counters and rest.split():
            counters[name] = int(rest.split()[0])
    for name, value in counters.items():
        if name == "processes":
            lines.append(f"btime {btime:>{WIDTH}}\n")
        lines.append(f"{name} {value:>{WIDTH}}\n")
    return "".join(lines)


def _usage_ns(ref: str) -> list[tuple[int, int]] | None:
    """(user, system) nanoseconds of instance ``ref``'s CPU cgroup per host CPU (one entry for
    all of them on cgroup v2, which keeps no per-CPU times), if it has one."""
    try:
        if cgroup_mode() is CgroupMode.V2:
            stat = CGROUP_ROOT / CGROUP_PARENT / ref / "cpu.stat"
            fields = dict(line.split() for line in stat.read_text().splitlines())
            return [(int(fields["user_usec"]) * 1000, int(fields["system_usec"]) * 1000)]
        group = CGROUP_ROOT / "cpuacct" / CGROUP_PARENT / ref
        user_ns = (group / "cpuacct.usage_percpu_user").read_text().split()
        system_ns = (group / "cpuacct.usage_percpu_sys").read_text().split()
        return [(int(u), int(s)) for u, s in zip(user_ns, system_ns, strict=False)]
    except (OSError, ValueError, KeyError):
        return None


def _vcpu_times(usage: list[tuple[int, int]], mapping: list[int]) -> list[tuple[int, int]]:
    """Ticks of user and system time of each vCPU from the cgroup's ``usage``: a host CPU's
    shared by the vCPUs on it, or, without per-CPU times, the total shared by all."""
    ticks_ns = 1_000_000_000 // TICKS_PER_SECOND
    if len(usage) == 1:
        usage, mapping = usage * len(mapping), list(range(len(mapping)))
    times = []
    for host_cpu in mapping:
        user, system = usage[host_cpu] if host_cpu < len(usage) else (0, 0)
        sharing = mapping.count(host_cpu)
        times.append((user // sharing // ticks_ns, system // sharing // ticks_ns))
    return times


def write(instance_dir: Path, mapping: list[int]) -> Path:
    """The map the instance's file is written from, and the file for its bind mount; the
    file's path. Its content comes with the boot (``refresh(booting=True)``), once the boot's
    instant is known."""
    (instance_dir / CPUS).parent.mkdir(parents=True, exist_ok=True)
    (instance_dir / CPUS).write_text(json.dumps(mapping))
    target = instance_dir / STAT
    target.touch()
    return target


def _content(
    instance_dir: Path,
    mapping: list[int],
    usage: list[tuple[int, int]],
    host_stat: str | None = None,
) -> str:
    booted = clocks.booted_at(instance_dir)
    uptime = int((time.time() - booted) * TICKS_PER_SECOND)
    times = _vcpu_times(usage, mapping)
    host = HOST_STAT.read_text() if host_stat is None else host_stat
    return render(times, uptime, int(booted), host)


def refresh(instance_dir: Path, *, booting: bool = False, host_stat: str | None = None) -> None:
    """Rewrite the instance's file in place: its CPU time now, the boot it is in. Only while it
    runs (it has a CPU cgroup), unless ``booting``: the boot instant is new, the times zero.
    ``host_stat``: the host's ``/proc/stat`` just read (one read for a round of instances)."""
    target = instance_dir / STAT
    usage = [] if booting else _usage_ns(instance_dir.name)
    if usage is None:
        return
    with contextlib.suppress(OSError, ValueError):
        mapping = [int(cpu) for cpu in json.loads((instance_dir / CPUS).read_text())]
        content = _content(instance_dir, mapping, usage, host_stat).encode()
        procfiles.rewrite_in_place(target, content)
