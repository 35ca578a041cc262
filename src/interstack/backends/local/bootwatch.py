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
import time
from collections.abc import Callable

from interstack.backends.local.instances import marked_up

log = logging.getLogger(__name__)

#: how often a booting instance is looked at (a stat or two each: cheap)
LOOK_SECONDS = 0.02
#: how often one whose PID 1 is not known is observed (each observation may run runc)
OBSERVE_BLIND_SECONDS = 0.5


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
        #: refs added again (a new boot) since the round of looks in progress began
        self._renewed: set[str] = set()
        #: when a ref whose PID 1 is not known is observed next (monotonic seconds)
        self._blind_until: dict[str, float] = {}
        self._changed = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None

    def add(self, ref: str) -> None:
        """Watch ``ref`` from now on (its runc instance was just started)."""
        with self._changed:
            self._pids[ref] = None  # a new boot: a new PID 1
            self._blind_until.pop(ref, None)
            self._renewed.add(ref)
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
                self._renewed.clear()
            for ref in refs:
                try:
                    settled = self._look(ref)
                except Exception:  # the watch must go on; the gateway's polling still works
                    log.exception("watching the boot of %s", ref)
                    settled = True
                if settled:
                    with self._changed:
                        if ref not in self._renewed:  # else a new boot is watched from now
                            self._pids.pop(ref, None)
                            self._blind_until.pop(ref, None)
            with self._changed:
                self._changed.wait_for(lambda: self._stopping, LOOK_SECONDS)

    def _look(self, ref: str) -> bool:
        """True once ``ref`` is no longer booting (the gateway was told)."""
        pid = self._pids.get(ref)
        if pid is None or not os.path.exists(f"/proc/{pid}"):
            pid = self._init_pid(ref)  # not known yet, or a new boot's (the supervisor's reboot)
        with self._changed:
            if ref not in self._renewed:
                self._pids[ref] = pid
        if pid is not None:
            if os.path.exists(f"/proc/{pid}") and not marked_up(pid):
                return False  # neither up nor gone
        else:
            now = time.monotonic()
            if now < self._blind_until.get(ref, 0.0):
                return False
            self._blind_until[ref] = now + OBSERVE_BLIND_SECONDS
        if self._observe(ref):
            return False
        self._settled(ref)
        return True
