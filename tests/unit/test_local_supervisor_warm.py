"""The local backend's supervisor can be started ahead of a boot (``SupervisorClient.warm``)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from interstack.backends.local.supervisor import SupervisorClient
from tests.support.waiting import eventually

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the supervisor is a child subreaper")


def _supervisors_of(state_dir: Path) -> list[int]:
    """Pids of the supervisor processes serving ``state_dir``."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"interstack.backends.local.supervisor" in argv and str(state_dir).encode() in argv:
            found.append(int(entry.name))
    return found


def test_warming_starts_one_supervisor_that_a_boot_then_finds_running(tmp_path: Path) -> None:
    client = SupervisorClient(tmp_path)
    assert client.pid() is None  # none runs yet
    client.warm()
    client.warm()  # a second boot at once starts no second one
    pid = eventually(client.pid, lambda found: found is not None, "the supervisor to answer")
    assert _supervisors_of(tmp_path) == [pid]
    client.warm()  # one that runs is left alone
    assert client.pid() == pid
    assert _supervisors_of(tmp_path) == [pid]
    assert client.stop()
    eventually(lambda: _supervisors_of(tmp_path), lambda pids: not pids, "it to exit")
