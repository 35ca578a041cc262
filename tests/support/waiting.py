"""Waiting for a backend's state to settle, with a bound (never an assertion on time)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

import pytest

T = TypeVar("T")


def eventually(
    read: Callable[[], T], done: Callable[[T], bool], what: str, bound: float = 120
) -> T:
    """Poll ``read`` until ``done`` holds, for at most ``bound`` seconds (a bound, not a timing
    check: it only turns a hang into a failure that says what was awaited)."""
    deadline = time.monotonic() + bound
    while True:
        value = read()
        if done(value):
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}; last seen: {value}")
        time.sleep(0.05)
