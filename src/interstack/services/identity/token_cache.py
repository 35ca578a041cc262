"""A bounded cache of validated tokens, so validation does not hit the store each time.

Keystone's own middleware caches validated tokens for minutes; this cache keeps one until it
expires or for at most ``ttl``. Its owner empties it whenever identity data changes (see
``AuthService``: at once for this process's changes, within seconds for another replica's
revocations).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Generic, TypeVar

Value = TypeVar("Value")


class TokenCache(Generic[Value]):
    """Maps a token string to what validating it produced, until ``ttl`` or its own expiry."""

    def __init__(
        self,
        ttl: float,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._clock = clock
        self._entries: OrderedDict[str, tuple[float, datetime, Value]] = OrderedDict()
        self._lock = threading.Lock()
        self._generation = 0

    @property
    def enabled(self) -> bool:
        return self.ttl > 0

    def get(self, token: str) -> Value | None:
        if not self.enabled:
            return None
        with self._lock:
            entry = self._entries.get(token)
            if entry is None:
                return None
            stored_at, expires_at, value = entry
            if self._clock() - stored_at > self.ttl or expires_at <= datetime.now(UTC):
                del self._entries[token]
                return None
            self._entries.move_to_end(token)
            return value

    def generation(self) -> int:
        """A number that changes on every :meth:`clear`; pass it back to :meth:`put`."""
        return self._generation

    def put(self, token: str, expires_at: datetime, value: Value, generation: int) -> None:
        """Remember ``value`` unless the cache was cleared since ``generation`` was read.

        This closes the race where a validation that started before a revocation would put the
        revoked token back into the cache after the revocation cleared it.
        """
        if not self.enabled:
            return
        with self._lock:
            if generation != self._generation:
                return
            self._entries[token] = (self._clock(), expires_at, value)
            self._entries.move_to_end(token)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._generation += 1

    def __len__(self) -> int:
        return len(self._entries)
