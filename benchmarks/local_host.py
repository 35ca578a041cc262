"""What the local boot benchmark (:mod:`local_boot`) reads from the host: the memory of an
instance, the CPU time of the instances, of the gateway, of its helper processes and of the
whole host; and the CPU share its own client side gets (:func:`client_share`)."""

from __future__ import annotations

import contextlib
import os
import resource
from collections.abc import Iterator
from pathlib import Path

from tokens import Gateway

from interstack.backends.local import cpushare
from interstack.backends.local.host import CGROUP_PARENT, CGROUP_ROOT, CgroupMode, cgroup_mode
from interstack.backends.local.instance_record import ref_for

#: the cgroup the benchmark's client side (itself and its ssh clients) measures from
CLIENT_GROUP = "interstack-bench-client"


def _cpu_dir(mode: CgroupMode) -> Path:
    return CGROUP_ROOT if mode is CgroupMode.V2 else CGROUP_ROOT / "cpu"


@contextlib.contextmanager
def client_share(vcpus: int) -> Iterator[str]:
    """Run this process, and the ssh clients it starts, in :data:`CLIENT_GROUP` weighing
    ``vcpus`` processes (what that many instances weigh together, one process per vCPU) and
    back in the root cgroup afterwards. The client stands in for a user's own machine: left in
    the root cgroup, one process against the instances' parent, its ssh clients waited for CPU
    behind 20 guests' cloud-init and the key logins measured that wait. Yields where they
    measure from, printed with the figures; ``vcpus`` 0: it stays where it is."""
    mode = cgroup_mode()
    where = cpushare.V2 if mode is CgroupMode.V2 else cpushare.V1
    group = _cpu_dir(mode) / CLIENT_GROUP
    moved = False
    try:
        placed = cpushare.own_cgroup(mode, Path("/proc/self/cgroup").read_text())
        said = f"from its own cgroup {placed}"
        if placed == "/":
            said = (
                "from the host's root cgroup, one process against the instances' one per vCPU "
                "(as a client on this host would)"
            )
        if placed == "/" and vcpus > 0:
            group.mkdir(exist_ok=True)
            weight = min(where.highest, where.per_cpu * max(1, vcpus))
            (group / where.weight).write_text(f"{weight}\n")
            (group / "cgroup.procs").write_text(f"{os.getpid()}\n")
            moved = True
            said = (
                f"from {CLIENT_GROUP}, weighing {vcpus} processes "
                "(as a user's own machine; --client-in-root-cgroup: as a client on this host)"
            )
    except OSError as error:
        said = f"from its own cgroup (cannot move: {error})"
    try:
        yield said
    finally:
        if moved:
            with contextlib.suppress(OSError):
                (_cpu_dir(mode) / "cgroup.procs").write_text(f"{os.getpid()}\n")
                group.rmdir()


def memory_of(server: str) -> tuple[int, int]:
    """(usage now, peak) in bytes of the server's memory cgroup."""
    relative = f"{CGROUP_PARENT}/{ref_for(server)}"
    if cgroup_mode() is CgroupMode.V2:
        base = Path("/sys/fs/cgroup") / relative
        now_file, peak_file = base / "memory.current", base / "memory.peak"
    else:
        base = Path("/sys/fs/cgroup/memory") / relative
        now_file, peak_file = base / "memory.usage_in_bytes", base / "memory.max_usage_in_bytes"
    now = int(now_file.read_text())
    peak = int(peak_file.read_text()) if peak_file.exists() else now
    return now, peak


def instance_cpu_seconds(server: str) -> float:
    """CPU time one server's instance has used since it started (its own cgroup's total)."""
    relative = f"{CGROUP_PARENT}/{ref_for(server)}"
    if cgroup_mode() is CgroupMode.V2:
        stat = (Path("/sys/fs/cgroup") / relative / "cpu.stat").read_text().split()
        return int(stat[stat.index("usage_usec") + 1]) / 1e6
    return int((Path("/sys/fs/cgroup/cpuacct") / relative / "cpuacct.usage").read_text()) / 1e9


def instances_cpu_seconds() -> float:
    """CPU time every instance of the backend has used so far (its parent cgroup's total)."""
    if cgroup_mode() is CgroupMode.V2:
        stat = (Path("/sys/fs/cgroup") / CGROUP_PARENT / "cpu.stat").read_text().split()
        return int(stat[stat.index("usage_usec") + 1]) / 1e6
    return int((Path("/sys/fs/cgroup/cpuacct") / CGROUP_PARENT / "cpuacct.usage").read_text()) / 1e9


def _in_an_instance(pid: int) -> bool:
    try:
        return f"/{CGROUP_PARENT}/" in Path(f"/proc/{pid}/cgroup").read_text()
    except OSError:  # gone meanwhile
        return True


def helpers_cpu_seconds(gateway_pid: int) -> float:
    """CPU time of the gateway's live descendants outside the instances, with the children
    they reaped: the supervisor (and the ``runc`` it ran), the metadata proxies, dnsmasq. The
    gateway's own figure has none of it until it reaps them, at its end."""
    stats: dict[int, list[str]] = {}
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        stats[int(entry.name)] = fields
        children.setdefault(int(fields[1]), []).append(int(entry.name))
    ticks, todo = 0, list(children.get(gateway_pid, []))
    while todo:
        pid = todo.pop()
        if _in_an_instance(pid):  # an instance's processes (their CPU is the instances')
            continue
        ticks += sum(int(f) for f in stats[pid][11:15])
        todo.extend(children.get(pid, []))
    return ticks / os.sysconf("SC_CLK_TCK")


def host_busy_cpu_seconds() -> float:
    """CPU time the whole host has spent busy (not idle, not waiting for I/O) so far."""
    ticks = [int(f) for f in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = ticks[3] + ticks[4]
    return (sum(ticks) - idle) / os.sysconf("SC_CLK_TCK")


def cpu_now(gateway: Gateway) -> dict[str, float]:
    assert gateway.process is not None
    own = resource.getrusage(resource.RUSAGE_SELF)
    # the benchmark's children it reaped: its ssh clients (the gateway, also its child, is
    # reaped only at the end)
    reaped = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "instances": instances_cpu_seconds(),
        "gateway": gateway.cpu_seconds(),
        "helpers": helpers_cpu_seconds(gateway.process.pid),
        "benchmark": own.ru_utime + own.ru_stime,
        "ssh_clients": reaped.ru_utime + reaped.ru_stime,
        "host": host_busy_cpu_seconds(),
    }
