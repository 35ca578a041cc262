"""Noticing at once that a running instance's PID 1 exited: a poweroff, a reboot or a crash
inside the guest.

Without word from here the backend learns of such an exit only when someone looks (a
``get_server``, the gateway's reconciler), and a guest that powered off would show ``ACTIVE``
until then (one that rebooted itself is booted again by the supervisor: :mod:`.rebooter`).
Each running instance's PID 1 gets a pidfd, which the kernel makes readable when the process
exits; one thread waits on all of them with epoll (no polling) and tells the driver
(``exited(ref)``), which reads how it ended (:meth:`.instances.Instance.exit_record`) and acts.
"""

from __future__ import annotations

import logging
import os
import select
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)


class ExitWatch:
    """Watches the PID 1 of running instances; ``exited(ref)`` is called once per watch."""

    def __init__(self, exited: Callable[[str], None]) -> None:
        self._exited = exited
        self._epoll: select.epoll | None = None
        self._refs: dict[int, str] = {}  # pidfd -> ref
        self._fds: dict[str, int] = {}  # ref -> pidfd
        #: refs whose PID 1 was gone when added, reported from the watch's thread
        self._gone: list[str] = []
        self._guard = threading.Lock()
        self._wake_read, self._wake_write = -1, -1
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._epoll = select.epoll()
        self._wake_read, self._wake_write = os.pipe()
        self._epoll.register(self._wake_read, select.EPOLLIN)
        self._thread = threading.Thread(target=self._run, name="local-exitwatch", daemon=True)
        self._thread.start()

    def add(self, ref: str, pid: int) -> None:
        """Watch PID 1 ``pid`` of ``ref`` (replacing an earlier boot's); one that is gone
        already is reported at once, from the watch's thread (the caller may hold the
        instance's lock, which acting on it takes)."""
        try:
            pidfd: int | None = os.pidfd_open(pid)
        except ProcessLookupError:
            pidfd = None
        with self._guard:
            if self._epoll is None:
                if pidfd is not None:
                    os.close(pidfd)
                return
            self._forget(ref)
            if pidfd is None:
                self._gone.append(ref)
                os.write(self._wake_write, b"x")
                return
            self._refs[pidfd] = ref
            self._fds[ref] = pidfd
            self._epoll.register(pidfd, select.EPOLLIN)

    def close(self) -> None:
        with self._guard:
            epoll, self._epoll = self._epoll, None
            for ref in list(self._fds):
                self._forget(ref)
        if epoll is None:
            return
        os.write(self._wake_write, b"x")
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None
        epoll.close()
        os.close(self._wake_read)
        os.close(self._wake_write)

    def _forget(self, ref: str) -> None:
        pidfd = self._fds.pop(ref, None)
        if pidfd is None:
            return
        del self._refs[pidfd]
        if self._epoll is not None:
            self._epoll.unregister(pidfd)
        os.close(pidfd)

    def _run(self) -> None:
        while True:
            with self._guard:
                epoll = self._epoll
            if epoll is None:
                return
            try:
                events = epoll.poll()
            except OSError:  # closed meanwhile
                return
            with self._guard:
                exited, self._gone = self._gone, []
                for fd, _ in events:
                    if fd == self._wake_read:
                        os.read(fd, 512)
                    ref = self._refs.get(fd)
                    if ref is not None:
                        self._forget(ref)
                        exited.append(ref)
            for ref in exited:
                self._report(ref)

    def _report(self, ref: str) -> None:
        try:
            self._exited(ref)
        except Exception:  # the watch must go on; a later look still notices the exit
            log.exception("acting on the exit of %s", ref)
