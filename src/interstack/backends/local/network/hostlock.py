"""One network driver process per host: an exclusive lock held from ``start`` to ``close``.

The host tables and the external bridge are rendered whole from one driver's state; a driver in
another process (another gateway, a test run in another checkout) would erase the first one's
rules. So the second process waits for the lock up to a limit, then refuses to start. Within
one process the lock is counted, not exclusive: a driver object that replaces another one (as
a restarted driver does) takes it over without letting another process in between.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from pathlib import Path

from interstack.errors import BackendUnavailable

LOCK_FILE = Path("/run/interstack-network.lock")

_guard = threading.Lock()
_held: dict[Path, tuple[int, int]] = {}  # path -> (descriptor, holders in this process)


class HostLock:
    def __init__(self, path: Path = LOCK_FILE) -> None:
        self.path = path
        self._holding = False

    def acquire(self, wait: float) -> None:
        if self._holding:
            return
        deadline = time.monotonic() + wait
        while True:
            with _guard:
                if self.path in _held:
                    fd, holders = _held[self.path]
                    _held[self.path] = (fd, holders + 1)
                    self._holding = True
                    return
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError as exc:
                    os.close(fd)
                    if time.monotonic() >= deadline:
                        raise BackendUnavailable(
                            "another interstack process manages networking on this host "
                            f"(it holds {self.path}); only one local backend can run per host"
                        ) from exc
                else:
                    _held[self.path] = (fd, 1)
                    self._holding = True
                    return
            time.sleep(0.1)

    def release(self) -> None:
        if not self._holding:
            return
        self._holding = False
        with _guard:
            fd, holders = _held[self.path]
            if holders > 1:
                _held[self.path] = (fd, holders - 1)
            else:
                del _held[self.path]
                os.close(fd)  # closing the descriptor drops the lock
