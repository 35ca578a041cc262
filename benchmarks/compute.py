"""``make bench-compute``: servers and ports on the sim backend, against moto's EC2 in the same run.

Starts ``interstack serve`` with one sim region (no boot delay) and ``moto_server`` (moto's EC2
emulation), both on free loopback ports, then does the same work on each:

* create N servers (``POST /servers``) / N instances (``RunInstances``, one per call), C at once;
* list them all: ``GET /servers/detail`` in one page of 1,000 / ``DescribeInstances`` following
  moto's own NextToken pages, and paged by 100 (marker / NextToken), R times each;
* create M ports on a network (``POST /v2.0/ports``) / M ENIs (``CreateNetworkInterface``) in a
  subnet, C at once; list them all (``GET /v2.0/ports`` / ``DescribeNetworkInterfaces``) R times.

Prints throughput, p50/p99 latencies and the ratio (moto's time / ours: above 1 means interstack
is faster); writes the same as JSON to benchmarks/results/. Every loop is bounded in count and
only talks to 127.0.0.1. Figures only: nothing here asserts a duration.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml
from rich.console import Console
from rich.table import Table
from tokens import RESULTS_DIR, Gateway

from interstack.client.served import BIN_DIR

#: the line moto_server's werkzeug logs once it listens, with the port it holds
MOTO_RUNNING = re.compile(r"Running on (http://127\.0\.0\.1:\d+)")
console = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 120)
REGION = "RegionOne"
SIM = {
    "regions": [
        {
            "name": REGION,
            "backend": "sim",
            "settings": {"boot_delay_seconds": 0, "action_delay_seconds": 0},
        }
    ]
}
#: an address block each side's ports/ENIs come from (16,382 addresses)
PORT_CIDR = "10.64.0.0/18"


@dataclass
class Figure:
    """One measured operation on one side."""

    name: str
    side: str
    count: int
    seconds: float
    p50_ms: float
    p99_ms: float
    #: calls that failed (counted, not timed): a figure with errors is not comparable
    errors: int = 0

    @property
    def per_second(self) -> float:
        return self.count / self.seconds if self.seconds else 0.0


def _figure(
    name: str, side: str, started: float, latencies: list[float], errors: int = 0
) -> Figure:
    ordered = sorted(latencies) or [0.0]
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return Figure(
        name,
        side,
        len(latencies),
        time.perf_counter() - started,
        statistics.median(ordered) * 1000,
        p99 * 1000,
        errors,
    )


def timed_calls(
    name: str, side: str, calls: int, concurrency: int, call: Callable[[], Any]
) -> Figure:
    """``calls`` calls of ``call`` from ``concurrency`` threads; each call's latency kept."""
    latencies: list[float] = []
    failures: list[str] = []
    lock = threading.Lock()

    def one(_index: int) -> None:
        began = time.perf_counter()
        try:
            call()
        except Exception as exc:  # counted and shown: the run goes on
            with lock:
                failures.append(str(exc)[:200])
            return
        elapsed = time.perf_counter() - began
        with lock:
            latencies.append(elapsed)

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(one, range(calls)))
    if failures:
        console.print(f"[red]{side} {name}: {len(failures)} failed; first: {failures[0]}[/]")
    return _figure(name, side, started, latencies, len(failures))


def repeated(name: str, side: str, times: int, call: Callable[[], Any]) -> Figure:
    """``call`` ``times`` times in a row, after one untimed warm-up."""
    call()
    latencies = []
    started = time.perf_counter()
    for _ in range(times):
        began = time.perf_counter()
        call()
        latencies.append(time.perf_counter() - began)
    return _figure(name, side, started, latencies)


# -- interstack ----------------------------------------------------------------------------------


class Interstack:
    """The demo project of a served gateway, with its quotas lifted for the run."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        admin = gateway.token("interstack-admin")
        issued = httpx.post(
            f"{gateway.url}/v3/auth/tokens", json=gateway.auth_body("interstack"), timeout=30
        )
        issued.raise_for_status()
        token = issued.headers["X-Subject-Token"]
        project = issued.json()["token"]["project"]["id"]
        base = f"{gateway.url}/{REGION}"
        self.nova = httpx.Client(
            base_url=f"{base}/compute/v2.1",
            headers={"X-Auth-Token": token, "OpenStack-API-Version": "compute 2.79"},
            timeout=120,
            limits=httpx.Limits(max_connections=64),
        )
        self.neutron = httpx.Client(
            base_url=f"{base}/network/v2.0",
            headers={"X-Auth-Token": token},
            timeout=120,
            limits=httpx.Limits(max_connections=64),
        )
        unlimited = {"instances": -1, "cores": -1, "ram": -1}
        with httpx.Client(headers={"X-Auth-Token": admin}, timeout=60) as as_admin:
            _ok(
                as_admin.put(
                    f"{base}/compute/v2.1/os-quota-sets/{project}",
                    json={"quota_set": unlimited},
                )
            )
            _ok(as_admin.put(f"{base}/network/v2.0/quotas/{project}", json={"quota": {"port": -1}}))
        glance = f"{base}/image/v2/images"
        with httpx.Client(headers={"X-Auth-Token": admin}, timeout=60) as as_admin:
            image = _ok(
                as_admin.post(
                    glance,
                    json={
                        "name": "bench",
                        "disk_format": "raw",
                        "container_format": "bare",
                        "visibility": "public",
                    },
                )
            )["id"]
            _ok(
                as_admin.put(
                    f"{glance}/{image}/file",
                    content=b"bench disk\n" * 64,
                    headers={"Content-Type": "application/octet-stream"},
                )
            )
        self.image = image

    def create_server(self) -> None:
        body = {"name": "bench", "flavorRef": "1", "imageRef": self.image, "networks": "none"}
        _ok(self.nova.post("/servers", json={"server": body}))

    def wait_active(self, count: int) -> float:
        """Seconds until ``count`` servers are ACTIVE (bounded: 10 minutes)."""
        started = time.perf_counter()
        deadline = started + 600
        while time.perf_counter() < deadline:
            listed = self.nova.get("/servers/detail", params={"status": "ACTIVE", "limit": 1000})
            if len(_ok(listed)["servers"]) >= count:
                return time.perf_counter() - started
            time.sleep(0.5)
        raise RuntimeError(f"fewer than {count} servers became ACTIVE within 10 minutes")

    def list_full(self) -> int:
        return len(_ok(self.nova.get("/servers/detail", params={"limit": 1000}))["servers"])

    def list_paged(self) -> int:
        seen, marker = 0, None
        while True:
            params: dict[str, Any] = {"limit": 100}
            if marker:
                params["marker"] = marker
            page = _ok(self.nova.get("/servers/detail", params=params))["servers"]
            seen += len(page)
            if len(page) < 100:
                return seen
            marker = page[-1]["id"]

    def port_network(self) -> str:
        network = _ok(self.neutron.post("/networks", json={"network": {"name": "bench"}}))
        network_id: str = network["network"]["id"]
        subnet = {"network_id": network_id, "cidr": PORT_CIDR, "ip_version": 4}
        _ok(self.neutron.post("/subnets", json={"subnet": subnet}))
        return network_id

    def create_port(self, network_id: str) -> None:
        _ok(self.neutron.post("/ports", json={"port": {"network_id": network_id}}))

    def list_ports(self) -> int:
        return len(_ok(self.neutron.get("/ports"))["ports"])


def _ok(response: httpx.Response) -> Any:
    if response.status_code >= 400:
        raise RuntimeError(f"{response.request.method} {response.request.url}: {response.text}")
    return response.json() if response.content else None


# -- moto ----------------------------------------------------------------------------------------


@contextmanager
def moto_server(root: Path) -> Iterator[str]:
    """``moto_server`` on a loopback port it chooses and holds (``-p 0``; the port it says it
    runs on: one chosen free before its start could be taken meanwhile, by another emulator
    even); its URL."""
    log_path = root / "moto.log"
    log = log_path.open("wb")
    process = subprocess.Popen(
        [str(BIN_DIR / "moto_server"), "-H", "127.0.0.1", "-p", "0"],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"moto_server did not start: {log_path.read_text()}")
            running = MOTO_RUNNING.search(log_path.read_text(errors="replace"))
            if running is not None:
                url = running.group(1)
                try:
                    httpx.get(f"{url}/moto-api/", timeout=2)
                    break
                except httpx.TransportError:
                    pass
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=20)
        log.close()


class Moto:
    """boto3's EC2 client on moto, one client per thread (as a threaded tool would have)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._local = threading.local()
        ec2 = self.client()
        self.image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]

    def client(self) -> Any:
        found = getattr(self._local, "ec2", None)
        if found is None:
            import boto3

            found = boto3.client(
                "ec2",
                region_name="us-east-1",
                endpoint_url=self.url,
                aws_access_key_id="bench",
                aws_secret_access_key="bench",
            )
            self._local.ec2 = found
        return found

    def create_instance(self) -> None:
        self.client().run_instances(
            ImageId=self.image, MinCount=1, MaxCount=1, InstanceType="t3.nano"
        )

    def list_full(self) -> int:
        """Every instance, in as few calls as moto answers (its own page size)."""
        return self.list_paged(None)

    def list_paged(self, size: int | None = 100) -> int:
        seen, token = 0, None
        while True:
            kwargs: dict[str, Any] = {"MaxResults": size} if size else {}
            if token:
                kwargs["NextToken"] = token
            answer = self.client().describe_instances(**kwargs)
            seen += sum(len(r["Instances"]) for r in answer["Reservations"])
            token = answer.get("NextToken")
            if not token:
                return seen

    def port_subnet(self) -> str:
        ec2 = self.client()
        vpc = ec2.create_vpc(CidrBlock="10.64.0.0/16")["Vpc"]["VpcId"]
        subnet: str = ec2.create_subnet(VpcId=vpc, CidrBlock=PORT_CIDR)["Subnet"]["SubnetId"]
        return subnet

    def create_port(self, subnet: str) -> None:
        self.client().create_network_interface(SubnetId=subnet)

    def list_ports(self, subnet: str) -> int:
        """The subnet's ENIs (its instances' own ENIs live elsewhere, as ports of servers
        booted without networks do not exist on our side)."""
        seen, token = 0, None
        while True:
            kwargs: dict[str, Any] = {"Filters": [{"Name": "subnet-id", "Values": [subnet]}]}
            if token:
                kwargs["NextToken"] = token
            answer = self.client().describe_network_interfaces(**kwargs)
            seen += len(answer["NetworkInterfaces"])
            token = answer.get("NextToken")
            if not token:
                return seen


# -- the run -------------------------------------------------------------------------------------


def run(args: argparse.Namespace, work: Path) -> list[Figure]:
    figures: list[Figure] = []
    config = work / "config.yaml"
    config.write_text(yaml.safe_dump(SIM))
    with Gateway(work, ["--config", str(config)]) as gateway, moto_server(work) as moto_url:
        ours, moto = Interstack(gateway), Moto(moto_url)
        n, c, r = args.servers, args.concurrency, args.repeat

        figures.append(timed_calls("create servers", "interstack", n, c, ours.create_server))
        active = ours.wait_active(n)
        console.print(f"interstack: {n} servers ACTIVE {active:.1f} s after the last create")
        figures.append(timed_calls("create servers", "moto", n, c, moto.create_instance))
        counted = (ours.list_full(), moto.list_full())
        console.print(f"listed at once: interstack {counted[0]}, moto {counted[1]}")
        figures.append(repeated("list servers (one page)", "interstack", r, ours.list_full))
        figures.append(repeated("list servers (one page)", "moto", r, moto.list_full))
        figures.append(repeated("list servers (pages of 100)", "interstack", r, ours.list_paged))
        figures.append(repeated("list servers (pages of 100)", "moto", r, moto.list_paged))

        network, subnet = ours.port_network(), moto.port_subnet()
        m = args.ports
        figures.append(
            timed_calls("create ports", "interstack", m, c, lambda: ours.create_port(network))
        )
        figures.append(timed_calls("create ports", "moto", m, c, lambda: moto.create_port(subnet)))
        listed = (ours.list_ports(), moto.list_ports(subnet))
        console.print(f"ports listed: interstack {listed[0]}, moto {listed[1]}")
        figures.append(repeated("list ports", "interstack", r, ours.list_ports))
        figures.append(repeated("list ports", "moto", r, lambda: moto.list_ports(subnet)))
    return figures


def report(figures: list[Figure]) -> None:
    table = Table(title="interstack (sim) vs moto EC2, same machine, same run")
    columns = ("operation", "side", "calls", "errors", "calls/s", "p50 ms", "p99 ms", "moto/ours")
    for column in columns:
        table.add_column(column, justify="left" if column in ("operation", "side") else "right")
    by_name: dict[str, dict[str, Figure]] = {}
    for figure in figures:
        by_name.setdefault(figure.name, {})[figure.side] = figure
    for name, sides in by_name.items():
        ours, moto = sides["interstack"], sides["moto"]
        creating = name.startswith("create")
        ratio = (
            (ours.per_second / moto.per_second if creating else moto.p50_ms / ours.p50_ms)
            if (moto.per_second and ours.p50_ms)
            else 0.0
        )
        for figure in (ours, moto):
            table.add_row(
                name,
                figure.side,
                f"{figure.count:,}",
                str(figure.errors),
                f"{figure.per_second:,.1f}",
                f"{figure.p50_ms:,.1f}",
                f"{figure.p99_ms:,.1f}",
                f"{ratio:.2f}" if figure is ours else "",
            )
    console.print(table)
    console.print(
        "moto/ours: for creates, our calls/s over moto's; for lists, moto's p50 over ours "
        "(above 1: interstack is faster)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--servers", type=int, default=1000, help="servers/instances (1000)")
    parser.add_argument("--ports", type=int, default=5000, help="ports/ENIs (5000)")
    parser.add_argument("--concurrency", type=int, default=10, help="concurrent creates (10)")
    parser.add_argument("--repeat", type=int, default=10, help="timed lists per scenario (10)")
    args = parser.parse_args()
    console.print(
        f"interstack serve (sim region, uvicorn, 1 worker process) and moto_server, both on "
        f"127.0.0.1; {args.servers} servers, {args.ports} ports, {args.concurrency} at once"
    )
    with tempfile.TemporaryDirectory(prefix="interstack-bench-compute-") as temporary:
        figures = run(args, Path(temporary))
    report(figures)
    failed = sum(f.errors for f in figures)
    RESULTS_DIR.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%S")
    (RESULTS_DIR / f"compute-{stamp}.json").write_text(
        json.dumps(
            {
                "arguments": vars(args),
                "figures": [{**asdict(f), "per_second": f.per_second} for f in figures],
            },
            indent=2,
        )
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
