"""The instances' share of the host's CPU: what their vCPUs would get as virtual machines.

Every instance's cgroup sits under one parent (``/interstack``), and the kernel divides CPU
time between that parent and the host's other processes by the parent's weight, which is one
process's by default: twenty booting instances on a busy host got together what one process
got, and booted one after another. A hypervisor runs each vCPU as a thread of its own, so the
parent here weighs one process per vCPU of the instances under it (read from their CPU quotas,
which stay what caps each one). :func:`rebalance` runs whenever an instance starts or goes.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from pathlib import Path

from interstack.backends.local.host import CGROUP_PARENT, CGROUP_ROOT, CgroupMode, cgroup_mode


@dataclass(frozen=True)
class WeightFiles:
    """Where a cgroup version keeps the parent's weight and a child's CPU quota."""

    parent: Path
    weight: str  # the parent's weight file
    per_cpu: int  # the weight of one process (one vCPU)
    lowest: int
    highest: int


V1 = WeightFiles(CGROUP_ROOT / "cpu" / CGROUP_PARENT, "cpu.shares", 1024, 2, 262144)
V2 = WeightFiles(CGROUP_ROOT / CGROUP_PARENT, "cpu.weight", 100, 1, 10000)

_lock = threading.Lock()


def quota_cpus(cgroup: Path, mode: CgroupMode) -> int:
    """How many CPUs cgroup ``cgroup``'s quota allows (1 without a quota or a readable one)."""
    try:
        if mode is CgroupMode.V2:
            quota, _, period = (cgroup / "cpu.max").read_text().partition(" ")
        else:
            quota = (cgroup / "cpu.cfs_quota_us").read_text()
            period = (cgroup / "cpu.cfs_period_us").read_text()
        if quota.strip() in ("max", "-1"):
            return 1
        return max(1, math.ceil(int(quota) / int(period)))
    except (OSError, ValueError):
        return 1


def instances_weight(where: WeightFiles, mode: CgroupMode) -> int:
    """The weight the parent should have: one process's per vCPU of the cgroups under it, and
    at least one process's (the kernel's default) when none runs."""
    try:
        children = [c for c in where.parent.iterdir() if c.is_dir()]
    except OSError:
        children = []
    vcpus = sum(quota_cpus(child, mode) for child in children)
    return min(where.highest, max(where.lowest, where.per_cpu * max(1, vcpus)))


def rebalance() -> int | None:
    """Set the parent's weight for the instances under it now; the weight set, or ``None``
    where there is no such parent (no instance has run yet) or no CPU controller to weigh by."""
    mode = cgroup_mode()
    where = V2 if mode is CgroupMode.V2 else V1
    weight_file = where.parent / where.weight
    with _lock:  # two boots at once: the later count is written last
        weight = instances_weight(where, mode)
        try:
            if int(weight_file.read_text()) != weight:
                weight_file.write_text(f"{weight}\n")
        except (OSError, ValueError):
            return None
    return weight
