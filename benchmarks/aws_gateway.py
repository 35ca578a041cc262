"""The aws backend's gateway overhead: one sequence through the gateway vs. the same work as
direct boto3 calls, against the same moto server in the same run.

The sequence (issue 7): create a network, a subnet, a security group with two rules, a key pair
and a server on the network; list servers; delete all of it. Three sides do it, taking turns
round by round so that the machine's load weighs on each alike:

- openstacksdk against ``interstack serve`` with an ``aws`` region on moto (waiting for ACTIVE
  and for the deletion, as scripts do; aws_rounds.py);
- a thin HTTP client sending the same REST requests to the same gateway (aws_thin.py), which
  leaves openstacksdk's own work out: the gateway's time plus the bare cost of a request;
- directly, the EC2 calls the mapping in docs/aws-backend.md makes for it (a CIDR block and
  subnet in the project VPC, a group and its rules, an ENI, the key pair, ``run_instances``,
  describes until running; the terminate, describes until the instance is going or gone, and
  the deletions).

Every client looks at a server it waits for every 50 ms (``--poll-ms``). The project VPC exists
before anything is timed (the gateway creates it on first use and keeps it), and one warm-up
round of each side is not counted (openstacksdk's discovery of the catalog and version documents
happens there, as for any long-lived client; the thin client fetches its token and endpoints
once, untimed).

What is counted: each side's wall time per step and per phase, client included (its own work
and its sleeps between looks at the server), the gateway requests of each phase and the time
until they were answered, and the gateway process's CPU time per round. The EC2 calls of each
side are counted by action at the emulator (its WSGI app is wrapped), so all sides are counted
the same way, and so is the emulator's time answering them: what a side adds beyond that is
its own.

Prints the median time per step, per phase and in total, and each gateway side's ratio to the
direct side (the issue's target: at most 1.3) with the time it adds a round and a request and
the EC2 calls it makes beyond the direct side's (against a cloud slower than the emulator the
time of its own work carries over, that of its extra calls grows with the cloud's), the EC2
calls per action of each side and the load average; and the thin side's floor: what it would
take were the gateway's own work nothing (the emulator's answers to its calls, each call at the
direct side's own cost per call, each request at the cost of one the gateway answers without
work, measured untimed after each thin round), against which 1.3x leaves the budget of the
gateway's own work. Writes the same as JSON to benchmarks/results/.
Everything listens on and talks to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import boto3
import yaml
from aws_rounds import direct_round, gateway_round
from aws_steps import PHASES, STEPS, CallCounter, Meters, Timings, medians
from aws_thin import ThinClient, thin_round
from metered_serve import Meter
from rich.console import Console
from rich.table import Table
from tokens import RESULTS_DIR, Gateway

from interstack.client.clouds import connect

REGION = "aws-us-east-1"
AWS_REGION = "us-east-1"
KEYS = {"access_key_id": "bench", "secret_access_key": "bench-secret"}
TARGET = 1.3
console = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 120)


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


class AwsGateway(Gateway):
    """``interstack serve`` with one aws region on the emulator."""

    start_bound = 90.0

    def __init__(self, root: Path, endpoint: str, ami: str, meter: Path | None = None) -> None:
        settings = {
            "aws_region": AWS_REGION,
            "endpoint_url": endpoint,
            "credentials": dict(KEYS),
            "instance_types": ["t3.nano", "t3.micro", "t3.small", "t3.medium"],
            "default_image": ami,
            "own_images": False,
            "images": [{"filters": {"image-id": [ami]}}],
        }
        config = root / "config.yaml"
        config.write_text(
            yaml.safe_dump({"regions": [{"name": REGION, "backend": "aws", "settings": settings}]})
        )
        super().__init__(root, ["--config", str(config)])
        self.meter = meter
        if meter is not None:
            self.env = {**os.environ, "INTERSTACK_METER_OUT": str(meter)}

    def command(self, options: list[str]) -> list[str]:
        """``interstack serve``, through metered_serve.py when metered."""
        serve = super().command(options)
        if self.meter is None:
            return serve
        return [sys.executable, str(Path(__file__).with_name("metered_serve.py")), *serve[1:]]


# -- the run ----------------------------------------------------------------------------------


def actions(summary: Timings) -> str:
    """Each EC2 action a side called: how often a round, and the emulator's time per call."""
    found = {k.removeprefix("ec2:"): v for k, v in summary.items() if k.startswith("ec2:")}
    return ", ".join(
        f"{name} {n:g} ({summary.get(f'in EC2:{name}', 0.0) / max(n, 1) * 1000:.1f} ms)"
        for name, n in sorted(found.items())
    )


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f} ms"


def table(title: str, rows: Iterable[tuple[str, ...]], columns: tuple[str, ...]) -> Table:
    shown = Table(title=title)
    for column in columns:
        shown.add_column(column, justify="left" if column == columns[0] else "right")
    for row in rows:
        shown.add_row(*row)
    return shown


SIDES = ("openstacksdk", "thin HTTP", "direct boto3")


def report(summary: dict[str, Timings], cpu: dict[str, float], rounds: int) -> None:
    """The per-step and per-phase tables of the three sides and the figures below them."""
    sdk, thin, direct = (summary[side] for side in SIDES)

    def ratio(side: Timings, key: str) -> str:
        return f"{side[key] / direct[key]:.2f}" if direct[key] >= 0.0005 else "-"

    steps = [
        (
            step,
            *(ms(summary[side][f"step:{step}"]) for side in SIDES),
            ratio(sdk, f"step:{step}"),
            ratio(thin, f"step:{step}"),
        )
        for step in STEPS
    ]
    columns = (*SIDES, "ratio sdk", "ratio thin")
    console.print(table(f"per step (median of {rounds} rounds)", steps, ("step", *columns)))
    rows = [
        (
            phase,
            *(ms(summary[side][phase]) for side in SIDES),
            ratio(sdk, phase),
            ratio(thin, phase),
            " / ".join(f"{summary[side][f'{phase} calls']:.0f}" for side in SIDES),
            " / ".join(f"{summary[side][f'{phase} requests']:.0f}" for side in SIDES[:2]),
        )
        for phase in (*PHASES, "total")
    ]
    title = f"aws gateway overhead on moto (median of {rounds} rounds)"
    extra = ("EC2 calls sdk / thin / direct", "gateway requests sdk / thin")
    console.print(table(title, rows, ("phase", *columns, *extra)))
    for side in SIDES[:2]:
        console.print(
            f"{side}: {ms(summary[side]['total in requests'])} inside its gateway requests, "
            f"{ms(summary[side]['poll sleeps'])} asleep between its looks at the server "
            f"(every {Meters.poll * 1000:.0f} ms), the rest its own work; the gateway "
            f"process's CPU time per round (all its threads): {ms(cpu[side])}"
        )
    for side in SIDES:
        console.print(f"EC2 calls (the emulator's time each), {side}: {actions(summary[side])}")
    for side in SIDES:
        in_ec2 = summary[side]["total in EC2"]
        console.print(
            f"{side}: the emulator took {ms(in_ec2)} a round to answer its EC2 calls, "
            f"the rest of its time ({ms(summary[side]['total'] - in_ec2)}) is the side's own"
        )
    for side in SIDES[:2]:
        total = summary[side]["total"] / direct["total"]
        verdict = "meets" if total <= TARGET else "misses"
        console.print(f"total ratio {side} / direct: {total:.2f}, {verdict} the target of {TARGET}")
        # the ratio is against an emulator that answers in milliseconds: the time the gateway
        # adds is its own work, which carries over to a cloud whose calls take longer, and its
        # EC2 calls beyond the direct side's, which such a cloud makes longer
        added = summary[side]["total"] - direct["total"]
        requests = summary[side]["total requests"]
        extra_calls = summary[side]["total calls"] - direct["total calls"]
        in_ec2 = summary[side]["total in EC2"] - direct["total in EC2"]
        console.print(
            f"  {side} adds {ms(added)} a round to the direct time, "
            f"{added / max(requests, 1) * 1000:.1f} ms per gateway request ({requests:.0f}), "
            f"EC2 calls {extra_calls:+.0f} against the direct side's, which the emulator took "
            f"{ms(in_ec2)} more to answer: {ms(added - in_ec2)} is the gateway's own"
        )
    floor = no_work_floor(summary)
    console.print(
        f"thin HTTP, had the gateway no work of its own: {ms(floor['floor'])} a round "
        f"(ratio {floor['ratio']:.2f}) — the emulator's answers {ms(floor['in EC2'])}, "
        f"{thin['total calls']:.0f} EC2 calls at the direct side's own cost per call "
        f"({floor['per call'] * 1000:.2f} ms: boto3 and the connection) {ms(floor['calls'])}, "
        f"{thin['total requests']:.0f} requests at the cost of one answered without work "
        f"({floor['per request'] * 1000:.2f} ms: HTTP, routing, token, JSON) "
        f"{ms(floor['requests'])}; the target of {TARGET} leaves {ms(floor['budget'])} a round "
        f"for the gateway's own work, which takes {ms(floor['own'])}"
    )
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    console.print(f"load average at the end (1, 5, 15 min): {load}")


def no_work_floor(summary: dict[str, Timings]) -> Timings:
    """What the thin side would take were the gateway's own work (store, services, thread hop,
    its share of botocore beyond the direct side's) nothing: the emulator's answers to its
    EC2 calls, each call at the direct side's own cost per call (boto3 and the connection,
    which the gateway's boto3 pays alike), each request at the cost of one the gateway answers
    without work, and its sleeps between looks. What 1.3x leaves above that is the budget of
    the gateway's own work."""
    thin, direct = summary[SIDES[1]], summary[SIDES[2]]
    per_call = (direct["total"] - direct["total in EC2"]) / max(direct["total calls"], 1.0)
    per_request = thin.get("bare request", 0.0)
    found = {
        "in EC2": thin["total in EC2"],
        "per call": per_call,
        "calls": thin["total calls"] * per_call,
        "per request": per_request,
        "requests": thin["total requests"] * per_request,
        "sleeps": thin.get("poll sleeps", 0.0),
    }
    found["floor"] = found["in EC2"] + found["calls"] + found["requests"] + found["sleeps"]
    found["ratio"] = found["floor"] / direct["total"]
    found["budget"] = TARGET * direct["total"] - found["floor"]
    found["own"] = thin["total"] - found["floor"]
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds of each (default 5)")
    parser.add_argument(
        "--poll-ms",
        type=float,
        default=50,
        help="how often every client looks at a server it waits for (default 50)",
    )
    parser.add_argument(
        "--split",
        action="store_true",
        help="serve the gateway metered (metered_serve.py) and print where its CPU goes",
    )
    args = parser.parse_args()
    Meters.poll = args.poll_ms / 1000
    endpoint, Meters.ec2 = moto_server()
    ec2 = ec2_client(endpoint)
    ami = an_ami(ec2)
    sides: dict[str, list[Timings]] = {side: [] for side in SIDES}
    cpu = dict.fromkeys(SIDES[:2], 0.0)
    with (
        tempfile.TemporaryDirectory(prefix="interstack-bench-aws-") as tmp,
        AwsGateway(
            Path(tmp), endpoint, ami, Path(tmp) / "meter.json" if args.split else None
        ) as gateway,
    ):
        meter = Meter(Path(tmp) / "meter.json") if args.split else None
        clouds_yaml = gateway.clouds_yaml
        sdk = connect(clouds_yaml, "interstack", REGION)
        sdk.session.session.hooks["response"].append(Meters.http)
        (image,) = sdk.image.images()  # the AMI the settings select
        thin = ThinClient(clouds_yaml, REGION)
        vpc_id = ec2.create_vpc(CidrBlock="100.64.0.0/28")["Vpc"]["VpcId"]
        rounds: dict[str, Callable[[int], Timings]] = {
            SIDES[0]: lambda n: gateway_round(sdk, image.id, n),
            SIDES[1]: lambda n: thin_round(thin, image.id, 40 + n),
            SIDES[2]: lambda n: direct_round(ec2, vpc_id, ami, 100 + n),
        }
        # one warm-up round of each, then the sides take turns, so that the machine's load
        # weighs on each alike
        for n in range(1 + args.rounds):
            for side, one_round in rounds.items():
                totals = meter.totals(gateway.process) if meter and side in cpu else None
                before = gateway.cpu_seconds(reaped=False)
                timings = one_round(n)
                if n:
                    sides[side].append(timings)
                    if side in cpu:
                        cpu[side] += (gateway.cpu_seconds(reaped=False) - before) / args.rounds
                    if meter and totals:  # the gateway's CPU measured first: this costs some
                        meter.add(side, totals, meter.totals(gateway.process))
                    if side == SIDES[1]:  # untimed, after the round: the machine's load now
                        timings["bare request"] = thin.bare_request()
        thin.close()
        sdk.close()

    summary = {side: medians(rounds) for side, rounds in sides.items()}
    report(summary, cpu, args.rounds)
    if meter is not None:
        for side in SIDES[:2]:
            console.print(meter.describe(side))
    ratios = {side: summary[side]["total"] / summary[SIDES[2]]["total"] for side in SIDES[:2]}
    RESULTS_DIR.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%S")
    (RESULTS_DIR / f"aws_gateway-{stamp}.json").write_text(
        json.dumps(
            {
                "rounds": args.rounds,
                "sides": summary,
                "ratios": ratios,
                "gateway_cpu_per_round": cpu,
                "thin_floor_without_gateway_work": no_work_floor(summary),
                "load_average": os.getloadavg(),
            },
            indent=2,
            sort_keys=True,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
