"""The instances' parent cgroup weighs one process per vCPU of the instances under it."""

from __future__ import annotations

from pathlib import Path

from interstack.backends.local.cpushare import V1, V2, WeightFiles, instances_weight
from interstack.backends.local.host import CgroupMode


def _v1_child(parent: Path, name: str, quota: int, period: int = 100000) -> None:
    child = parent / name
    child.mkdir(parents=True)
    (child / "cpu.cfs_quota_us").write_text(f"{quota}\n")
    (child / "cpu.cfs_period_us").write_text(f"{period}\n")


def test_v1_counts_each_instances_vcpus_from_its_quota(tmp_path: Path) -> None:
    where = WeightFiles(tmp_path, V1.weight, V1.per_cpu, V1.lowest, V1.highest)
    _v1_child(tmp_path, "ls-a", 100000)
    _v1_child(tmp_path, "ls-b", 200000)
    _v1_child(tmp_path, "ls-c", 150000)  # a part of a CPU counts as a whole one
    (tmp_path / "cpu.shares").write_text("1024\n")  # files of the parent are not instances
    assert instances_weight(where, CgroupMode.V1) == (1 + 2 + 2) * 1024


def test_v2_reads_cpu_max_and_an_unlimited_instance_counts_as_one(tmp_path: Path) -> None:
    where = WeightFiles(tmp_path, V2.weight, V2.per_cpu, V2.lowest, V2.highest)
    for name, limit in (("ls-a", "200000 100000"), ("ls-b", "max 100000")):
        (tmp_path / name).mkdir()
        (tmp_path / name / "cpu.max").write_text(f"{limit}\n")
    assert instances_weight(where, CgroupMode.V2) == (2 + 1) * 100


def test_no_instance_weighs_one_process_and_many_stop_at_the_kernels_limit(
    tmp_path: Path,
) -> None:
    where = WeightFiles(tmp_path / "missing", V2.weight, V2.per_cpu, V2.lowest, V2.highest)
    assert instances_weight(where, CgroupMode.V2) == V2.per_cpu
    many = WeightFiles(tmp_path, V1.weight, V1.per_cpu, V1.lowest, V1.highest)
    for index in range(300):
        _v1_child(tmp_path, f"ls-{index}", 100000)
    assert instances_weight(many, CgroupMode.V1) == V1.highest
