"""The clients' waits looking again every 0.2 s: openstacksdk's (every 2 s for a volume's or an
image's status or a deletion, 5 s for a server's boot or the cloud layer's ``wait=True``) and
the ``openstack`` CLI's ``--wait`` (osc-lib's, every 5 s).

A wait still loops on what the gateway answers, through the client's own code, until the
status it waits for; only the sleep between two looks is shorter, where the waiting is not what
a test proves (a sim boot settles in well under a second; at 5 s a look, tests slept through
most of it). Used in the tests' own process (tests/conftest.py) and in the Python of the
clients they start, the CLI and Ansible's modules (client_python/sitecustomize.py). Standard
library only: that Python loads it by its path.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from typing import Any

#: the longest sleep between two looks of a client's wait (the tests' own waits' interval)
LOOK_SECONDS = 0.2


def shortened(iterate_timeout: Callable[..., Iterator[int]]) -> Callable[..., Iterator[int]]:
    """``openstack.utils.iterate_timeout`` sleeping at most :data:`LOOK_SECONDS` a look."""

    def looks(timeout: Any, message: str, wait: Any = 2) -> Iterator[int]:
        # None is openstacksdk's "its default" (2 s); 0 it makes 0.1 s itself
        try:
            asked = 2.0 if wait is None else float(wait)
        except (TypeError, ValueError):  # the client's own refusal (SDKException), unchanged
            return iterate_timeout(timeout, message, wait=wait)
        return iterate_timeout(timeout, message, wait=min(LOOK_SECONDS, asked))

    return looks


def shortened_sleeps(wait_for: Callable[..., bool]) -> Callable[..., bool]:
    """osc-lib's ``wait_for_status`` or ``wait_for_delete`` sleeping at most
    :data:`LOOK_SECONDS` a look (its ``sleep_time``, 5 s unless the caller says)."""

    @functools.wraps(wait_for)
    def looks(*args: Any, sleep_time: float = 5, **kwargs: Any) -> bool:
        return wait_for(*args, sleep_time=min(LOOK_SECONDS, sleep_time), **kwargs)

    return looks
