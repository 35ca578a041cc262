"""What a local instance is told of its machine, checked without booting one: the boot records
``who`` reads, the CPU lists and masks of its ``/sys/devices/system/cpu``, its ``/proc/stat``."""

from __future__ import annotations

import os
import subprocess
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from interstack.backends.local import clocks, cpusys, procstat, utmp


def test_who_reads_the_boot_record_and_the_run_level(tmp_path: Path) -> None:
    records = tmp_path / "utmp"
    records.write_bytes(utmp.boot_records(1_795_600_000.25))  # 2026-11-25 09:46:40 UTC
    env = {**os.environ, "TZ": "UTC", "LC_ALL": "C"}
    boot = subprocess.run(
        ["who", "-b", str(records)], capture_output=True, text=True, check=True, env=env
    )
    assert boot.stdout.split() == ["system", "boot", "Nov", "25", "09:46"]
    level = subprocess.run(
        ["who", "-r", str(records)], capture_output=True, text=True, check=True, env=env
    )
    assert level.stdout.split()[:2] == ["run-level", "3"]


@pytest.mark.parametrize(
    ("cpus", "listed", "mask"),
    [
        ([0], "0", "1"),
        ([0, 1, 2, 5], "0-2,5", "27"),
        ([3, 1, 2], "1-3", "e"),
        (list(range(40)), "0-39", "ff,ffffffff"),
    ],
)
def test_cpu_lists_and_masks_are_written_as_the_kernel_writes_them(
    cpus: list[int], listed: str, mask: str
) -> None:
    assert cpusys.cpu_list(cpus) == listed
    assert cpusys.cpu_mask(cpus) == mask


def test_the_cpu_directory_lists_the_vcpus_as_one_socket_of_single_thread_cores(
    tmp_path: Path,
) -> None:
    host_cpu = min(os.sched_getaffinity(0))
    root = cpusys.write(tmp_path, [host_cpu, host_cpu, host_cpu])
    for name in ("online", "present", "possible"):
        assert (root / name).read_text() == "0-2\n"
    assert sorted(p.name for p in root.glob("cpu[0-9]*")) == ["cpu0", "cpu1", "cpu2"]
    topology = root / "cpu2" / "topology"
    assert (topology / "core_id").read_text() == "2\n"
    assert (topology / "thread_siblings_list").read_text() == "2\n"
    assert (topology / "package_cpus_list").read_text() == "0-2\n"
    assert (topology / "core_siblings").read_text() == "7\n"


def test_proc_stat_counts_each_vcpus_time_and_the_boot() -> None:
    host = "cpu  1 2 3 4\ncpu0 1 2 3 4\nintr 99 1 2\nctxt 1234\nbtime 1\nprocesses 77\n"
    text = procstat.render([(10, 5), (20, 0)], 1000, 1_795_600_000, host)
    lines = [line.split() for line in text.splitlines()]
    cpu_lines = {line[0]: [int(n) for n in line[1:]] for line in lines if line[0][:3] == "cpu"}
    assert cpu_lines == {
        "cpu": [30, 0, 5, 1965, 0, 0, 0, 0, 0, 0],
        "cpu0": [10, 0, 5, 985, 0, 0, 0, 0, 0, 0],
        "cpu1": [20, 0, 0, 980, 0, 0, 0, 0, 0, 0],
    }
    counters = {line[0]: line[1:] for line in lines if line[0][:3] != "cpu"}
    assert counters["btime"] == ["1795600000"]
    assert counters["ctxt"] == ["1234"] and counters["intr"] == ["99"]
    # every number has its width: a rewrite in place never leaves a longer tail behind
    assert len(procstat.render([(10**9, 10**9)] * 2, 10**10, 1, host)) == len(text)


def test_the_cpu_directory_is_built_once_for_a_vcpu_map_and_shared(tmp_path: Path) -> None:
    """Every instance of a vCPU map gets the same (read-only mounted) view; another map (a
    resize) another; a view of an earlier host boot goes when one is built."""
    host_cpu = min(os.sched_getaffinity(0))
    earlier_boot = tmp_path / "00000000000000000000000000000000-0123456789abcdef"
    earlier_boot.mkdir()
    root = cpusys.write(tmp_path, [host_cpu])
    (root / "built-before").write_text("")
    assert cpusys.write(tmp_path, [host_cpu]) == root
    assert (root / "built-before").exists()  # the next instance of the map reuses it
    resized = cpusys.write(tmp_path, [host_cpu, host_cpu])
    assert resized != root and (root / "built-before").exists()
    assert (resized / "online").read_text() == "0-1\n"
    assert (root / "online").read_text() == "0\n"
    assert not earlier_boot.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([root.name, resized.name])


def test_a_view_of_another_format_is_not_reused_nor_removed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A gateway upgraded on a running host: its boots get views in its own format, while the
    views of the earlier format stay for the instances that still read them."""
    host_cpu = min(os.sched_getaffinity(0))
    older = cpusys.write(tmp_path, [host_cpu])
    (older / "online").write_text("made by the earlier format\n")
    monkeypatch.setattr(cpusys, "VIEW_FORMAT", cpusys.VIEW_FORMAT + 1)
    newer = cpusys.write(tmp_path, [host_cpu])
    assert newer != older
    assert (newer / "online").read_text() == "0\n"
    assert (older / "online").read_text() == "made by the earlier format\n"


def test_boots_of_one_map_at_once_build_one_complete_view(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every boot finds no view and builds its own before any of them puts it in place: one
    wins, the others find its view there and leave theirs."""
    host_cpu = min(os.sched_getaffinity(0))
    boots = 8
    all_built = threading.Barrier(boots)
    build = cpusys._build

    def build_then_wait(root: Path, mapping: list[int]) -> None:
        build(root, mapping)
        all_built.wait(timeout=120)  # a guard against a hang, not a measure

    monkeypatch.setattr(cpusys, "_build", build_then_wait)
    with ThreadPoolExecutor(boots) as pool:
        roots = set(pool.map(lambda _: cpusys.write(tmp_path, [host_cpu] * 2), range(boots)))
    assert len(roots) == 1
    (root,) = roots
    assert list(tmp_path.iterdir()) == [root]  # no staging left behind
    assert sorted(p.name for p in root.glob("cpu[0-9]*")) == ["cpu0", "cpu1"]
    assert (root / "cpu1" / "topology" / "core_id").read_text() == "1\n"


def test_proc_stat_is_written_by_the_boot_with_its_instant(tmp_path: Path) -> None:
    target = procstat.write(tmp_path, [0, 0])
    assert target.read_text() == ""  # the map is written; the content comes with the boot
    clocks.fresh(tmp_path)
    procstat.refresh(tmp_path, booting=True)
    lines = dict(line.split(maxsplit=1) for line in target.read_text().splitlines())
    assert int(lines["btime"]) == int(clocks.booted_at(tmp_path))
    assert {"cpu", "cpu0", "cpu1"} <= lines.keys() and "cpu2" not in lines


def test_a_boot_counts_from_the_current_second_or_two_after_the_last_boot() -> None:
    assert clocks.next_boot_second(None, 100.7) == 100
    assert clocks.next_boot_second(90, 100.7) == 100  # the last boot long ago
    assert clocks.next_boot_second(100, 100.7) == 102  # a reboot in the same second
    assert clocks.next_boot_second(99, 100.2) == 101
    assert clocks.next_boot_second(5000, 100.7) == 100  # counted before the host rebooted


@pytest.mark.skipif(not clocks.TIME_NAMESPACE.exists(), reason="no time namespaces here")
def test_a_reboot_right_after_a_boot_waits_until_its_boot_instant_moves_on(
    tmp_path: Path,
) -> None:
    waits: list[float] = []
    clocks.fresh(tmp_path, sleep=waits.append)
    first = clocks.booted_at(tmp_path)
    clocks.fresh(tmp_path, sleep=waits.append)
    assert len(waits) == 1 and 0 < waits[0] <= clocks.BOOT_SPACING
    # the recorded boot is the instant the wait ends at (the recording sleep did not wait)
    assert clocks.booted_at(tmp_path) - first == pytest.approx(clocks.BOOT_SPACING, abs=0.01)
