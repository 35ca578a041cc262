"""An instance's surroundings (ports, tagged disks, key type), reused across one guest's crawl.

cloud-init's OpenStack datasource reads about 25 paths one after another at every boot (its
own tree, then the whole EC2 tree). Who is asking and the server row (name, user data, key,
metadata) are read again for every request (:class:`.lookup.InstanceLookup`); what else the
answer holds costs seven more queries and changes rarely, so it is kept for
:data:`REUSE_SECONDS`, as Nova's metadata API keeps whole answers (``metadata_cache_expiration``,
15 s). An entry belongs to one server of one region, and is kept only while that server's
keypair (user, name, key) is the one it was read with: it can never answer another server, and
a rebuild with another key is seen at once. A port, address, floating IP or tagged volume
changed meanwhile shows within those seconds.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from interstack.services.metadata.records import InstanceDisk, InstanceKey, InstancePort

#: how long an instance's surroundings are reused: longer than a crawl takes on a busy host
REUSE_SECONDS = 10.0
#: at most this many instances' surroundings are kept (the oldest go first)
MAX_ENTRIES = 4096


@dataclass(frozen=True)
class Surroundings:
    """What an instance's view holds beside its server row."""

    key: InstanceKey | None
    ports: tuple[InstancePort, ...]
    disks: tuple[InstanceDisk, ...]


#: what an entry is valid for: (region, server id, user id, key name, key data)
Stamp = tuple[str, str, str, str | None, str | None]


class SurroundingsCache:
    """Surroundings by server, each for :data:`REUSE_SECONDS`; safe to share between threads."""

    def __init__(
        self,
        seconds: float = REUSE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        max_entries: int = MAX_ENTRIES,
    ) -> None:
        self.seconds = seconds
        self.clock = clock
        self.max_entries = max_entries
        self._entries: OrderedDict[tuple[str, str], tuple[Stamp, float, Surroundings]] = (
            OrderedDict()
        )
        self._guard = threading.Lock()

    def __len__(self) -> int:
        with self._guard:
            return len(self._entries)

    def get(self, stamp: Stamp) -> Surroundings | None:
        """The surroundings kept for ``stamp``'s server if read with the same stamp and recent
        enough."""
        with self._guard:
            entry = self._entries.get(stamp[:2])
            if entry is None:
                return None
            kept_stamp, read_at, surroundings = entry
            if kept_stamp != stamp or self.clock() - read_at >= self.seconds:
                del self._entries[stamp[:2]]
                return None
            return surroundings

    def put(self, stamp: Stamp, surroundings: Surroundings) -> None:
        now = self.clock()
        with self._guard:
            self._entries.pop(stamp[:2], None)
            self._entries[stamp[:2]] = (stamp, now, surroundings)
            # entries are in the order they were read: the expired (and the oldest) lead
            while self._entries:
                _, (_, read_at, _) = next(iter(self._entries.items()))
                if now - read_at < self.seconds and len(self._entries) <= self.max_entries:
                    break
                self._entries.popitem(last=False)
