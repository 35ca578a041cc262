"""The instances' parent cgroup weighs one process per vCPU of the instances under it, and the
gateway's cgroup beside it weighs the same."""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from interstack.backends.local import cpushare, rebooter
from interstack.backends.local.cpushare import V1, V2, WeightFiles, instances_weight
from interstack.backends.local.host import CgroupMode
from interstack.backends.local.instances import Instance


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


def _v1_files(tmp_path: Path) -> WeightFiles:
    parent, gateway = tmp_path / "cpu/interstack", tmp_path / "cpu/interstack-gateway"
    parent.mkdir(parents=True)
    (parent / "cpu.shares").write_text("1024\n")
    return WeightFiles(parent, V1.weight, V1.per_cpu, V1.lowest, V1.highest, gateway)


@pytest.fixture
def host_v1(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> WeightFiles:
    """A cgroup v1 host under ``tmp_path`` whose gateway runs in the root cgroup."""
    where = _v1_files(tmp_path)
    monkeypatch.setattr(cpushare, "V1", where)
    monkeypatch.setattr(cpushare, "cgroup_mode", lambda: CgroupMode.V1)
    proc = tmp_path / "proc-self-cgroup"
    proc.write_text("5:memory:/some/where\n2:cpu,cpuacct:/\n0::/\n")
    monkeypatch.setattr(cpushare, "PROC_CGROUP", proc)
    return where


def test_the_gateway_moves_beside_the_instances_and_weighs_what_they_weigh(
    host_v1: WeightFiles,
) -> None:
    assert host_v1.gateway is not None
    host_v1.gateway.mkdir()  # the kernel makes its files; a stand-in starts at the default
    (host_v1.gateway / "cpu.shares").write_text("1024\n")
    cpushare.keep_gateway_share()
    assert (host_v1.gateway / "cgroup.procs").read_text() == f"{os.getpid()}\n"
    for name, quota in (("ls-a", 100000), ("ls-b", 300000)):
        _v1_child(host_v1.parent, name, quota)
    assert cpushare.rebalance() == 4 * 1024
    assert (host_v1.parent / "cpu.shares").read_text() == "4096\n"
    assert (host_v1.gateway / "cpu.shares").read_text() == "4096\n"


def test_a_gateway_a_service_manager_placed_stays_where_it_is(host_v1: WeightFiles) -> None:
    cpushare.PROC_CGROUP.write_text("2:cpu,cpuacct:/system.slice/interstack.service\n")
    cpushare.keep_gateway_share()
    assert host_v1.gateway is not None and not host_v1.gateway.exists()


def test_own_cgroup_reads_the_cpu_controllers_line() -> None:
    text = "12:pids:/a\n4:cpu,cpuacct:/b/c\n1:name=systemd:/d\n0::/e\n"
    assert cpushare.own_cgroup(CgroupMode.V1, text) == "/b/c"
    assert cpushare.own_cgroup(CgroupMode.V2, text) == "/e"
    assert cpushare.own_cgroup(CgroupMode.V1, "0::/e\n") is None


def test_a_booting_instance_weighs_more_than_one_up_until_it_is_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cpushare, "CGROUP_ROOT", tmp_path)
    monkeypatch.setattr(cpushare, "cgroup_mode", lambda: CgroupMode.V1)
    monkeypatch.setattr(cpushare, "V1", _v1_files(tmp_path))
    _v1_child(tmp_path / "cpu/interstack", "ls-a", 100000)
    shares = tmp_path / "cpu/interstack/ls-a/cpu.shares"
    shares.write_text("1024\n")  # the kernel's default for a new cgroup
    cpushare.started("/interstack/ls-a")
    assert shares.read_text() == f"{cpushare.BOOTING_FACTOR * 1024}\n"
    assert (tmp_path / "cpu/interstack/cpu.shares").read_text() == "1024\n"  # one vCPU
    cpushare.weigh_instance("/interstack/ls-a", booting=False)
    assert shares.read_text() == "1024\n"
    cpushare.weigh_instance("/interstack/gone", booting=False)  # deleted meanwhile: nothing


@pytest.fixture
def rebooted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Instance, Path]:
    """An instance the supervisor has just booted again on a v1 host under ``tmp_path``: runc
    made its cgroup anew, with the kernel's default weight."""
    monkeypatch.setattr(cpushare, "CGROUP_ROOT", tmp_path)
    monkeypatch.setattr(cpushare, "cgroup_mode", lambda: CgroupMode.V1)
    monkeypatch.setattr(cpushare, "V1", _v1_files(tmp_path))
    _v1_child(tmp_path / "cpu/interstack", "ls-a", 100000)
    shares = tmp_path / "cpu/interstack/ls-a/cpu.shares"
    shares.write_text("1024\n")
    return Instance(tmp_path / "instances", tmp_path / "runc", "ls-a"), shares


def test_a_guest_the_supervisor_boots_again_weighs_as_booting_until_it_is_up(
    rebooted: tuple[Instance, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    instance, shares = rebooted
    up = threading.Event()
    monkeypatch.setattr(rebooter, "marked_up", lambda pid: up.is_set())
    watch = rebooter.boost_until_up(instance, os.getpid(), look=0.001)
    assert shares.read_text() == f"{cpushare.BOOTING_FACTOR * 1024}\n"
    watch.join(0.05)
    assert watch.is_alive()  # not up yet: still booting's weight
    assert shares.read_text() == f"{cpushare.BOOTING_FACTOR * 1024}\n"
    up.set()
    watch.join(30)
    assert not watch.is_alive()
    assert shares.read_text() == "1024\n"


def _ended_pid() -> int:
    ended = subprocess.Popen(["true"])  # gone once waited for
    ended.wait()
    return ended.pid


@pytest.mark.parametrize(
    ("pid", "bound", "weight"),
    [
        # a guest that never marks itself up loses the weight at the bound
        (os.getpid, 0.0, 1024),
        # a PID 1 that ends before it is up leaves the weight to the next boot
        (_ended_pid, 120.0, cpushare.BOOTING_FACTOR * 1024),
    ],
)
def test_a_guest_booted_again_that_is_not_seen_up_keeps_no_weight_it_should_not(
    rebooted: tuple[Instance, Path],
    monkeypatch: pytest.MonkeyPatch,
    pid: Callable[[], int],
    bound: float,
    weight: int,
) -> None:
    instance, shares = rebooted
    monkeypatch.setattr(rebooter, "marked_up", lambda pid: False)
    rebooter.boost_until_up(instance, pid(), bound=bound, look=0.001).join(30)
    assert shares.read_text() == f"{weight}\n"


def test_cleanup_removes_the_cgroups_interstack_made_where_nothing_runs(
    host_v1: WeightFiles, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """This process leaves the gateways' cgroup first; a cgroup still holding something (an
    instance of a region not cleaned: a stand-in's non-empty directory, as the kernel refuses
    to remove a cgroup in use) stays, and nothing else is touched."""
    monkeypatch.setattr(cpushare, "CGROUP_ROOT", tmp_path)
    assert host_v1.gateway is not None
    host_v1.gateway.mkdir()
    (tmp_path / "cpu/cgroup.procs").write_text("")
    (tmp_path / "memory/interstack/ls-other").mkdir(parents=True)  # another region's instance
    (tmp_path / "pids/interstack").mkdir(parents=True)
    (tmp_path / "pids/user.slice").mkdir()  # not interstack's
    cpushare.PROC_CGROUP.write_text(f"2:cpu,cpuacct:/{cpushare.GATEWAY_GROUP}\n0::/\n")
    (host_v1.parent / "cpu.shares").unlink()  # the stand-in's parent: empty, as nothing runs

    removed = cpushare.release_groups()

    assert (tmp_path / "cpu/cgroup.procs").read_text() == f"{os.getpid()}\n"  # moved out first
    assert sorted(removed) == sorted(
        [host_v1.parent, tmp_path / "pids/interstack", host_v1.gateway]
    )
    assert not host_v1.parent.exists() and not host_v1.gateway.exists()
    assert (tmp_path / "memory/interstack/ls-other").is_dir()
    assert (tmp_path / "pids/user.slice").is_dir()


def test_cleanup_moves_this_process_only_out_of_the_gateways_cgroup(
    host_v1: WeightFiles, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cpushare, "CGROUP_ROOT", tmp_path)
    (tmp_path / "cpu/cgroup.procs").write_text("")
    cpushare.PROC_CGROUP.write_text("2:cpu,cpuacct:/system.slice/interstack.service\n")
    cpushare.release_groups()
    assert (tmp_path / "cpu/cgroup.procs").read_text() == ""
