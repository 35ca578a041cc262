"""The local backend's console logs stay bounded, and console output with ``length`` still
reads their newest lines; no instance boots (the log is written as an instance writes it:
appended through a file opened ``O_APPEND``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from interstack.backends.contract import FlavorSpec, NativeRef, ServerSpec
from interstack.backends.local import console
from interstack.backends.local.compute import LocalCompute
from interstack.backends.local.images import LocalImages
from interstack.backends.local.instance_record import InstanceRecord
from interstack.backends.local.instances import Instance
from interstack.backends.local.settings import LocalSettings

CAP = 64 * 1024


def write_lines(log: Path, first: int, count: int) -> None:
    with log.open("a") as out:  # O_APPEND, as the supervisor hands the log to runc
        for number in range(first, first + count):
            out.write(f"line {number:06d} {'x' * 40}\n")


def numbers(text: str) -> list[int]:
    return [int(line.split()[1]) for line in text.splitlines() if line.startswith("line ")]


@pytest.mark.parametrize("collapse", [True, False], ids=["collapse-range", "copy-tail"])
def test_a_log_over_its_cap_keeps_its_newest_half(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, collapse: bool
) -> None:
    collapsed: list[bool] = []
    real_collapse = console._collapse

    def spy(fd: int, cut: int) -> bool:
        collapsed.append(collapse and real_collapse(fd, cut))
        return collapsed[-1]

    # without collapse: as on a filesystem that cannot collapse a range (tmpfs)
    monkeypatch.setattr(console, "_collapse", spy)
    log = tmp_path / console.LOG_NAME
    write_lines(log, 0, 5000)  # about 250 KiB
    assert console.trim(log, CAP)
    if collapse and collapsed != [True]:
        pytest.skip(f"the filesystem of {tmp_path} cannot collapse a file's range")
    size = log.stat().st_size
    assert CAP // 2 <= size <= CAP // 2 + 4096
    kept = numbers(log.read_text(errors="replace"))
    assert kept[-1] == 4999
    assert kept == list(range(kept[0], 5000))  # the newest lines, none lost in between
    assert not console.trim(log, CAP)  # under the cap now: left alone


def test_a_writer_keeps_appending_after_a_trim(tmp_path: Path) -> None:
    log = tmp_path / console.LOG_NAME
    with log.open("a") as instance_output:
        for number in range(5000):
            instance_output.write(f"line {number:06d} {'x' * 40}\n")
        instance_output.flush()
        console.trim(log, CAP)
        instance_output.write("line 005000 after the trim\n")
    kept = numbers(log.read_text(errors="replace"))
    assert kept[-2:] == [4999, 5000]
    assert log.stat().st_size <= CAP


def test_a_missing_or_small_log_is_left_alone(tmp_path: Path) -> None:
    assert not console.trim(tmp_path / "none.log", CAP)
    small = tmp_path / console.LOG_NAME
    write_lines(small, 0, 3)
    assert not console.trim(small, CAP)
    assert numbers(small.read_text()) == [0, 1, 2]


def test_console_output_with_length_reads_a_capped_log(tmp_path: Path) -> None:
    settings = LocalSettings(console_log_max_bytes=CAP)
    compute = LocalCompute(tmp_path, settings, LocalImages(tmp_path / "images", tmp_path / "c"))
    spec = ServerSpec(
        gateway_id="0b3c5f5e-1d2a-4c8e-9f00-5a6b7c8d9e0f",
        name="chatty",
        project_id="p1",
        flavor=FlavorSpec(vcpus=1, ram_mb=64, disk_gb=1),
    )
    record = InstanceRecord.from_spec(spec)
    instance = Instance(compute.instances_dir, compute.runc_root, record.ref)
    instance.save(record)
    write_lines(instance.console, 0, 20000)  # about 1 MiB: far over the cap

    last = compute.console_output(NativeRef(record.ref), length=10)
    assert numbers(last) == list(range(19990, 20000))
    assert instance.console.stat().st_size <= CAP  # reading trimmed it
    everything = compute.console_output(NativeRef(record.ref))
    assert numbers(everything)[-1] == 19999
    assert len(everything.encode()) <= CAP
    assert compute.console_output(NativeRef(record.ref), length=0) == ""
