"""What the aws overhead benchmark (aws_gateway.py) measures each side with: the steps of the
sequence, a counter of the EC2 actions the emulator answers, a counter of the gateway requests
and :func:`timed`, which books a step's time, calls and requests."""

from __future__ import annotations

import statistics
import threading
import time
from collections import Counter
from collections.abc import Callable
from io import BytesIO
from typing import Any
from urllib.parse import parse_qs

PUBLIC_KEY = (
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGc1LMfaNjp0y6RBeSmEOJaHjxO2OlzAnCqJhE/ChbEV bench"
)
PHASES = ("create", "list", "delete")
#: the steps of the sequence in order, each with its phase; both sides time the same steps
STEPS = {
    "network": "create",
    "subnet": "create",
    "security group": "create",
    "2 rules": "create",
    "key pair": "create",
    "server to ACTIVE": "create",
    "list servers": "list",
    "server deleted": "delete",
    "key pair delete": "delete",
    "group delete": "delete",
    "subnet delete": "delete",
    "network delete": "delete",
}

Timings = dict[str, float]


class CallCounter:
    """A WSGI wrapper of the emulator that counts the EC2 actions it answers (both sides) and
    the time it takes to answer them (its own work, the same for a call of either side)."""

    def __init__(self, app: Callable[..., Any]) -> None:
        self.app = app
        self.actions: Counter[str] = Counter()
        self.seconds: dict[str, float] = {}
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if environ.get("REQUEST_METHOD") != "POST":
            return self.app(environ, start_response)
        start = time.perf_counter()
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        environ["wsgi.input"] = BytesIO(body)
        action = parse_qs(body.decode("utf-8", "replace")).get("Action", ["?"])[0]
        answer = list(self.app(environ, start_response))  # the emulator answers in one piece
        with self._lock:
            self.actions[action] += 1
            self.seconds[action] = self.seconds.get(action, 0.0) + time.perf_counter() - start
        return answer

    def snapshot(self) -> tuple[Counter[str], dict[str, float]]:
        """The actions answered so far, and the seconds spent answering each."""
        with self._lock:
            return Counter(self.actions), dict(self.seconds)


class HttpCounter:
    """Counts the gateway requests a client makes and the time until each answered (for
    openstacksdk a ``requests`` response hook on its session; the thin client calls
    :meth:`add`)."""

    def __init__(self) -> None:
        self.requests = 0
        self.seconds = 0.0

    def __call__(self, response: Any, *_args: Any, **_kwargs: Any) -> None:
        self.add(response.elapsed.total_seconds())

    def add(self, seconds: float) -> None:
        self.requests += 1
        self.seconds += seconds


class Meters:
    """What :func:`timed` reads before and after each phase, and how often every client looks
    at a server it waits for (``--poll-ms``; openstacksdk's own default is 2 s)."""

    ec2: CallCounter
    http = HttpCounter()
    poll = 0.05


def timed(timings: Timings, step: str, work: Callable[[], Any]) -> Any:
    """Run ``work``, adding its seconds to ``step`` and to its phase, the EC2 calls it caused
    to ``<phase> calls`` (and per action to ``ec2:<action>``), the emulator's time answering
    them to ``<phase> in EC2`` (and per action to ``in EC2:<action>``), the gateway requests
    to ``<phase> requests`` and the time until they were answered to ``<phase> in requests``."""
    phase = STEPS[step]
    before, in_ec2 = Meters.ec2.snapshot()
    requests, in_requests = Meters.http.requests, Meters.http.seconds
    start = time.perf_counter()
    result = work()
    seconds = time.perf_counter() - start
    after, in_ec2_after = Meters.ec2.snapshot()
    made = after - before
    answering = {a: t - in_ec2.get(a, 0.0) for a, t in in_ec2_after.items() if a in made}
    add = {
        f"step:{step}": seconds,
        phase: seconds,
        f"{phase} calls": made.total(),
        f"{phase} in EC2": sum(answering.values()),
        f"{phase} requests": Meters.http.requests - requests,
        f"{phase} in requests": Meters.http.seconds - in_requests,
        **{f"ec2:{action}": float(n) for action, n in made.items()},
        **{f"in EC2:{action}": float(t) for action, t in answering.items()},
    }
    for key, value in add.items():
        timings[key] = timings.get(key, 0.0) + value
    return result


# -- through the gateway ----------------------------------------------------------------------


def waiting(timings: Timings, wait: Callable[[], Any]) -> Any:
    """A client waiting for a server: each look after the first came after a sleep of
    ``Meters.poll`` seconds, counted in ``poll sleeps``."""
    looks = Meters.http.requests
    result = wait()
    sleeps = max(0, Meters.http.requests - looks - 1) * Meters.poll
    timings["poll sleeps"] = timings.get("poll sleeps", 0.0) + sleeps
    return result


def medians(rounds: list[Timings]) -> Timings:
    keys = {key for r in rounds for key in r}
    summary = {key: statistics.median(r.get(key, 0.0) for r in rounds) for key in keys}
    for suffix in ("", " calls", " in EC2", " requests", " in requests"):
        summary[f"total{suffix}"] = statistics.median(
            sum(r.get(f"{p}{suffix}", 0.0) for p in PHASES) for r in rounds
        )
    return summary
