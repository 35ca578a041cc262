"""A clock the test moves by hand (the store's naive UTC), for what takes one as ``clock``."""

from __future__ import annotations

from datetime import datetime, timedelta


class FakeClock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, 12, 0, 0)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)
