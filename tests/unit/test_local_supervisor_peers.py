"""The local backend's supervisor, root and every instance's parent, answers only its own user,
and reaps on whatever one action on an exit raises."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from interstack.backends.local.supervisor import SupervisorClient, socket_address
from tests.support.waiting import eventually

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the supervisor is a child subreaper")

#: a user other than the supervisor's (root)
NOBODY = 65534


def ping_as_nobody(address: str) -> bytes:
    """A ping to the supervisor's socket from a process of :data:`NOBODY`: its answer, or
    ``b"closed"`` when the supervisor closed the connection unanswered."""
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - the child reports through the pipe
        try:
            os.setuid(NOBODY)
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
                conn.settimeout(120)
                conn.connect(address)
                try:
                    conn.sendall(json.dumps({"op": "ping"}).encode() + b"\n")
                    answer = conn.makefile("rb").readline()
                except (BrokenPipeError, ConnectionResetError):
                    answer = b""
                os.write(write, answer or b"closed")
        except BaseException as exc:
            os.write(write, repr(exc).encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        answer = pipe.read()
    os.waitpid(child, 0)
    return answer


#: in a process of its own: a reaper whose one action raises, then a child it must still reap.
#: Each process ends when its stdin is closed, not after a sleep: one that ended before its
#: action was registered had the action called at once on this thread (nothing raised), and a
#: child that ended first was reaped before the action ran (a loaded machine did either)
REAPS_ON = """
import subprocess, threading
from interstack.backends.local.reaper import Reaper

reaper = Reaper()
threading.Thread(target=reaper.run_forever, daemon=True, name="reaper").start()
acted = threading.Event()

def action(code):
    acted.set()
    raise RuntimeError("an action's bug")

inherited = subprocess.Popen(["sh", "-c", "read line"], stdin=subprocess.PIPE)
reaper.on_exit(inherited.pid, action)
inherited.returncode = 0  # the reaper's to wait for
inherited.stdin.close()
acted.wait()
child = reaper.spawn(["sh", "-c", "read line; exit 3"], stdin=subprocess.PIPE)
child.stdin.close()
child.returncode = reaper.wait_for(child.pid)
print(child.returncode)
"""


def test_the_supervisor_answers_no_other_user(tmp_path: Path) -> None:
    client = SupervisorClient(tmp_path)
    client.warm()
    pid = eventually(client.pid, lambda found: found is not None, "the supervisor to answer")
    try:
        # closed unanswered: no run request either
        assert ping_as_nobody(socket_address(tmp_path)) == b"closed"
        assert client.pid() == pid  # its own user's still are
    finally:
        client.stop()


def test_an_action_that_raises_leaves_the_reaper_reaping() -> None:
    done = subprocess.run(
        [sys.executable, "-c", REAPS_ON], capture_output=True, text=True, check=True, timeout=120
    )
    assert done.stdout == "3\n"
    assert "acting on the end of" in done.stderr
