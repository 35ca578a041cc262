"""Another gateway process writing into a data dir that the test shares, stopped midway: for
what a start of the test's own backend does with a live writer's files and a killed one's."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def writer_waiting(script: str, *args: str) -> Iterator[subprocess.Popen[str]]:
    """``script`` run in a new interpreter with ``args``, once it printed ``writing`` (and
    waits for its stdin to end, as the scripts do); killed at the end if it still runs."""
    process = subprocess.Popen(
        [sys.executable, "-c", script, *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    try:
        assert process.stdout.readline() == "writing\n"
        yield process
    finally:
        process.kill()
        process.wait()
