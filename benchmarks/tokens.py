"""``make bench``: token issue and validation throughput of a served gateway, against a floor.

Starts ``interstack serve`` (uvicorn, one worker process) on a free loopback port with a temporary
data dir, then drives it with ``wrk`` (Debian's package; an asyncio httpx client when wrk is
missing) at a fixed concurrency for a fixed time per scenario:

* ``GET /v3`` — the version document: the framework's floor (routing, middleware, JSON).
* ``GET /v3/auth/tokens`` — validate a token (X-Auth-Token admin + X-Subject-Token), with and
  without the catalog.
* ``POST /v3/auth/tokens`` — issue a token with a password (a password hash per request).

Prints requests/s, p50/p99 latency and each scenario's ratio to the floor; writes the same as JSON
to benchmarks/results/. Every request loop is bounded in time and only talks to 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml
from rich.console import Console
from rich.table import Table

from interstack.client import served
from support import password_auth_body

RESULTS_DIR = Path(__file__).parent / "results"
VALIDATION_TARGET = 2000.0
console = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 120)


@dataclass
class Scenario:
    name: str
    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    body: str | None = None
    expect: int = 200
    #: at most this many connections (a password hash per request saturates the cores early)
    max_connections: int | None = None


@dataclass
class Result:
    name: str
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int
    connections: int = 0
    ratio_to_floor: float = 1.0


class Gateway:
    #: how long ``interstack serve`` may take to answer, and its log level
    start_bound = 60.0
    log_level = "warning"

    def __init__(self, root: Path, options: list[str] | None = None) -> None:
        #: more ``interstack serve`` options (``--config`` for chosen regions)
        self.options = options or []
        self.data_dir = root / "data"
        self.log = root / "serve.log"
        self.port_file = root / "serve.port"
        self.url = ""  # once it serves, on the port it chose
        self.process: subprocess.Popen[bytes] | None = None
        #: the environment it serves with (None: this process's)
        self.env: dict[str, str] | None = None

    def command(self, options: list[str]) -> list[str]:
        """What serves: ``interstack serve`` with ``options`` (a subclass may wrap it)."""
        return served.serve_command(self.data_dir, self.port_file, options)

    def __enter__(self) -> Gateway:
        options = ["--log-level", self.log_level, *self.options]
        self.port_file.unlink(missing_ok=True)
        with self.log.open("wb") as output:
            self.process = subprocess.Popen(
                self.command(options),
                stdout=output,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=self.env,
            )
        try:
            port = served.wait_until_serving(
                self.process, self.port_file, self.start_bound, self.log
            )
        except served.NotServing as exc:
            self.__exit__()
            raise RuntimeError(f"{exc}\n{self.log.read_text()[-2000:]}") from None
        self.url = served.loopback_url(port)
        return self

    def __exit__(self, *_exc: object) -> None:
        if self.process is not None:
            served.stop(self.process, timeout=20)

    @property
    def clouds_yaml(self) -> Path:
        return self.data_dir / "clouds.yaml"

    def cpu_seconds(self, *, reaped: bool = True) -> float:
        """The gateway process's CPU time so far, user and system, all its threads (from /proc),
        with the children it has reaped (``ip``, ``runc``, …) unless ``reaped`` is false: what
        the gateway itself spent, which the machine's load does not inflate as it does wall
        time."""
        assert self.process is not None
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return sum(int(f) for f in fields[11 : 15 if reaped else 13]) / os.sysconf("SC_CLK_TCK")

    def auth_body(self, cloud: str) -> dict[str, Any]:
        auth = yaml.safe_load(self.clouds_yaml.read_text())["clouds"][cloud]["auth"]
        return password_auth_body(auth)

    def token(self, cloud: str) -> str:
        response = httpx.post(f"{self.url}/v3/auth/tokens", json=self.auth_body(cloud), timeout=30)
        response.raise_for_status()
        return response.headers["X-Subject-Token"]


# --- wrk -----------------------------------------------------------------------------------


def _lua(scenario: Scenario) -> str:
    lines = [f'wrk.method = "{scenario.method}"']
    for name, value in scenario.headers.items():
        lines.append(f'wrk.headers["{name}"] = "{value}"')
    if scenario.body is not None:
        lines.append(f"wrk.body = {json.dumps(scenario.body)}")
    return "\n".join(lines) + "\n"


_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if match is None:
        raise ValueError(f"cannot read wrk latency {text!r}")
    return float(match.group(1)) * _UNITS_MS[match.group(2)]


def run_wrk(url: str, scenario: Scenario, connections: int, seconds: int, work: Path) -> Result:
    script = work / f"{scenario.name.replace(' ', '_').replace('/', '_')}.lua"
    script.write_text(_lua(scenario))
    command = [
        "wrk",
        "-t2",
        f"-c{connections}",
        f"-d{seconds}s",
        "--timeout",
        "10s",
        "--latency",
        "-s",
        str(script),
        url + scenario.path,
    ]
    output = subprocess.run(
        command, capture_output=True, text=True, timeout=seconds + 60, check=True
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", output, re.M).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", output, re.M).group(1))  # type: ignore[union-attr]
    total = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    errors = int(bad.group(1)) if bad else 0
    if socket_errors:
        errors += sum(int(g) for g in socket_errors.groups())
    return Result(scenario.name, rps, p50, p99, total, errors)


# --- asyncio fallback ----------------------------------------------------------------------


async def _drive(url: str, scenario: Scenario, connections: int, seconds: int) -> Result:
    latencies: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=10) as client:
        deadline = time.monotonic() + seconds

        async def worker() -> None:
            nonlocal errors
            while time.monotonic() < deadline:
                started = time.perf_counter()
                response = await client.request(
                    scenario.method, scenario.path, headers=scenario.headers, content=scenario.body
                )
                latencies.append((time.perf_counter() - started) * 1000)
                if response.status_code != scenario.expect:
                    errors += 1

        began = time.monotonic()
        await asyncio.gather(*(worker() for _ in range(connections)))
        elapsed = time.monotonic() - began
    quantiles = statistics.quantiles(latencies, n=100)
    return Result(scenario.name, len(latencies) / elapsed, quantiles[49], quantiles[98],
                  len(latencies), errors)  # fmt: skip


def run_httpx(url: str, scenario: Scenario, connections: int, seconds: int, _work: Path) -> Result:
    return asyncio.run(_drive(url, scenario, connections, seconds))


# --- main ----------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=int, default=10, help="per scenario (default 10)")
    parser.add_argument("--connections", type=int, default=32, help="concurrent (default 32)")
    parser.add_argument(
        "--client", choices=["auto", "wrk", "httpx"], default="auto", help="load generator"
    )
    args = parser.parse_args()
    use_wrk = args.client == "wrk" or (args.client == "auto" and shutil.which("wrk"))
    runner = run_wrk if use_wrk else run_httpx
    generator = "wrk (2 threads)" if use_wrk else "httpx asyncio client"

    with tempfile.TemporaryDirectory(prefix="interstack-bench-") as temporary:
        work = Path(temporary)
        with Gateway(work) as gateway:
            admin = gateway.token("interstack-admin")
            subject = gateway.token("interstack")
            validate_headers = {"X-Auth-Token": admin, "X-Subject-Token": subject}
            scenarios = [
                Scenario("GET /v3 (floor)", "GET", "/v3"),
                Scenario("validate token", "GET", "/v3/auth/tokens", validate_headers),
                Scenario(
                    "validate token ?nocatalog",
                    "GET",
                    "/v3/auth/tokens?nocatalog",
                    validate_headers,
                ),
                Scenario(
                    "issue token (password)",
                    "POST",
                    "/v3/auth/tokens",
                    {"Content-Type": "application/json"},
                    json.dumps(gateway.auth_body("interstack")),
                    expect=201,
                    max_connections=4,
                ),
            ]
            console.print(
                f"server: interstack serve (uvicorn, 1 worker process) on {gateway.url}; "
                f"load: {generator}, {args.seconds} s per scenario after a 1 s warm-up; "
                "both on this machine"
            )
            results: list[Result] = []
            for scenario in scenarios:
                connections = min(args.connections, scenario.max_connections or args.connections)
                runner(gateway.url, scenario, connections, 1, work)  # warm-up
                result = runner(gateway.url, scenario, connections, args.seconds, work)
                result.connections = connections
                results.append(result)

    floor = results[0].requests_per_s
    for result in results:
        result.ratio_to_floor = result.requests_per_s / floor if floor else 0.0
    table = Table(title="interstack token benchmark")
    columns = ("scenario", "conns", "req/s", "p50 ms", "p99 ms", "requests", "errors", "vs floor")
    for column in columns:
        table.add_column(column, justify="left" if column == "scenario" else "right", no_wrap=True)
    for r in results:
        table.add_row(
            r.name,
            str(r.connections),
            f"{r.requests_per_s:,.0f}",
            f"{r.p50_ms:.2f}",
            f"{r.p99_ms:.2f}",
            f"{r.requests:,}",
            str(r.errors),
            f"{r.ratio_to_floor:.2f}",
        )
    console.print(table)
    validation = results[1].requests_per_s
    verdict = "met" if validation >= VALIDATION_TARGET else "NOT met"
    console.print(f"validation target {VALIDATION_TARGET:,.0f} req/s: {verdict}")

    RESULTS_DIR.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%S")
    (RESULTS_DIR / f"tokens-{stamp}.json").write_text(
        json.dumps(
            {
                "server": "interstack serve (uvicorn, 1 worker process)",
                "generator": generator,
                "seconds": args.seconds,
                "results": [asdict(r) for r in results],
            },
            indent=2,
        )
    )
    if any(r.errors for r in results):
        console.print("[red]some requests failed; see the errors column[/]")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
