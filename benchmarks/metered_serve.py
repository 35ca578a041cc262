"""``interstack serve`` with meters of where its CPU goes, for ``aws_gateway.py --split``.

Run as ``python metered_serve.py serve …`` (the arguments of ``interstack``). Before the gateway
starts, the calls that do its work are wrapped: the store's (SQLAlchemy's ``Session`` methods
and ``Connection.execute``), botocore's (``_make_api_call``) and their HTTP exchange
(``Endpoint._send``), and the synchronous handlers FastAPI runs in its worker threads. Each
thread's CPU time (``time.thread_time``) goes to the innermost of these it is in, so the store
work of a handler is the store's and not the handler's; a handler's own is its Python outside
them. Every thread's total CPU is kept too, by name (the event loop is ``MainThread``).

On ``SIGUSR2`` the totals so far are written, whole, to the file ``INTERSTACK_METER_OUT`` names
with a sequence number, so a reader that asks before and after a round takes the difference.
The meters cost a few microseconds a wrapped call (some 500 a round): the split is for where
the time goes, not for the gateway's total.
"""

from __future__ import annotations

import functools
import itertools
import json
import os
import signal
import statistics
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

#: the categories, innermost wins
STORE = "store"
BOTOCORE = "botocore"
EC2_HTTP = "botocore HTTP"
HANDLERS = "handlers' own"

_seconds: defaultdict[str, float] = defaultdict(float)
_calls: Counter[str] = Counter()
_local = threading.local()
_dumps = itertools.count(1)


def _metered(category: str, call: Callable[..., Any]) -> Callable[..., Any]:
    """``call`` with its thread's CPU time while in it booked to ``category`` (less what
    inner metered calls book to theirs)."""

    @functools.wraps(call)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        stack: list[list[Any]] | None = getattr(_local, "stack", None)
        if stack is None:
            stack = _local.stack = []
        now = time.thread_time()
        if stack:
            _seconds[stack[-1][0]] += now - stack[-1][1]
        stack.append([category, now])
        _calls[category] += 1
        try:
            return call(*args, **kwargs)
        finally:
            now = time.thread_time()
            booked, since = stack.pop()
            _seconds[booked] += now - since
            if stack:
                stack[-1][1] = now

    return wrapper


def _wrap(owner: Any, name: str, category: str) -> None:
    setattr(owner, name, _metered(category, getattr(owner, name)))


def _thread_seconds() -> dict[str, float]:
    """Each live thread's CPU time, summed by name without its number (``AnyIO worker
    thread``, ``MainThread``, ``interstack-task``, …)."""
    found: defaultdict[str, float] = defaultdict(float)
    for thread in threading.enumerate():
        if thread.ident is None:
            continue
        try:
            seconds = time.clock_gettime(time.pthread_getcpuclockid(thread.ident))
        except OSError:  # ended meanwhile
            continue
        found[thread.name.rstrip("0123456789_- ")] += seconds
    return dict(found)


def _dump(path: Path) -> None:
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(
        json.dumps(
            {
                "sequence": next(_dumps),
                "seconds": dict(_seconds),
                "calls": dict(_calls),
                "threads": _thread_seconds(),
                "process": time.process_time(),
            }
        )
    )
    partial.replace(path)


def install(out: Path) -> None:
    """Wrap the gateway's work and answer ``SIGUSR2`` with the totals in ``out``."""
    import botocore.client
    import botocore.endpoint
    import fastapi.routing
    import sqlalchemy.engine.base
    import sqlalchemy.orm.session

    for name in ("execute", "scalars", "scalar", "get", "flush", "commit", "rollback", "close"):
        _wrap(sqlalchemy.orm.session.Session, name, STORE)
    _wrap(sqlalchemy.engine.base.Connection, "execute", STORE)
    _wrap(botocore.client.BaseClient, "_make_api_call", BOTOCORE)
    _wrap(botocore.endpoint.Endpoint, "_send", EC2_HTTP)
    _wrap(fastapi.routing, "_run_sync_endpoint", HANDLERS)
    signal.signal(signal.SIGUSR2, lambda *_: _dump(out))


def read(path: Path, after: int, bound: float = 10.0) -> dict[str, Any]:
    """The totals of the first dump past sequence ``after`` (asked for with ``SIGUSR2``)."""
    deadline = time.monotonic() + bound
    while time.monotonic() < deadline:
        try:
            found: dict[str, Any] = json.loads(path.read_text())
        except (OSError, ValueError):
            found = {"sequence": 0}
        if found["sequence"] > after:
            return found
        time.sleep(0.01)
    raise TimeoutError(f"the metered gateway wrote no totals to {path} in {bound:.0f} s")


class Meter:
    """The benchmark's end: a metered gateway's totals before and after each round of a side,
    and the median of each figure over the rounds."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sequence = 0
        self.rounds: dict[str, list[dict[str, float]]] = {}

    def totals(self, process: Any) -> dict[str, Any]:
        """The totals so far of the gateway ``process`` (a ``subprocess.Popen``)."""
        process.send_signal(signal.SIGUSR2)
        found = read(self.path, self.sequence)
        self.sequence = int(found["sequence"])
        return found

    def add(self, side: str, before: dict[str, Any], after: dict[str, Any]) -> None:
        """Book one round of ``side``: the difference of the totals around it."""
        spent = {"process": after["process"] - before["process"]}
        for key, prefix in (("seconds", "cpu:"), ("calls", "calls:"), ("threads", "thread:")):
            for name, value in after[key].items():
                spent[prefix + name] = value - before[key].get(name, 0)
        self.rounds.setdefault(side, []).append(spent)

    def medians(self, side: str) -> dict[str, float]:
        rounds = self.rounds.get(side, [])
        keys = {key for spent in rounds for key in spent}
        return {key: statistics.median(r.get(key, 0.0) for r in rounds) for key in keys}

    def describe(self, side: str) -> str:
        """Where the gateway's CPU went in a round of ``side`` (medians)."""
        split = self.medians(side)

        def ms(key: str) -> str:
            return f"{split.get(key, 0.0) * 1000:.1f} ms"

        categories = ", ".join(
            f"{name} {ms('cpu:' + name)} ({split.get('calls:' + name, 0.0):.0f} calls)"
            for name in (STORE, BOTOCORE, EC2_HTTP, HANDLERS)
        )
        threads = ", ".join(
            f"{key.removeprefix('thread:')} {ms(key)}"
            for key in sorted(split, key=lambda k: -split[k])
            if key.startswith("thread:") and split[key] >= 0.0005
        )
        return (
            f"{side}: the gateway's CPU a round {ms('process')}, by where it went (metered, "
            f"the innermost wins): {categories}; by thread: {threads}"
        )


def main() -> None:
    install(Path(os.environ["INTERSTACK_METER_OUT"]))
    from interstack.cli import main as interstack

    sys.argv[0] = "interstack"
    interstack()


if __name__ == "__main__":
    main()
