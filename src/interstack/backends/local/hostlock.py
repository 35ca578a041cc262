"""The locks of the data dir's directories, held across threads and processes: every change
to one instance holds its lock, and so does every change to one image's root (:mod:`.images`).

The supervisor boots again on its own a guest that rebooted itself (:mod:`.rebooter`), while
the gateway may be stopping, rebooting, deleting the instance or changing its devices. Both
take an ``flock`` on the instance's ``lock`` file around such changes, the gateway inside its
per-instance thread lock (:class:`DirectoryLock`), so that the supervisor sees the instance's
record and bundle as a whole and the gateway never tears down a boot half made.

An image's root is shared by every gateway process on the data dir (and ``interstack
cleanup``): the same lock on the image's directory makes its unpack and its release one at a
time between them, and a user that is no instance (a volume filled from it) holds a shared
lock on another file of it (:func:`held_shared`) that a release finds taken (:func:`taken`).
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType

#: in an instance's directory: the file the lock is taken on
LOCK_FILE = "lock"


def _open(directory: Path, name: str = LOCK_FILE, how: int = fcntl.LOCK_EX) -> int | None:
    """The directory's lock file, opened (made if need be) and locked ``how``; None without
    the directory (no instance or image yet, or none any more: nothing to hold still). A file
    removed while its lock was waited for (its directory removed by the holder) is opened
    again: a lock on it would hold nothing that anyone else sees."""
    while True:
        try:
            fd = os.open(directory / name, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except FileNotFoundError:
            return None
        try:
            fcntl.flock(fd, how)
            if os.fstat(fd).st_nlink > 0:
                return fd
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)


#: how often a bounded wait for a lock (:func:`held` with ``wait``) looks again
RETRY_SECONDS = 0.05


def _open_within(directory: Path, wait: float) -> int | None:
    """:func:`_open` exclusively, waiting at most ``wait`` seconds; ``TimeoutError`` past it."""
    deadline = time.monotonic() + wait
    while True:
        try:
            return _open(directory, LOCK_FILE, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"{directory / LOCK_FILE} was held for {wait:g} s") from None
            time.sleep(min(RETRY_SECONDS, left))


@contextmanager
def held(instance_dir: Path, wait: float | None = None) -> Iterator[None]:
    """The instance's lock, for the supervisor: held until the block ends. Waited for at most
    ``wait`` seconds if given (``TimeoutError`` past them), else for as long as it takes."""
    fd = _open(instance_dir) if wait is None else _open_within(instance_dir, wait)
    try:
        yield
    finally:
        if fd is not None:
            os.close(fd)


@contextmanager
def held_shared(directory: Path, name: str) -> Iterator[bool]:
    """A shared ``flock`` on the directory's file ``name``, held until the block ends, by as
    many holders as like; False (nothing held) without the directory."""
    fd = _open(directory, name, fcntl.LOCK_SH)
    try:
        yield fd is not None
    finally:
        if fd is not None:
            os.close(fd)


def hold(directory: Path, name: str) -> int | None:
    """An exclusive ``flock`` on the directory's file ``name``, held until the descriptor
    returned is closed (by any thread: a job the caller hands it to); None without the
    directory. Another process sees it held (:func:`taken`) until then, or until this one
    ends."""
    return _open(directory, name)


def taken(directory: Path, name: str) -> bool:
    """Whether anyone, in this process or another, holds the directory's file ``name``
    (:func:`held_shared`); looked at without waiting."""
    try:
        fd = _open(directory, name, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    if fd is not None:
        os.close(fd)
    return False


class DirectoryLock:
    """The gateway's lock of one directory (an instance's, an image's): its threads one at a
    time, then the ``flock``."""

    def __init__(self, directory: Path, name: str = LOCK_FILE) -> None:
        self._dir = directory
        self._name = name
        self._threads = threading.Lock()
        self._fd: int | None = None

    def __enter__(self) -> bool:
        """Whether the ``flock`` is held (False: there is no directory to hold still)."""
        self._threads.acquire()
        try:
            self._fd = _open(self._dir, self._name)
        except BaseException:
            self._threads.release()
            raise
        return self._fd is not None

    @contextmanager
    def held_if_free(self) -> Iterator[bool]:
        """The lock if no thread or process holds it now (True), else nothing held (False, as
        without the directory): for a look that has no reason to wait for the holder."""
        if not self._threads.acquire(blocking=False):
            yield False
            return
        try:
            try:
                fd = _open(self._dir, self._name, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            try:
                yield fd is not None
            finally:
                if fd is not None:
                    os.close(fd)
        finally:
            self._threads.release()

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
