"""Pacing the reboots guests ask for themselves (``reboot`` inside, :mod:`.rebooter`).

A VM that reboots itself costs its hypervisor little and takes tens of seconds to come back; an
instance here is booted again by the supervisor (runc's container removed and started again)
in a fraction of one, on the supervisor and the host that every tenant's boots share (and,
beside a supervisor from before it made reboots, by the gateway on its boot workers). A guest
that reboots at every boot (a broken image, or on purpose) would keep them busy at the host's
pace: its first reboot goes at once, each one after that waits until :data:`INTERVAL_SECONDS`
after the one before.
"""

from __future__ import annotations

import threading

#: the least time between two reboots of one guest that the guest asked for itself
INTERVAL_SECONDS = 10.0


class GuestReboots:
    """When each instance's next self-asked reboot may go (monotonic clock)."""

    def __init__(self, interval: float = INTERVAL_SECONDS) -> None:
        self._interval = interval
        self._last: dict[str, float] = {}  # ref -> when its last reboot went (or will go)
        self._guard = threading.Lock()

    def delay(self, ref: str, now: float) -> float:
        """How long the reboot ``ref`` asks for at ``now`` waits (0: go at once); it counts as
        going then."""
        with self._guard:
            last = self._last.get(ref)
            due = now if last is None else max(now, last + self._interval)
            self._last[ref] = due
        return due - now

    def forget(self, ref: str) -> None:
        """``ref`` is gone (deleted)."""
        with self._guard:
            self._last.pop(ref, None)
