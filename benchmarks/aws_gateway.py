"""The aws backend's gateway overhead: one sequence through the gateway vs. the same work as
direct boto3 calls, against the same moto server in the same run.

The sequence (issue 7): create a network, a subnet, a security group with two rules, a key pair
and a server on the network; list servers; delete all of it. Through the gateway it is
openstacksdk against ``interstack serve`` with an ``aws`` region on moto (waiting for ACTIVE and
for the deletion, as scripts do); directly it is the EC2 calls the mapping in
docs/aws-backend.md makes for it (a CIDR block and subnet in the project VPC, a group and its
rules, an ENI, the key pair, ``run_instances``, describes until running; the terminate,
describes until the instance is going or gone, and the deletions), with the same 50 ms
between a client's looks on both sides.
The project VPC exists before either is timed (the gateway creates it on first use and keeps
it), and one warm-up round of each is not counted.

What is counted: each side's wall time per step and per phase, client included (openstacksdk's
own work and its 50 ms sleeps between looks at the server while waiting; boto3's on the direct
side).
openstacksdk's discovery (the catalog, version documents) happens in the untimed warm-up round,
as for any long-lived client, and the HTTP requests of each timed phase are counted and printed
to show it. The EC2 calls of each side are counted by action at the emulator (its WSGI app is
wrapped), so both sides are counted the same way.

Prints the median time per step, per phase and in total, and the ratio gateway / direct (the
issue's target: at most 1.3), the gateway's HTTP requests and the time inside them, the EC2
calls per action of each side and the load average; writes the same as JSON to benchmarks/results/.
Everything listens on and talks to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from io import BytesIO
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import boto3
import httpx
import yaml
from rich.console import Console
from rich.table import Table

BIN_DIR = Path(sys.executable).parent
RESULTS_DIR = Path(__file__).parent / "results"
REGION = "aws-us-east-1"
AWS_REGION = "us-east-1"
KEYS = {"access_key_id": "bench", "secret_access_key": "bench-secret"}
PUBLIC_KEY = (
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGc1LMfaNjp0y6RBeSmEOJaHjxO2OlzAnCqJhE/ChbEV bench"
)
TARGET = 1.3
#: how often openstacksdk looks at a server it waits for (its default is 2 s)
POLL_SECONDS = 0.05
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
console = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 120)

Timings = dict[str, float]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class CallCounter:
    """A WSGI wrapper of the emulator that counts the EC2 actions it answers (both sides)."""

    def __init__(self, app: Callable[..., Any]) -> None:
        self.app = app
        self.actions: Counter[str] = Counter()
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if environ.get("REQUEST_METHOD") == "POST":
            body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
            environ["wsgi.input"] = BytesIO(body)
            action = parse_qs(body.decode("utf-8", "replace")).get("Action", ["?"])[0]
            with self._lock:
                self.actions[action] += 1
        return self.app(environ, start_response)

    def snapshot(self) -> Counter[str]:
        with self._lock:
            return Counter(self.actions)


def moto_server() -> tuple[str, CallCounter]:
    """moto on 127.0.0.1 in a thread, quiet, behind a :class:`CallCounter`."""
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server

    counter = CallCounter(DomainDispatcherApplication(create_backend_app))

    class QuietHandler(MotoRequestHandler):
        def log_request(self, *_args: Any, **_kwargs: Any) -> None:
            pass

    server = make_server("127.0.0.1", 0, counter, True, request_handler=QuietHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    host, port = server.server_address[:2]
    return f"http://{host!s}:{port}", counter


class HttpCounter:
    """Counts the gateway requests openstacksdk makes and the time until each answered
    (a ``requests`` response hook on its session)."""

    def __init__(self) -> None:
        self.requests = 0
        self.seconds = 0.0

    def __call__(self, response: Any, *_args: Any, **_kwargs: Any) -> None:
        self.requests += 1
        self.seconds += response.elapsed.total_seconds()


def ec2_client(endpoint: str) -> Any:
    return boto3.client(
        "ec2",
        region_name=AWS_REGION,
        endpoint_url=endpoint,
        aws_access_key_id=KEYS["access_key_id"],
        aws_secret_access_key=KEYS["secret_access_key"],
    )


def an_ami(ec2: Any) -> str:
    images = ec2.describe_images(
        Owners=["amazon"], Filters=[{"Name": "name", "Values": ["al2023-ami-2023*-x86_64"]}]
    )["Images"]
    return str(sorted(i["ImageId"] for i in images)[0])


@contextmanager
def served_gateway(work: Path, endpoint: str, ami: str) -> Iterator[tuple[Path, int]]:
    """``interstack serve`` with one aws region on the emulator; yields its clouds.yaml and
    its process id."""
    settings = {
        "aws_region": AWS_REGION,
        "endpoint_url": endpoint,
        "credentials": dict(KEYS),
        "instance_types": ["t3.nano", "t3.micro", "t3.small", "t3.medium"],
        "default_image": ami,
        "own_images": False,
        "images": [{"filters": {"image-id": [ami]}}],
    }
    config = work / "config.yaml"
    config.write_text(
        yaml.safe_dump({"regions": [{"name": REGION, "backend": "aws", "settings": settings}]})
    )
    port = free_port()
    data = work / "data"
    command = [str(BIN_DIR / "interstack"), "serve", "--config", str(config)]
    command += ["--data-dir", str(data), "--port", str(port), "--log-level", "warning"]
    with (work / "serve.log").open("wb") as log:
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
    try:
        deadline = time.monotonic() + 90
        while True:
            if process.poll() is not None:
                raise RuntimeError((work / "serve.log").read_text()[-2000:])
            try:
                if httpx.get(f"http://127.0.0.1:{port}/v3", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("interstack serve did not answer within 90 s")
            time.sleep(0.1)
        yield data / "clouds.yaml", process.pid
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def cpu_seconds(pid: int) -> float:
    """A process's CPU time so far, user and system, all its threads (from /proc): what the
    gateway itself spent, which the machine's load does not inflate as it does wall time."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Meters:
    """What :func:`timed` reads before and after each phase."""

    ec2: CallCounter
    http = HttpCounter()


def timed(timings: Timings, step: str, work: Callable[[], Any]) -> Any:
    """Run ``work``, adding its seconds to ``step`` and to its phase, the EC2 calls it caused
    to ``<phase> calls`` (and per action to ``ec2:<action>``), the gateway requests to
    ``<phase> requests`` and the time until they were answered to ``<phase> in requests``."""
    phase = STEPS[step]
    before = Meters.ec2.snapshot()
    requests, in_requests = Meters.http.requests, Meters.http.seconds
    start = time.perf_counter()
    result = work()
    seconds = time.perf_counter() - start
    made = Meters.ec2.snapshot() - before
    add = {
        f"step:{step}": seconds,
        phase: seconds,
        f"{phase} calls": made.total(),
        f"{phase} requests": Meters.http.requests - requests,
        f"{phase} in requests": Meters.http.seconds - in_requests,
        **{f"ec2:{action}": float(n) for action, n in made.items()},
    }
    for key, value in add.items():
        timings[key] = timings.get(key, 0.0) + value
    return result


# -- through the gateway ----------------------------------------------------------------------


def waiting(timings: Timings, wait: Callable[[], Any]) -> Any:
    """openstacksdk waiting for a server: each look after the first came after a sleep of
    ``POLL_SECONDS``, counted in ``poll sleeps``."""
    looks = Meters.http.requests
    result = wait()
    sleeps = max(0, Meters.http.requests - looks - 1) * POLL_SECONDS
    timings["poll sleeps"] = timings.get("poll sleeps", 0.0) + sleeps
    return result


def gateway_round(sdk: Any, image_id: str, n: int) -> Timings:
    timings: Timings = {}
    net = timed(timings, "network", lambda: sdk.network.create_network(name=f"bench-{n}"))
    subnet = timed(
        timings,
        "subnet",
        lambda: sdk.network.create_subnet(network_id=net.id, cidr=f"10.{n}.0.0/24", ip_version=4),
    )
    group = timed(
        timings, "security group", lambda: sdk.network.create_security_group(name=f"bench-{n}")
    )

    def rules() -> None:
        for port in (22, 443):
            sdk.network.create_security_group_rule(
                security_group_id=group.id,
                direction="ingress",
                protocol="tcp",
                port_range_min=port,
                port_range_max=port,
                remote_ip_prefix="0.0.0.0/0",
            )

    timed(timings, "2 rules", rules)
    key = timed(
        timings,
        "key pair",
        lambda: sdk.compute.create_keypair(name=f"bench-{n}", public_key=PUBLIC_KEY),
    )

    def boot() -> Any:
        server = sdk.compute.create_server(
            name=f"bench-{n}",
            flavor_id="1",
            image_id=image_id,
            networks=[{"uuid": net.id}],
            key_name=key.name,
            security_groups=[{"name": group.name}],
        )
        return waiting(
            timings,
            lambda: sdk.compute.wait_for_server(
                server, status="ACTIVE", wait=120, interval=POLL_SECONDS
            ),
        )

    server = timed(timings, "server to ACTIVE", boot)
    timed(timings, "list servers", lambda: list(sdk.compute.servers(details=True)))

    def delete_server() -> None:
        sdk.compute.delete_server(server)
        waiting(
            timings,
            lambda: sdk.compute.wait_for_delete(server, wait=120, interval=POLL_SECONDS),
        )

    timed(timings, "server deleted", delete_server)
    timed(timings, "key pair delete", lambda: sdk.compute.delete_keypair(key))
    timed(timings, "group delete", lambda: sdk.network.delete_security_group(group))
    timed(timings, "subnet delete", lambda: sdk.network.delete_subnet(subnet))
    timed(timings, "network delete", lambda: sdk.network.delete_network(net))
    return timings


# -- straight to EC2 --------------------------------------------------------------------------


def direct_round(ec2: Any, vpc_id: str, ami: str, n: int) -> Timings:
    """The EC2 calls of each step as the mapping makes them: a network is a tag on the project
    VPC (no call), a subnet needs a CIDR block of the VPC, a server its ENI; a client waits for
    ``running`` and, after the terminate, for the instance to be going or gone, looking every
    ``POLL_SECONDS`` as the gateway's client does."""
    timings: Timings = {}
    timed(timings, "network", lambda: None)

    def subnet() -> tuple[str, str]:
        block = ec2.associate_vpc_cidr_block(VpcId=vpc_id, CidrBlock=f"10.{n}.0.0/16")
        made = ec2.create_subnet(VpcId=vpc_id, CidrBlock=f"10.{n}.0.0/24")["Subnet"]
        return block["CidrBlockAssociation"]["AssociationId"], made["SubnetId"]

    block, subnet_id = timed(timings, "subnet", subnet)
    group = timed(
        timings,
        "security group",
        lambda: ec2.create_security_group(
            GroupName=f"bench-{n}", Description="bench", VpcId=vpc_id
        )["GroupId"],
    )

    def rules() -> None:
        for port in (22, 443):
            ec2.authorize_security_group_ingress(
                GroupId=group,
                IpPermissions=[
                    {
                        "IpProtocol": "tcp",
                        "FromPort": port,
                        "ToPort": port,
                        "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
                    }
                ],
            )

    timed(timings, "2 rules", rules)
    timed(
        timings,
        "key pair",
        lambda: ec2.import_key_pair(KeyName=f"bench-{n}", PublicKeyMaterial=PUBLIC_KEY.encode()),
    )

    def state(instance: str) -> str:
        reservations = ec2.describe_instances(InstanceIds=[instance])["Reservations"]
        return str(reservations[0]["Instances"][0]["State"]["Name"])

    def boot() -> tuple[str, str]:
        eni = ec2.create_network_interface(SubnetId=subnet_id, Groups=[group])
        eni_id = eni["NetworkInterface"]["NetworkInterfaceId"]
        instance = ec2.run_instances(
            ImageId=ami,
            InstanceType="t3.nano",
            MinCount=1,
            MaxCount=1,
            KeyName=f"bench-{n}",
            NetworkInterfaces=[{"NetworkInterfaceId": eni_id, "DeviceIndex": 0}],
        )["Instances"][0]["InstanceId"]
        while state(instance) != "running":
            time.sleep(POLL_SECONDS)
        return eni_id, instance

    eni_id, instance = timed(timings, "server to ACTIVE", boot)
    # the live instances, as the gateway lists them (moto keeps the terminated ones of every
    # earlier round, which an unfiltered describe would return too)
    live = [
        {"Name": "instance-state-name", "Values": ["pending", "running", "stopping", "stopped"]}
    ]
    timed(timings, "list servers", lambda: ec2.describe_instances(Filters=live))

    def delete_server() -> None:
        ec2.terminate_instances(InstanceIds=[instance])
        while state(instance) not in ("shutting-down", "terminated"):
            time.sleep(POLL_SECONDS)
        ec2.delete_network_interface(NetworkInterfaceId=eni_id)

    timed(timings, "server deleted", delete_server)
    timed(timings, "key pair delete", lambda: ec2.delete_key_pair(KeyName=f"bench-{n}"))
    timed(timings, "group delete", lambda: ec2.delete_security_group(GroupId=group))

    def delete_subnet() -> None:
        ec2.delete_subnet(SubnetId=subnet_id)
        ec2.disassociate_vpc_cidr_block(AssociationId=block)

    timed(timings, "subnet delete", delete_subnet)
    timed(timings, "network delete", lambda: None)
    return timings


# -- the run ----------------------------------------------------------------------------------


def medians(rounds: list[Timings]) -> Timings:
    keys = {key for r in rounds for key in r}
    summary = {key: statistics.median(r.get(key, 0.0) for r in rounds) for key in keys}
    for suffix in ("", " calls", " requests", " in requests"):
        summary[f"total{suffix}"] = statistics.median(
            sum(r.get(f"{p}{suffix}", 0.0) for p in PHASES) for r in rounds
        )
    return summary


def actions(summary: Timings) -> str:
    found = {k.removeprefix("ec2:"): v for k, v in summary.items() if k.startswith("ec2:")}
    return ", ".join(f"{name} {n:g}" for name, n in sorted(found.items()))


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f} ms"


def table(title: str, rows: Iterable[tuple[str, ...]], columns: tuple[str, ...]) -> Table:
    shown = Table(title=title)
    for column in columns:
        shown.add_column(column, justify="left" if column == columns[0] else "right")
    for row in rows:
        shown.add_row(*row)
    return shown


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds of each (default 5)")
    args = parser.parse_args()
    import openstack.config
    import openstack.connection

    endpoint, Meters.ec2 = moto_server()
    ec2 = ec2_client(endpoint)
    ami = an_ami(ec2)
    with (
        tempfile.TemporaryDirectory(prefix="interstack-bench-aws-") as tmp,
        served_gateway(Path(tmp), endpoint, ami) as (clouds_yaml, gateway_pid),
    ):
        config = openstack.config.OpenStackConfig(config_files=[str(clouds_yaml)])
        sdk = openstack.connection.Connection(
            config=config.get_one(cloud="interstack", region_name=REGION)
        )
        sdk.session.session.hooks["response"].append(Meters.http)
        (image,) = sdk.image.images()  # the AMI the settings select
        gateway_round(sdk, image.id, 10)  # warm-up
        cpu = cpu_seconds(gateway_pid)
        rounds = [gateway_round(sdk, image.id, n) for n in range(11, 11 + args.rounds)]
        gateway_cpu = (cpu_seconds(gateway_pid) - cpu) / args.rounds
        sdk.close()
    vpc_id = ec2.create_vpc(CidrBlock="100.64.0.0/28")["Vpc"]["VpcId"]
    direct = [direct_round(ec2, vpc_id, ami, n) for n in range(100, 101 + args.rounds)][1:]

    through, straight = medians(rounds), medians(direct)
    rows = [
        (
            phase,
            ms(through[phase]),
            ms(straight[phase]),
            f"{through[phase] / straight[phase]:.2f}",
            f"{through[f'{phase} calls']:.0f} / {straight[f'{phase} calls']:.0f}",
            f"{through[f'{phase} requests']:.0f}, {ms(through[f'{phase} in requests'])}",
        )
        for phase in (*PHASES, "total")
    ]
    columns = (
        "phase",
        "gateway (openstacksdk)",
        "direct boto3",
        "ratio",
        "EC2 calls g / d",
        "gateway requests, time in them",
    )
    steps = [
        (
            step,
            ms(through[f"step:{step}"]),
            ms(straight[f"step:{step}"]),
            f"{through[f'step:{step}'] / straight[f'step:{step}']:.2f}"
            if straight[f"step:{step}"] >= 0.0005
            else "-",
        )
        for step in STEPS
    ]
    console.print(
        table(
            f"per step (median of {args.rounds} rounds)",
            steps,
            ("step", "gateway (openstacksdk)", "direct boto3", "ratio"),
        )
    )
    title = f"aws gateway overhead on moto (median of {args.rounds} rounds)"
    console.print(table(title, rows, columns))
    console.print(
        f"openstacksdk slept {ms(through['poll sleeps'])} of the gateway's total between its "
        f"looks at the server (every {POLL_SECONDS * 1000:.0f} ms)"
    )
    console.print(f"EC2 calls through the gateway: {actions(through)}")
    console.print(f"EC2 calls direct: {actions(straight)}")
    console.print(f"the gateway process's CPU time per round (all its threads): {ms(gateway_cpu)}")
    ratio = through["total"] / straight["total"]
    verdict = "meets" if ratio <= TARGET else "misses"
    console.print(f"total ratio {ratio:.2f}: {verdict} the target of at most {TARGET}")
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    console.print(f"load average at the end (1, 5, 15 min): {load}")
    RESULTS_DIR.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%S")
    (RESULTS_DIR / f"aws_gateway-{stamp}.json").write_text(
        json.dumps(
            {
                "rounds": args.rounds,
                "gateway": through,
                "direct": straight,
                "ratio": ratio,
                "gateway_cpu_per_round": gateway_cpu,
                "load_average": os.getloadavg(),
            },
            indent=2,
            sort_keys=True,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
