"""The instances' share of the host's CPU, and the gateway's beside them.

Every instance's cgroup sits under one parent (``/interstack``), and the kernel divides CPU
time between that parent and the host's other processes by the parent's weight, which is one
process's by default: twenty booting instances on a busy host got together what one process
got, and booted one after another. A hypervisor runs each vCPU as a thread of its own, so the
parent here weighs one process per vCPU of the instances under it (read from their CPU quotas,
which stay what caps each one). :func:`rebalance` runs whenever an instance starts or goes.

That weight outweighed the gateway, one process, twenty to one: every boot waits on it (its
API, the boot work, the metadata each guest crawls), so twenty booted at once waited for it
(its task steps started seconds late, and the last instance started after 10 s). The gateway
therefore moves itself, before it starts any helper (which inherit its cgroup: the supervisor
and runc, dnsmasq, the metadata proxies), into a cgroup of its own beside the instances'
(``/interstack-gateway``, :func:`keep_gateway_share`) that weighs what the instances weigh
together, as systemd weighs its machine.slice (every VM) and its system.slice (the host's
services) the same: when both want CPU, each gets half, and the gateway, idle most of the time,
leaves the instances everything else. A gateway a service manager placed elsewhere stays
there (its unit's weight is the operator's to set).

Among the instances, one still booting weighs :data:`BOOTING_FACTOR` times what one that is up
weighs, until its guest marks itself up (:func:`weigh_instance`): someone waits for a booting
server, while one that is up runs cloud-init's remaining work (beside sshd, at nice 10), which
took the CPU of twenty booting at once from the ones still on their way to sshd.
"""

from __future__ import annotations

import logging
import math
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from interstack.backends.local.host import CGROUP_PARENT, CGROUP_ROOT, CgroupMode, cgroup_mode

log = logging.getLogger(__name__)

#: the cgroup of the gateways of this host and the helpers they start, beside the instances'
GATEWAY_GROUP = "interstack-gateway"
#: where this process's cgroups are listed
PROC_CGROUP = Path("/proc/self/cgroup")


@dataclass(frozen=True)
class WeightFiles:
    """Where a cgroup version keeps the parent's weight and a child's CPU quota."""

    parent: Path
    weight: str  # the parent's weight file
    per_cpu: int  # the weight of one process (one vCPU)
    lowest: int
    highest: int
    gateway: Path | None = None  # the gateway's cgroup, weighed as the parent is


V1 = WeightFiles(
    CGROUP_ROOT / "cpu" / CGROUP_PARENT,
    "cpu.shares",
    1024,
    2,
    262144,
    CGROUP_ROOT / "cpu" / GATEWAY_GROUP,
)
V2 = WeightFiles(
    CGROUP_ROOT / CGROUP_PARENT, "cpu.weight", 100, 1, 10000, CGROUP_ROOT / GATEWAY_GROUP
)

#: how many times an instance that is up a booting one weighs among the instances
BOOTING_FACTOR = 8

_lock = threading.Lock()


def cpu_quota(cgroup: Path, mode: CgroupMode) -> float | None:
    """The CPUs cgroup ``cgroup``'s own quota allows (``None``: no quota, or none readable)."""
    try:
        if mode is CgroupMode.V2:
            quota, _, period = (cgroup / "cpu.max").read_text().partition(" ")
        else:
            quota = (cgroup / "cpu.cfs_quota_us").read_text()
            period = (cgroup / "cpu.cfs_period_us").read_text()
        if quota.strip() in ("max", "-1"):
            return None
        return int(quota) / int(period)
    except (OSError, ValueError, ZeroDivisionError):
        return None


def quota_cpus(cgroup: Path, mode: CgroupMode) -> int:
    """How many CPUs cgroup ``cgroup``'s quota allows (1 without a quota or a readable one)."""
    quota = cpu_quota(cgroup, mode)
    return 1 if quota is None else max(1, math.ceil(quota))


def usable_cpus() -> int:
    """The CPUs this process (the gateway) may keep busy: those it may run on (its affinity:
    ``taskset``, a cpuset), no more than its cgroup's CPU quota or that of a cgroup above it
    allows (a service manager's ``CPUQuota``, a container's ``--cpus``) — not the host's
    count, which a gateway confined to two of sixty-four CPUs would take for sixty-four."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except OSError:
        cpus = os.cpu_count() or 1
    mode = cgroup_mode()
    try:
        placed = own_cgroup(mode, PROC_CGROUP.read_text())
    except (OSError, ValueError):
        placed = None
    if placed is None:
        return max(1, cpus)
    top = CGROUP_ROOT if mode is CgroupMode.V2 else CGROUP_ROOT / "cpu"
    group = top / placed.lstrip("/")
    for level in (group, *group.parents):
        quota = cpu_quota(level, mode)
        if quota is not None:
            cpus = min(cpus, math.ceil(quota))
        if level == top:
            break
    return max(1, cpus)


def instances_weight(where: WeightFiles, mode: CgroupMode) -> int:
    """The weight the parent should have: one process's per vCPU of the cgroups under it, and
    at least one process's (the kernel's default) when none runs."""
    try:
        children = [c for c in where.parent.iterdir() if c.is_dir()]
    except OSError:
        children = []
    vcpus = sum(quota_cpus(child, mode) for child in children)
    return min(where.highest, max(where.lowest, where.per_cpu * max(1, vcpus)))


def _weigh(group: Path, weight_file: str, weight: int) -> bool:
    """Give cgroup ``group`` weight ``weight``; whether it has it now."""
    try:
        if int((group / weight_file).read_text()) != weight:
            (group / weight_file).write_text(f"{weight}\n")
    except (OSError, ValueError):
        return False
    return True


def rebalance() -> int | None:
    """Set the parent's weight for the instances under it now, and the gateway's cgroup's to
    the same; the weight set, or ``None`` where there is no such parent (no instance has run
    yet) or no CPU controller to weigh by."""
    mode = cgroup_mode()
    where = V2 if mode is CgroupMode.V2 else V1
    with _lock:  # two boots at once: the later count is written last
        weight = instances_weight(where, mode)
        if where.gateway is not None:
            _weigh(where.gateway, where.weight, weight)
        if not _weigh(where.parent, where.weight, weight):
            return None
    return weight


def own_cgroup(mode: CgroupMode, proc_cgroup: str) -> str | None:
    """This process's cgroup for the CPU controller, read from ``/proc/self/cgroup``'s text
    ``proc_cgroup`` (None: not there)."""
    for line in proc_cgroup.splitlines():
        _, controllers, path = line.split(":", 2)
        if mode is CgroupMode.V2 and controllers == "":
            return path
        if mode is CgroupMode.V1 and "cpu" in controllers.split(","):
            return path
    return None


def keep_gateway_share() -> None:
    """Move this process (a gateway starting its local backend) into :data:`GATEWAY_GROUP`, if
    it runs in the host's root cgroup, and weigh it (see the module's docstring). Best effort:
    a host where that cannot be done keeps the process where it is."""
    mode = cgroup_mode()
    where = V2 if mode is CgroupMode.V2 else V1
    if where.gateway is None:
        return
    try:
        placed = own_cgroup(mode, PROC_CGROUP.read_text())
        if placed != "/":
            return  # a service manager's, or already the gateway's
        where.gateway.mkdir(exist_ok=True)
        (where.gateway / "cgroup.procs").write_text(f"{os.getpid()}\n")
    except OSError as exc:
        log.info("the gateway keeps its cgroup (cannot move to %s: %s)", where.gateway, exc)
        return
    rebalance()


def _hierarchies(mode: CgroupMode) -> list[Path]:
    """The roots of the host's cgroup hierarchies (v1: one per controller, each once)."""
    if mode is CgroupMode.V2:
        return [CGROUP_ROOT]
    try:
        found = {path.resolve() for path in CGROUP_ROOT.iterdir() if path.is_dir()}
    except OSError:
        return []
    return sorted(found)


def release_groups() -> list[Path]:
    """Remove the cgroups interstack made on the host, the instances' parent (runc makes it
    in every hierarchy) and the gateways', where nothing runs in them any more, so that
    ``interstack cleanup`` leaves the host as it was; the cgroups removed. This process leaves
    the gateways' cgroup first (a command or a test that started a backend sits in it for
    the rest of its life; a later start moves it back). Nothing else is moved or stopped: the
    kernel refuses to remove a cgroup that holds a process (another gateway's, one waiting for
    the host) or an instance's cgroup (a region not cleaned), and that one stays."""
    mode = cgroup_mode()
    where = V2 if mode is CgroupMode.V2 else V1
    if where.gateway is not None:
        try:
            if own_cgroup(mode, PROC_CGROUP.read_text()) == f"/{GATEWAY_GROUP}":
                (where.gateway.parent / "cgroup.procs").write_text(f"{os.getpid()}\n")
        except OSError as exc:
            log.info("this process stays in %s: %s", where.gateway, exc)
    groups = [root / CGROUP_PARENT for root in _hierarchies(mode)]
    if where.gateway is not None:
        groups.append(where.gateway)
    removed: list[Path] = []
    with _lock:
        for group in groups:
            try:
                group.rmdir()
            except OSError:
                continue  # not there, or in use
            removed.append(group)
    return removed


def weigh_instance(cgroup_path: str, *, booting: bool) -> None:
    """Give the instance whose cgroup is ``cgroup_path`` (``/interstack/<ref>``) its weight
    among the instances: :data:`BOOTING_FACTOR` processes' while it boots, one process's (the
    kernel's default) once it is up. Best effort: an instance gone meanwhile has no weight."""
    mode = cgroup_mode()
    where = V2 if mode is CgroupMode.V2 else V1
    base = CGROUP_ROOT if mode is CgroupMode.V2 else CGROUP_ROOT / "cpu"
    weight = where.per_cpu * (BOOTING_FACTOR if booting else 1)
    _weigh(base / cgroup_path.lstrip("/"), where.weight, weight)


def started(cgroup_path: str) -> None:
    """An instance whose cgroup is ``cgroup_path`` has just been started to boot: the parent's
    weight counts it, and it weighs what a booting one does among the instances."""
    rebalance()
    weigh_instance(cgroup_path, booting=True)
