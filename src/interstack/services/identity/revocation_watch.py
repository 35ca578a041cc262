"""What tells a process's token cache that another process changed who may do what.

Every change that makes a token invalid records a revocation event (a token revoked, a user,
project or domain disabled or deleted, a role assignment or role removed, an application
credential deleted), in whichever replica made it, and events are never deleted: the highest
event id is a mark that moves whenever any replica revoked anything. Reading it is one
primary-key lookup, so a process looks at most once per ``interval`` seconds, on demand (the
first validation after the interval), and empties its cache when the mark moved.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from sqlalchemy import func, select

from interstack.store import Database
from interstack.store.models import RevocationEvent

#: the mark before the first look, which no mark equals (an empty table's is None)
_UNSEEN = -1
_HIGHEST_EVENT = select(func.max(RevocationEvent.id))


class RevocationWatch:
    """The store's revocation mark as this process last read it, and when."""

    def __init__(
        self, db: Database, interval: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.db = db
        self.interval = interval
        self._clock = clock
        self._mark: int | None = _UNSEEN
        self._looked_at: float | None = None
        self._lock = threading.Lock()

    def due(self) -> bool:
        """Whether the mark must be read again before a cached validation is trusted."""
        looked_at = self._looked_at
        return looked_at is None or self._clock() - looked_at >= self.interval

    def look(self) -> bool:
        """Read the mark if it is due; True when it moved since the last look (or on the
        first look), when whatever was cached before may be stale. One look at a time: the
        callers that wait for it take its answer."""
        with self._lock:
            if not self.due():
                return False
            started = self._clock()
            with self.db.session() as session:
                mark = session.execute(_HIGHEST_EVENT).scalar()
            moved = mark != self._mark
            self._mark = mark
            self._looked_at = started
            return moved
