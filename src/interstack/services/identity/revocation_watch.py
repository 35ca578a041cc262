"""What tells a process's token cache that another process changed who may do what.

Every change that makes a token invalid records a revocation event (a token revoked, a user,
project or domain disabled or deleted, a role assignment or role removed, an application
credential deleted), in whichever replica made it, and events are never deleted: their count
(with the highest id) is a mark that moves whenever any replica's revocation commits. The
highest id alone is not: PostgreSQL numbers an event as it is inserted, so one numbered before
another replica's and committed after it leaves the highest id as it was. Reading the mark is
one aggregate over the primary key's index, so a process looks at most once per ``interval``
seconds, on demand (the first validation after the interval), and empties its cache when the
mark moved.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from sqlalchemy import func, select

from interstack.store import Database
from interstack.store.models import RevocationEvent

#: the store's mark: how many events there are, and the highest id (None: no event yet)
Mark = tuple[int, int | None]
#: the mark before the first look, which no mark equals
_UNSEEN: Mark = (-1, None)
_MARK = select(func.count(RevocationEvent.id), func.max(RevocationEvent.id))


class RevocationWatch:
    """The store's revocation mark as this process last read it, and when."""

    def __init__(
        self, db: Database, interval: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.db = db
        self.interval = interval
        self._clock = clock
        self._mark: Mark = _UNSEEN
        self._looked_at: float | None = None
        self._lock = threading.Lock()

    def due(self) -> bool:
        """Whether the mark must be read again before a cached validation is trusted."""
        looked_at = self._looked_at
        return looked_at is None or self._clock() - looked_at >= self.interval

    def look(self, on_moved: Callable[[], None]) -> None:
        """Read the mark if it is due, and call ``on_moved`` when it moved since the last look
        (or on the first look): whatever was cached before may be stale. ``on_moved`` is done
        before the look counts as done, so no caller trusts the cache in between (:meth:`due`
        is read without the lock). One look at a time: the callers that wait for it take its
        answer."""
        with self._lock:
            if not self.due():
                return
            started = self._clock()
            with self.db.session() as session:
                count, highest = session.execute(_MARK).one()
            mark: Mark = (count, highest)
            if mark != self._mark:
                on_moved()
            self._mark = mark
            self._looked_at = started
