"""One network driver per host: an exclusive lock held from ``start`` to ``close``.

The host tables and the external bridge are rendered whole from one driver's state; a second
driver (another gateway process, a test run in another checkout) would erase the first one's
rules. So the second one waits for the lock up to a limit, then refuses to start.
"""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path

from interstack.errors import BackendUnavailable

LOCK_FILE = Path("/run/interstack-network.lock")


class HostLock:
    def __init__(self, path: Path = LOCK_FILE) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self, wait: float) -> None:
        if self._fd is not None:
            return
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError as exc:
                if time.monotonic() >= deadline:
                    os.close(fd)
                    raise BackendUnavailable(
                        "another interstack process manages networking on this host "
                        f"(it holds {self.path}); only one local backend can run per host"
                    ) from exc
                time.sleep(0.1)
            else:
                self._fd = fd
                return

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the lock
            self._fd = None
