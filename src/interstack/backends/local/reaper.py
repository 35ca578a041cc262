"""The supervisor's children (:mod:`.supervisor`), reaped by one thread: the supervisor, a
child subreaper, inherits every instance's PID 1, so no one else may call waitpid. The
programs it runs for an instance (runc, a guest's mount) are waited for with a bound: one that
hangs is killed, with its session, rather than holding the instance's lock for ever.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from interstack.errors import BackendError

#: how long a program the supervisor runs for an instance (runc, a guest's mount) may take
#: before it is killed: past it the program hangs, and waiting on would hold the instance's
#: lock (and with it every change the gateway makes to the instance) for ever
HELPER_TIMEOUT_SECONDS = 120.0
#: how long a killed program's end is waited for (one stuck in the kernel outlives SIGKILL)
KILLED_WAIT_SECONDS = 5.0
#: exits of processes nobody watched yet, kept for a watch that comes late (a PID 1 that exits
#: before runc has returned); the oldest go beyond this many
UNCLAIMED_KEPT = 256


class HelperTimeout(BackendError):
    """A program the supervisor ran did not finish in time; it was killed."""


class Reaper:
    """Reaps every child, remembering the statuses of the ones someone waits for."""

    def __init__(self) -> None:
        self._statuses: dict[int, int] = {}
        self._waited: set[int] = set()
        #: inherited processes whose exit someone acts on (an instance's PID 1)
        self._watched: dict[int, Callable[[int], None]] = {}
        self._unclaimed: dict[int, int] = {}
        self._changed = threading.Condition()
        self.childless_since: float | None = time.monotonic()

    def spawn(self, argv: list[str], **options: Any) -> subprocess.Popen[bytes]:
        """Start a child whose exit status :meth:`wait_for` will give; registered before the
        reaper can see it exit."""
        with self._changed:
            proc = subprocess.Popen(argv, **options)  # noqa: S603 - argument list, no shell
            self._waited.add(proc.pid)
        return proc

    def wait_for(self, pid: int, timeout: float | None = None) -> int | None:
        """The exit status of the child ``pid`` (:meth:`spawn`), or None if it has not exited
        within ``timeout`` seconds (it is waited for still)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._changed:
            while pid not in self._statuses:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return None
                self._changed.wait(left)
            self._waited.discard(pid)
            return self._statuses.pop(pid)

    def give_up(self, pid: int) -> None:
        """Wait no more for the child ``pid``: its exit, when it comes, is kept unclaimed."""
        with self._changed:
            self._waited.discard(pid)
            self._statuses.pop(pid, None)

    def on_exit(self, pid: int, action: Callable[[int], None]) -> None:
        """Call ``action`` with the exit code of ``pid`` (an inherited process) once it is
        reaped, at once if it was already (a code kept for a pid that is there again is an
        earlier process's: the pid was given out anew)."""
        with self._changed:
            code = self._unclaimed.pop(pid, None)
            if code is None or os.path.exists(f"/proc/{pid}"):
                self._watched[pid] = action
                return
        action(code)

    def run_forever(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, 0)
            except ChildProcessError:
                if self.childless_since is None:
                    self.childless_since = time.monotonic()
                time.sleep(0.2)
                continue
            self.childless_since = None
            code = os.waitstatus_to_exitcode(status)
            with self._changed:
                action = self._watched.pop(pid, None)
                if pid in self._waited:
                    self._statuses[pid] = code
                    self._changed.notify_all()
                elif action is None:
                    self._unclaimed[pid] = code
                    while len(self._unclaimed) > UNCLAIMED_KEPT:
                        del self._unclaimed[next(iter(self._unclaimed))]
            if action is not None:
                _act(action, pid, code)


def _act(action: Callable[[int], None], pid: int, code: int) -> None:
    """Call the action on an exit: on the reaper's thread, where nothing it raises may go on
    (no child of the supervisor would be reaped again: every boot would wait for runc)."""
    try:
        action(code)
    except Exception as exc:  # the reaper reaps on, whatever one action does
        message = f"supervisor: acting on the end of {pid}: {exc!r}"
        print(message, file=sys.stderr, flush=True)  # noqa: T201


def _finish(
    reaper: Reaper,
    proc: subprocess.Popen[bytes],
    argv: list[str],
    deadline: float,
    *,
    late: bool = False,
    limit: float | None = None,
) -> int:
    """The exit code of ``proc`` (started in a session of its own) once it ends by
    ``deadline``; past it, or ``late`` (its output did not end in time), its whole session is
    killed and :class:`HelperTimeout` raised, saying ``limit`` (the program's time, by
    default :data:`HELPER_TIMEOUT_SECONDS`). The reaper owns waitpid: the supervisor never
    calls Popen.wait."""
    status = None if late else reaper.wait_for(proc.pid, max(0.0, deadline - time.monotonic()))
    if status is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # its children too: they may hold the output
        status = reaper.wait_for(proc.pid, KILLED_WAIT_SECONDS)
        if status is None:  # stuck in the kernel: its exit, if it comes, goes unclaimed
            reaper.give_up(proc.pid)
        proc.returncode = -signal.SIGKILL if status is None else status
        seconds = HELPER_TIMEOUT_SECONDS if limit is None else limit
        raise HelperTimeout(f"{_program(argv)} did not finish within {seconds:g} s and was killed")
    proc.returncode = status  # keep Popen from polling a pid that is gone
    return status


def _program(argv: list[str]) -> str:
    """The program an argument list runs, past a clocks prefix (``unshare ... runc``)."""
    words = [word for word in argv if not word.startswith("-")]
    if len(words) > 1 and Path(words[0]).name == "unshare":
        words = words[1:]
    return Path(words[0]).name if words else "the program"


def run_logged(reaper: Reaper, argv: list[str], log: Path) -> int:
    """Run ``argv`` as the supervisor's child, its output appended to ``log``; its exit code.
    Raises :class:`HelperTimeout` if it runs past :data:`HELPER_TIMEOUT_SECONDS`."""
    deadline = time.monotonic() + HELPER_TIMEOUT_SECONDS
    with open(os.devnull, "rb") as stdin, log.open("ab") as out:
        proc = reaper.spawn(argv, stdin=stdin, stdout=out, stderr=out, start_new_session=True)
    return _finish(reaper, proc, argv, deadline)


def run_output(reaper: Reaper, argv: list[str], limit: float | None = None) -> tuple[int, str]:
    """Run ``argv`` as the supervisor's child: its exit code and its output. Raises
    :class:`HelperTimeout` if it, or a child holding its output, runs past ``limit`` seconds
    (:data:`HELPER_TIMEOUT_SECONDS` by default)."""
    deadline = time.monotonic() + (HELPER_TIMEOUT_SECONDS if limit is None else limit)
    with open(os.devnull, "rb") as stdin:
        proc = reaper.spawn(
            argv,
            stdin=stdin,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    assert proc.stdout is not None
    with proc.stdout:
        output, ended = _read_until(proc.stdout.fileno(), deadline)
    return _finish(reaper, proc, argv, deadline, late=not ended, limit=limit), output


def _read_until(fd: int, deadline: float) -> tuple[str, bool]:
    """What the pipe ``fd`` gives until its end or ``deadline``, and whether it ended."""
    chunks: list[bytes] = []
    with selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_READ)
        while (left := deadline - time.monotonic()) > 0:
            if not selector.select(left):
                continue  # the deadline is looked at again
            chunk = os.read(fd, 65536)
            if not chunk:
                return b"".join(chunks).decode(errors="replace"), True
            chunks.append(chunk)
    return b"".join(chunks).decode(errors="replace"), False
