"""The programs the local backend's supervisor runs for its instances (runc, a guest's mount)
have a bound: one that hangs is killed, with its children, and said so, instead of holding the
supervisor's thread, and with it the instance's lock, for ever; the gateway's questions to the
supervisor have one too."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from interstack.backends.local import reaper as children
from interstack.backends.local import supervisor

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the supervisor is a child subreaper")

#: in a process of its own (the reaper reaps every child of its process): a program run under
#: a bound (``BOUND`` in its environment: a short one for a program that hangs), then what
#: became of it, one line each
RUNS_BOUNDED = """
import os, sys, threading, time
from pathlib import Path
from interstack.backends.local import reaper as children

children.HELPER_TIMEOUT_SECONDS = float(os.environ["BOUND"])
reaper = children.Reaper()
threading.Thread(target=reaper.run_forever, daemon=True, name="reaper").start()
how, script = sys.argv[1], sys.argv[2]
argv = ["sh", "-c", script]
try:
    if how == "output":
        print(children.run_output(reaper, argv))
    else:
        print(children.run_logged(reaper, argv, Path(sys.argv[3])))
except children.HelperTimeout as exc:
    print("timeout:", exc.message)
pids = Path(sys.argv[4] if len(sys.argv) > 4 else "/nonexistent")
if pids.exists():
    for pid in pids.read_text().split():  # a killed process takes a moment to end
        stat, state, deadline = Path(f"/proc/{pid}/stat"), "", time.monotonic() + 30
        while time.monotonic() < deadline:
            state = stat.read_text().rpartition(")")[2].split()[0] if stat.exists() else "gone"
            if state in ("gone", "Z", "X"):
                break
            time.sleep(0.05)
        print("left:", state)
"""


def bounded(how: str, script: str, *extra: str, bound: float = 0.5) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", RUNS_BOUNDED, how, script, *extra],
        env={**os.environ, "BOUND": str(bound)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def test_a_program_that_ends_gives_its_code_and_output() -> None:
    """Under the helpers' own bound: a start slower than a short one (a loaded machine) would
    be a kill, and this test is of a program that ends."""
    bound = children.HELPER_TIMEOUT_SECONDS
    assert bounded("output", "echo mounted; exit 3", bound=bound) == ["(3, 'mounted\\n')"]


def test_a_hung_program_is_killed_and_said_so(tmp_path: Path) -> None:
    pids = f"{tmp_path}/pids"
    lines = bounded("output", f"echo $$ > {pids}; exec sleep 600", "", pids)
    assert lines[0] == "timeout: sh did not finish within 0.5 s and was killed"
    assert lines[1:] in (["left: gone"], ["left: Z"], ["left: X"])


def test_a_child_holding_the_output_open_is_killed_with_the_program(tmp_path: Path) -> None:
    """The program exits, but a child it left holds its output: the output never ends."""
    pids = f"{tmp_path}/pids"
    lines = bounded("output", f"sleep 600 & echo $! > {pids}; echo started", "", pids)
    assert lines[0] == "timeout: sh did not finish within 0.5 s and was killed"
    assert lines[1:] in (["left: gone"], ["left: Z"], ["left: X"])


def test_a_hung_runc_run_is_killed_and_said_so(tmp_path: Path) -> None:
    log = f"{tmp_path}/console.log"
    pids = f"{tmp_path}/pids"
    lines = bounded("run", f"echo $$ > {pids}; exec sleep 600", log, pids)
    assert lines[0] == "timeout: sh did not finish within 0.5 s and was killed"
    assert lines[1:] in (["left: gone"], ["left: Z"], ["left: X"])


def test_a_supervisor_that_listens_but_never_answers_is_said_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A supervisor stopped or hung keeps its socket: the gateway's boot, its listings and
    ``interstack cleanup`` asked it and waited for ever."""
    monkeypatch.setattr(supervisor, "PING_ANSWER_SECONDS", 0.5)
    monkeypatch.setattr(supervisor, "RUN_ANSWER_SECONDS", 0.5)
    client = supervisor.SupervisorClient(tmp_path)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as silent:
        silent.bind(client.address)
        silent.listen(8)  # connections are queued, never accepted nor answered
        outcome: list[BaseException | int | None] = []

        def ask() -> None:
            try:
                outcome.append(client.pid())
            except BaseException as exc:
                outcome.append(exc)
            try:
                client.run(tmp_path / "runc", tmp_path / "bundle", "ls-x", tmp_path / "log")
            except BaseException as exc:
                outcome.append(exc)

        asking = threading.Thread(target=ask, daemon=True)
        asking.start()
        asking.join(60)
    assert not asking.is_alive(), "the gateway still waits"
    assert [type(e) for e in outcome] == [supervisor.SupervisorSilent] * 2
    assert str(outcome[0]) == "the local backend's supervisor did not answer within 0.5 s"


#: a supervisor of the state directory given that listens and never answers (a hung one); run
#: as ``python -c HUNG_SUPERVISOR -m <module> <state dir>``, the supervisor's command line
HUNG_SUPERVISOR = """
import socket, sys, time
from pathlib import Path
from interstack.backends.local.supervisor import socket_address

silent = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
silent.bind(socket_address(Path(sys.argv[3]).resolve()))
silent.listen(8)
print("up", flush=True)
time.sleep(600)
"""
MODULE = "interstack.backends.local.supervisor"


def test_cleanup_kills_a_supervisor_that_no_longer_answers_and_nothing_else(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A hung supervisor acts on no SIGTERM either; ``interstack cleanup`` must not leave it,
    found by its command line (its directory given relatively, from its own working directory)
    — and must kill no process that only names the module and the directory, another
    directory's supervisor, or another user's process."""
    monkeypatch.setattr(supervisor, "PING_ANSWER_SECONDS", 0.5)
    state_dir = tmp_path / "data"
    state_dir.mkdir()
    sleep = ["sh", "-c", "echo up; while :; do sleep 1; done"]  # $0 and on: the words after it
    others = [
        _started([*sleep, MODULE, str(state_dir)]),  # names them, runs no -m
        _started([*sleep, "-m", MODULE, str(tmp_path)]),  # another directory's
        _started([*sleep, "-m", MODULE, str(state_dir)], user=65534),  # another user's
    ]
    hung = _started([sys.executable, "-c", HUNG_SUPERVISOR, "-m", MODULE, "data"], cwd=tmp_path)
    try:
        assert supervisor.SupervisorClient(state_dir).stop() is True

        assert hung.wait(timeout=60) == -9
        assert [other.poll() for other in others] == [None] * len(others)
    finally:
        for process in [hung, *others]:
            process.kill()
            process.wait()
            assert process.stdout is not None
            process.stdout.close()


def _started(argv: list[str], **options: Any) -> subprocess.Popen[bytes]:
    """A process that has said it is up."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, env=env, **options)
    assert process.stdout is not None and process.stdout.readline() == b"up\n"
    return process
