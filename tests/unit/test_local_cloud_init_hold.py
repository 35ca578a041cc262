"""An instance that is up waits with its cloud-init while other boots of the host are on their
way (:mod:`.cloudinithold`): the host's side (the hold file in each boot directory, lifted once
no boot is on its way) and the guest's (the stages script waits while the file is there, only
at the init's lowered niceness)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from interstack.backends.local import cpushare
from interstack.backends.local.cloudinithold import CloudInitHold
from interstack.backends.local.cloudinitstages import CLOUD_INIT_STAGES, HOLD
from interstack.backends.local.compute import LocalCompute
from interstack.backends.local.guest import write_boot_options
from interstack.backends.local.host import CgroupMode
from interstack.backends.local.images import LocalImages
from interstack.backends.local.settings import LocalSettings


def _boot_dirs(tmp_path: Path, *refs: str) -> dict[str, Path]:
    dirs = {ref: tmp_path / ref / "boot" for ref in refs}
    for path in dirs.values():
        path.mkdir(parents=True)
    return dirs


def test_a_server_booted_alone_waits_for_nothing(tmp_path: Path) -> None:
    dirs = _boot_dirs(tmp_path, "ls-a")
    hold = CloudInitHold()
    hold.booting("ls-a")
    hold.hold("ls-a", dirs["ls-a"])
    assert (dirs["ls-a"] / HOLD).exists()  # until its boot is up
    hold.settled("ls-a")
    assert not (dirs["ls-a"] / HOLD).exists()


def test_one_up_waits_until_no_boot_is_on_its_way(tmp_path: Path) -> None:
    dirs = _boot_dirs(tmp_path, "ls-a", "ls-b", "ls-c")
    hold = CloudInitHold(at_once=3)
    for ref in dirs:
        hold.booting(ref)  # three created at once: queued
    hold.hold("ls-a", dirs["ls-a"])
    hold.hold("ls-b", dirs["ls-b"])
    hold.settled("ls-a")  # up, while b and c are still on their way
    assert (dirs["ls-a"] / HOLD).exists()
    hold.settled("ls-b")
    assert (dirs["ls-a"] / HOLD).exists() and (dirs["ls-b"] / HOLD).exists()  # c not started
    hold.hold("ls-c", dirs["ls-c"])
    hold.settled("ls-c")  # the last one up: every cloud-init goes on
    assert not any((path / HOLD).exists() for path in dirs.values())


def test_a_boot_whose_end_is_never_told_holds_the_others_no_longer_than_the_bound(
    tmp_path: Path,
) -> None:
    dirs = _boot_dirs(tmp_path, "ls-a")
    hold = CloudInitHold(bound_seconds=0.0, at_once=1)
    hold.booting("ls-gone")  # its job found the server deleted and said nothing
    hold.hold("ls-a", dirs["ls-a"])
    hold.settled("ls-a")
    assert not (dirs["ls-a"] / HOLD).exists()


def test_an_instance_deleted_while_held_does_not_stop_the_others_going_on(tmp_path: Path) -> None:
    dirs = _boot_dirs(tmp_path, "ls-a", "ls-b")
    hold = CloudInitHold(at_once=2)
    hold.hold("ls-a", dirs["ls-a"])
    hold.hold("ls-b", dirs["ls-b"])
    (dirs["ls-a"] / HOLD).unlink()
    dirs["ls-a"].rmdir()  # deleted meanwhile
    hold.settled("ls-a")
    hold.settled("ls-b")
    assert not (dirs["ls-b"] / HOLD).exists()


def _lifted(boot_dir: Path) -> bool:
    """Whether ``boot_dir``'s hold goes (the hold's thread lifts it), looked at for a while."""
    for _ in range(600):
        if not (boot_dir / HOLD).exists():
            return True
        time.sleep(0.05)
    return False


def test_held_cloud_inits_go_on_as_many_at_a_time_as_asked_the_next_as_one_finishes(
    tmp_path: Path,
) -> None:
    dirs = _boot_dirs(tmp_path, "ls-a", "ls-b", "ls-c")
    finished: set[str] = set()
    hold = CloudInitHold(finished.__contains__, at_once=2)
    for ref, boot_dir in dirs.items():
        hold.booting(ref)
        hold.hold(ref, boot_dir)
    for ref in dirs:
        hold.settled(ref)
    assert not (dirs["ls-a"] / HOLD).exists() and not (dirs["ls-b"] / HOLD).exists()
    time.sleep(0.2)  # the hold's thread looks meanwhile: neither has finished
    assert (dirs["ls-c"] / HOLD).exists()
    finished.add("ls-b")
    assert _lifted(dirs["ls-c"])


def test_a_new_boot_holds_those_not_let_go_yet_again(tmp_path: Path) -> None:
    dirs = _boot_dirs(tmp_path, "ls-a", "ls-b", "ls-c")
    finished: set[str] = set()
    hold = CloudInitHold(finished.__contains__, at_once=1)
    hold.hold("ls-a", dirs["ls-a"])
    hold.hold("ls-b", dirs["ls-b"])
    hold.settled("ls-a")
    hold.settled("ls-b")  # a goes on, b waits for it
    hold.booting("ls-c")  # and a new boot comes
    finished.add("ls-a")
    hold._lift()  # the hold's thread, had it looked just before the boot came
    time.sleep(0.2)
    assert (dirs["ls-b"] / HOLD).exists()
    hold.hold("ls-c", dirs["ls-c"])
    hold.settled("ls-c")
    assert _lifted(dirs["ls-b"])
    assert (dirs["ls-c"] / HOLD).exists()  # one at a time: b runs now
    finished.add("ls-b")
    assert _lifted(dirs["ls-c"])


def test_a_gateway_that_stops_lets_every_held_cloud_init_go_on(tmp_path: Path) -> None:
    dirs = _boot_dirs(tmp_path, "ls-a", "ls-b")
    hold = CloudInitHold(at_once=1)
    hold.booting("ls-another")  # a boot whose end the stopping gateway will never see
    for ref, boot_dir in dirs.items():
        hold.hold(ref, boot_dir)
        hold.settled(ref)
    assert all((path / HOLD).exists() for path in dirs.values())
    hold.release_all()
    assert not any((path / HOLD).exists() for path in dirs.values())


def test_the_local_compute_lets_its_holds_go_as_it_closes(tmp_path: Path) -> None:
    boot_dir = _boot_dirs(tmp_path, "ls-a")["ls-a"]
    compute = LocalCompute(tmp_path, LocalSettings(), LocalImages(tmp_path / "i", tmp_path / "c"))
    compute.cloud_init_hold.booting("ls-another")
    compute.cloud_init_hold.hold("ls-a", boot_dir)
    compute.close()
    assert not (boot_dir / HOLD).exists()


def test_a_boot_the_gateway_did_not_hold_finds_no_hold_left_from_before(tmp_path: Path) -> None:
    """The supervisor's reboot writes the boot options again: nobody would lift a hold there."""
    boot_dir = _boot_dirs(tmp_path, "ls-a")["ls-a"]
    (boot_dir / HOLD).write_bytes(b"")
    write_boot_options(
        boot_dir, instance_id="a", public_key=None, early_ssh=True, local_datasource=True
    )
    assert not (boot_dir / HOLD).exists()


def _stages(tmp_path: Path, hold: Path, niceness: int) -> subprocess.Popen[str]:
    """The guest's stages script with its hold file at ``hold``, no stage to run and no
    cloud-init to import (it runs the stages as commands: none), at ``niceness``."""
    script = tmp_path / "cloud-init-stages"
    script.write_text(CLOUD_INIT_STAGES.replace(f"/run/interstack/{HOLD}", str(hold)))
    return subprocess.Popen(
        [sys.executable, "-I", str(script)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,  # no cloud-init here: its import fails, and says so
        text=True,
        preexec_fn=lambda: os.nice(niceness),  # noqa: PLW1509 - no threads in the child yet
    )


def test_the_guests_lowered_cloud_init_waits_while_the_host_holds_it(tmp_path: Path) -> None:
    hold = tmp_path / HOLD
    hold.write_bytes(b"")
    stages = _stages(tmp_path, hold, 10)
    try:
        time.sleep(0.3)
        assert stages.poll() is None  # held
        hold.unlink()
        output, _ = stages.communicate(timeout=30)
    finally:
        stages.kill()
    assert "cloud-init waited" in output


def test_a_cloud_init_at_the_users_niceness_is_never_held(tmp_path: Path) -> None:
    """Without the init's lowered niceness, something of the user's runs under cloud-init."""
    hold = tmp_path / HOLD
    hold.write_bytes(b"")
    stages = _stages(tmp_path, hold, 0)
    output, _ = stages.communicate(timeout=30)
    assert stages.returncode == 0 and "waited" not in output
    assert hold.exists()


def _a_host_of(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, cpus: int, affinity: set[int]
) -> Path:
    """A host of ``cpus`` CPUs on which this process may run on ``affinity``, its cgroup v2
    ``/system.slice/gateway.service`` (files under ``tmp_path``); that cgroup's directory."""
    monkeypatch.setattr(os, "cpu_count", lambda: cpus)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: affinity)
    proc = tmp_path / "proc-cgroup"
    proc.write_text("0::/system.slice/gateway.service\n")
    monkeypatch.setattr(cpushare, "PROC_CGROUP", proc)
    monkeypatch.setattr(cpushare, "CGROUP_ROOT", tmp_path / "cgroup")
    monkeypatch.setattr(cpushare, "cgroup_mode", lambda: CgroupMode.V2)
    group = tmp_path / "cgroup" / "system.slice" / "gateway.service"
    group.mkdir(parents=True)
    return group


def test_held_cloud_inits_go_on_as_many_at_once_as_the_gateway_may_use_cpus(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Not the host's CPUs: those the gateway may run on (its affinity), and no more than its
    cgroup's quota, or a quota above it, allows."""
    group = _a_host_of(monkeypatch, tmp_path, cpus=64, affinity={0, 1, 2, 3})
    assert CloudInitHold().at_once == 4

    (group / "cpu.max").write_text("max 100000\n")
    (group.parent / "cpu.max").write_text("250000 100000\n")  # 2.5 CPUs: 3 at once
    assert CloudInitHold().at_once == 3
    (group / "cpu.max").write_text("50000 100000\n")
    assert CloudInitHold().at_once == 1
