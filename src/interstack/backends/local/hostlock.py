"""The lock every change to one instance holds, across the gateway's threads and the
supervisor's process.

The supervisor boots again on its own a guest that rebooted itself (:mod:`.rebooter`), while
the gateway may be stopping, rebooting, deleting the instance or changing its devices. Both
take an ``flock`` on the instance's ``lock`` file around such changes, the gateway inside its
per-instance thread lock (:class:`DirectoryLock`), so that the supervisor sees the instance's
record and bundle as a whole and the gateway never tears down a boot half made.
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType

#: in an instance's directory: the file the lock is taken on
LOCK_FILE = "lock"


def _open(instance_dir: Path) -> int | None:
    """The lock file, opened (made if need be) and locked; None without the directory (no
    instance yet, or none any more: nothing to hold still)."""
    try:
        fd = os.open(instance_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except FileNotFoundError:
        return None
    fcntl.flock(fd, fcntl.LOCK_EX)
    return fd


@contextmanager
def held(instance_dir: Path) -> Iterator[None]:
    """The instance's lock, for the supervisor: held until the block ends."""
    fd = _open(instance_dir)
    try:
        yield
    finally:
        if fd is not None:
            os.close(fd)


class DirectoryLock:
    """The gateway's lock of one directory (an instance's): its threads one at a time, then
    the ``flock``."""

    def __init__(self, directory: Path) -> None:
        self._dir = directory
        self._threads = threading.Lock()
        self._fd: int | None = None

    def __enter__(self) -> None:
        self._threads.acquire()
        try:
            self._fd = _open(self._dir)
        except BaseException:
            self._threads.release()
            raise

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        fd, self._fd = self._fd, None
        try:
            if fd is not None:
                os.close(fd)
        finally:
            self._threads.release()
