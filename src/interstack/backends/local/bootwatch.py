"""Noticing at once that a booting instance is up (or that its init died), for the gateway.

The gateway's boot task looks at a server at growing intervals (up to half a second); without
word from here, a guest that marked itself up waits out the rest of that interval before its
server is ``ACTIVE``. A thread looks at every booting instance every :data:`LOOK_SECONDS` with
the cheapest check there is (one ``stat`` of the guest's ready marker through its PID 1's
``/proc`` root, and of the PID itself), and only when that says something changed lets the
driver observe the instance properly and tells the gateway (``watch_settling``).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable

from interstack.backends.local.guest import READY_MARKER

log = logging.getLogger(__name__)

#: how often a booting instance is looked at (a stat or two each: cheap)
LOOK_SECONDS = 0.02


class BootWatch:
    """Watches booting instances; ``observe(ref)`` moves one on (ACTIVE, ERROR...) and says
    whether it is still booting, ``init_pid(ref)`` is its PID 1 on the host (None: unknown)."""

    def __init__(
        self,
        observe: Callable[[str], bool],
        init_pid: Callable[[str], int | None],
        settled: Callable[[str], None],
    ) -> None:
        self._observe = observe
        self._init_pid = init_pid
        self._settled = settled
        self._pids: dict[str, int | None] = {}
        self._changed = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None

    def add(self, ref: str) -> None:
        """Watch ``ref`` from now on (its runc instance was just started)."""
        with self._changed:
            self._pids.setdefault(ref, None)
            self._changed.notify()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="local-bootwatch", daemon=True)
        self._thread.start()

    def close(self) -> None:
        with self._changed:
            self._stopping = True
            self._changed.notify()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def _run(self) -> None:
        while True:
            with self._changed:
                self._changed.wait_for(lambda: self._stopping or bool(self._pids))
                if self._stopping:
                    return
                refs = list(self._pids)
            for ref in refs:
                try:
                    settled = self._look(ref)
                except Exception:  # the watch must go on; the gateway's polling still works
                    log.exception("watching the boot of %s", ref)
                    settled = True
                if settled:
                    with self._changed:
                        self._pids.pop(ref, None)
            with self._changed:
                self._changed.wait_for(lambda: self._stopping, LOOK_SECONDS)

    def _look(self, ref: str) -> bool:
        """True once ``ref`` is no longer booting (the gateway was told)."""
        pid = self._pids.get(ref) or self._init_pid(ref)
        self._pids[ref] = pid
        if pid is not None and not _up_or_gone(pid):
            return False
        if self._observe(ref):
            return False
        self._settled(ref)
        return True


def _up_or_gone(pid: int) -> bool:
    """Whether the guest with PID 1 ``pid`` marked itself up, or that PID is gone."""
    return not os.path.exists(f"/proc/{pid}") or os.path.exists(f"/proc/{pid}/root/{READY_MARKER}")
