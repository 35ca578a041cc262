"""The failure paths of making a server's ephemeral and swap disk files on the local backend
(:mod:`interstack.backends.local.localdisks`): a format that fails midway, or a host that
cannot hold the file, leaves no file behind and is a fault naming the disk, which the boot
records on the server (ERROR) instead of an internal error. No root needed: nothing here
reaches a loop device."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from interstack.backends.contract import LocalDisk
from interstack.backends.local import localdisks
from interstack.errors import BackendError

EPHEMERAL = LocalDisk("ephemeral0", "/dev/vdb", 64, "ext4")


def test_a_format_failing_midway_leaves_no_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[list[str]] = []

    def failing(argv: Sequence[str], *, what: str) -> str:
        asked.append(list(argv))
        assert Path(argv[-1]).stat().st_size == 64 * 1024 * 1024  # the sparse file is there
        raise BackendError(f"{what}: killed")

    monkeypatch.setattr(localdisks, "run", failing)

    with pytest.raises(BackendError, match="format the ephemeral disk /dev/vdb: killed"):
        localdisks.prepare(tmp_path, [EPHEMERAL])

    assert asked and asked[0][:4] == ["mkfs.ext4", "-q", "-F", "-L"]
    assert list((tmp_path / localdisks.DISKS_DIR).iterdir()) == []


def test_a_host_that_cannot_hold_the_file_is_a_fault_naming_the_disk(tmp_path: Path) -> None:
    (tmp_path / localdisks.DISKS_DIR).write_text("not a directory")

    with pytest.raises(BackendError, match="cannot make the disk /dev/vdb"):
        localdisks.prepare(tmp_path, [EPHEMERAL])
