"""Turn-taking by key within the process: one holder of a key's turn at a time, the others
waiting (holding no database connection). A security group's realizations take their group's
turn, a floating IP's association and a port deletion's unforwarding take the floating IP's;
the replicas' half is each caller's own row lock on PostgreSQL."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager

log = logging.getLogger(__name__)


class KeyedTurns:
    """One turn per key at a time: a lock per key in use now, gone after its last holder.
    ``kind`` names what the keys are, for the log."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._lock = threading.Lock()
        #: key -> its lock and how many hold or wait for it
        self._keys: dict[str, tuple[threading.Lock, int]] = {}

    @contextmanager
    def turn(self, key: str) -> Iterator[None]:
        with self._lock:
            lock, users = self._keys.get(key, (threading.Lock(), 0))
            self._keys[key] = (lock, users + 1)
        try:
            if not lock.acquire(blocking=False):
                log.debug("%s %s: waiting for its turn", self.kind, key)
                lock.acquire()
            try:
                yield
            finally:
                lock.release()
        finally:
            with self._lock:
                lock, users = self._keys[key]
                if users == 1:
                    del self._keys[key]
                else:
                    self._keys[key] = (lock, users - 1)
