"""``make bench-local``: how fast real servers boot on the local backend, and what they cost.

Starts ``interstack serve`` with one ``local`` region on a free loopback port (temporary data
dir; built images from the user's cache, as ``make demo`` keeps them), gives the demo project a
network behind a router, a security group letting SSH in, and one port per server with a
floating IP already on it. Then, after one untimed warm-up boot (the image's root is prepared
on first use):

* N single boots, one after another: ``POST /servers`` -> ``ACTIVE`` (``GET /servers/{id}``
  every 20 ms) and -> sshd greeting on the floating IP (``SSH-`` read on port 22, tried every
  20 ms from the moment of the create, each connection attempt given up after 0.1 s); p50 and
  max of each, and of both together. Then, once cloud-init says it finished on the server's
  console, what the boot cost in CPU seconds, which the machine's load does not inflate as it
  does wall time: the instance's own (its cgroup's total), and the gateway's and its helper
  processes' from the create on (with this benchmark's requests, the status polls included);
* C servers created at once (C threads): wall time until every one is ``ACTIVE`` and greets
  over SSH. Their statuses come from one ``GET /servers/detail`` every 100 ms for all of them
  (C clients asking every 20 ms would cost the gateway more than a boot step does), the sshd
  greetings are tried as for a single boot;
* the memory of those C servers once idle (cloud-init finished on all, bounded): each
  instance's memory cgroup, usage now and its peak since boot (median and max).

With ``--keypair`` the servers boot with a keypair and SSH counts only once ``ssh`` gets in
as the default user with its key (tried after the greeting, one ``ssh`` at a time per server:
its own CPU is part of the figure on a small machine). The benchmark and its ssh clients stand
in for a user's own machine: once the gateway runs they measure from a cgroup weighing what the
C servers weigh together (``--client-in-root-cgroup``: from the host's root cgroup, one process
against the instances' one per vCPU, where the 20 key logins waited for CPU behind the guests'
cloud-init and ended together seconds after the servers were up); their CPU still counts.

Prints the figures and writes them as JSON to benchmarks/results/. Every wait is bounded; only
loopback and the addresses the region creates on the host are contacted. Figures only: nothing
here asserts a duration. Needs root (the local backend's own requirement).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from local_host import (
    client_share,
    cpu_now,
    helpers_cpu_seconds,
    instance_cpu_seconds,
    instances_cpu_seconds,
    memory_of,
)
from local_region import (
    BOUND_SECONDS,
    LIST_SECONDS,
    REGION,
    LocalGateway,
    Region,
    Statuses,
    console,
    key_accepted,
    sshd_greets,
)
from rich.table import Table
from tokens import RESULTS_DIR, Gateway

from interstack.backends.local.console import LOG_NAME as CONSOLE_LOG
from interstack.backends.local.host import unavailable_reason
from interstack.backends.local.instance_record import ref_for

POLL_SECONDS = 0.02
#: the bound on waiting, after the boots at once, for every one's cloud-init to finish
IDLE_BOUND_SECONDS = 120.0
SETTLE_SECONDS = 30.0  # a single boot's bound for cloud-init to finish
CLOUD_INIT_DONE = b"cloud-init finished"  # the guest init's line on the console


@dataclass
class Boot:
    """One server's boot, in seconds from its create request; for a single boot, the CPU
    seconds it cost once cloud-init finished (see :func:`settle`)."""

    active: float
    ssh: float
    guest_cpu: float | None = None
    host_cpu: float | None = None

    @property
    def ready(self) -> float:
        return max(self.active, self.ssh)


def _wait(check: Any, what: str, started: float) -> float:
    """Seconds from ``started`` until ``check()`` holds, trying every POLL_SECONDS."""
    while not check():
        if time.perf_counter() - started > BOUND_SECONDS:
            raise RuntimeError(f"gave up waiting for {what}")
        time.sleep(POLL_SECONDS)
    return time.perf_counter() - started


def boot(
    region: Region, name: str, port: str, address: str, statuses: Statuses | None = None
) -> tuple[str, Boot]:
    """Create a server on ``port``; time ACTIVE and the sshd greeting, both from the create.
    Its status is asked for on its own every POLL_SECONDS, or read from ``statuses``."""
    started = time.perf_counter()
    server = region.create(name, port)
    ssh_seconds: list[float] = []

    def ssh_ready() -> bool:
        if region.key is None:
            return sshd_greets(address)
        return sshd_greets(address) and key_accepted(region.key, address)

    def watch_ssh() -> None:
        ssh_seconds.append(_wait(ssh_ready, f"sshd of {name}", started))

    watcher = threading.Thread(target=watch_ssh, daemon=True)
    watcher.start()

    def active() -> bool:
        status = region.status(server) if statuses is None else statuses.status(server)
        if status == "ERROR":
            raise RuntimeError(f"server {name} went to ERROR")
        return status == "ACTIVE"

    active_seconds = _wait(active, f"{name} to be ACTIVE", started)
    watcher.join(BOUND_SECONDS)
    if not ssh_seconds:
        raise RuntimeError(f"sshd of {name} never greeted")
    return server, Boot(active_seconds, ssh_seconds[0])


def cloud_init_finished(gateway: Gateway, server: str) -> bool:
    """Whether the console of ``server`` says its cloud-init finished (the guest init's line)."""
    console_log = gateway.data_dir / "backends" / REGION / "instances" / ref_for(server)
    console_log = console_log / CONSOLE_LOG
    return console_log.exists() and CLOUD_INIT_DONE in console_log.read_bytes()


def all_cloud_init_finished(gateway: Gateway, servers: list[str], started: float) -> float | None:
    """Seconds from ``started`` until every one of ``servers`` says its cloud-init finished, or
    None once IDLE_BOUND_SECONDS passed: the instances' idle memory is read after it, not while
    some still run cloud-init (the cloud-init hold lets them go a few at a time)."""
    waiting = set(servers)
    deadline = time.monotonic() + IDLE_BOUND_SECONDS
    while waiting:
        waiting = {server for server in waiting if not cloud_init_finished(gateway, server)}
        if not waiting:
            break
        if time.monotonic() > deadline:
            console.print(
                f"[yellow]cloud-init did not finish within {IDLE_BOUND_SECONDS:.0f} s on "
                f"{len(waiting)} of {len(servers)}: memory read anyway[/]"
            )
            return None
        time.sleep(0.1)
    return time.perf_counter() - started


def settle(gateway: Gateway, server: str, timing: Boot, host_cpu_before: float) -> Boot:
    """``timing`` with the CPU the boot cost, read once the server's console says cloud-init
    finished (or SETTLE_SECONDS passed): the instance's, and the gateway's with its helpers'
    since ``host_cpu_before``."""
    deadline = time.monotonic() + SETTLE_SECONDS
    while time.monotonic() < deadline:
        if cloud_init_finished(gateway, server):
            break
        time.sleep(0.1)
    else:
        console.print(f"[yellow]cloud-init did not finish within {SETTLE_SECONDS:.0f} s[/]")
    return Boot(
        timing.active,
        timing.ssh,
        guest_cpu=instance_cpu_seconds(server),
        host_cpu=gateway_cpu_seconds(gateway) - host_cpu_before,
    )


def gateway_cpu_seconds(gateway: Gateway) -> float:
    """The gateway's CPU time so far with its helper processes' (see :func:`cpu_now`)."""
    assert gateway.process is not None
    return gateway.cpu_seconds() + helpers_cpu_seconds(gateway.process.pid)


def run(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    log_level = "debug" if args.gateway_log else "warning"
    load_at_start = os.getloadavg()
    with (
        LocalGateway(
            work,
            Path(args.image_cache),
            args.lock_wait,
            log_level,
            boot_workers=args.boot_workers,
            task_workers=args.task_workers,
        ) as gateway,
        # once the gateway started (it takes a cgroup of its own only from the root one)
        client_share(0 if args.client_in_root_cgroup else args.together) as share,
    ):
        console.print(f"the benchmark and its ssh clients measure {share}")
        # a port each: deleting a server takes the floating IP off its port
        key = None
        if args.keypair:
            key = work / "bench-key"
            subprocess.run(
                ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True
            )
        region = Region(gateway, 1 + args.boots + args.together, key)
        ports = iter(region.ports)
        console.print("warm-up boot (prepares debian-12's root; built first if not cached)")
        server, _ = boot(region, "bench-warmup", *next(ports))
        region.delete(server)

        singles = []
        for index in range(args.boots):
            host_cpu = gateway_cpu_seconds(gateway)
            server, timing = boot(region, f"bench-single-{index}", *next(ports))
            timing = settle(gateway, server, timing, host_cpu)
            singles.append(timing)
            console.print(
                f"boot {index + 1}/{args.boots}: ACTIVE {timing.active:.2f} s, "
                f"SSH {timing.ssh:.2f} s; CPU s: guest {timing.guest_cpu:.2f}, gateway and "
                f"helpers {timing.host_cpu:.2f} (load average {os.getloadavg()[0]:.1f})"
            )
            region.delete(server)

        console.print(f"{args.together} servers at once")
        cpu_before = cpu_now(gateway)
        started = time.perf_counter()
        with (
            Statuses(region, "^bench-many-") as statuses,
            ThreadPoolExecutor(args.together) as pool,
        ):
            together = list(
                pool.map(
                    lambda item: boot(
                        region, f"bench-many-{item[0]}", item[1][0], item[1][1], statuses
                    ),
                    enumerate(ports),
                )
            )
        wall = time.perf_counter() - started
        cpu_after = cpu_now(gateway)
        idle_after = all_cloud_init_finished(gateway, [s for s, _ in together], started)
        instances_idle = instances_cpu_seconds() - cpu_before["instances"]
        memory = [memory_of(server) for server, _ in together]
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(region.delete, [server for server, _ in together]))
        if args.gateway_log:
            Path(args.gateway_log).write_bytes(gateway.log.read_bytes())
    return {
        "single": [asdict(b) for b in singles],
        "together": [asdict(b) for _, b in together],
        "together_wall_seconds": wall,
        "together_cpu_seconds": {k: cpu_after[k] - cpu_before[k] for k in cpu_before},
        "instances_cpu_seconds_until_idle": instances_idle,
        "cloud_init_finished_seconds": idle_after,
        "load_average": os.getloadavg(),
        "load_average_at_start": load_at_start,
        "client_cgroup": share,
        "idle_memory_bytes": [m[0] for m in memory],
        "peak_memory_bytes": [m[1] for m in memory],
    }


def report(results: dict[str, Any], args: argparse.Namespace) -> None:
    singles = [Boot(**b) for b in results["single"]]
    many = [Boot(**b) for b in results["together"]]
    ssh = "SSH lets the keypair in" if args.keypair else "SSH greets"
    table = Table(title=f"local backend: create -> ACTIVE -> {ssh} (floating IP)")
    for column in ("measure", "count", "p50 s", "max s"):
        table.add_column(column, justify="left" if column == "measure" else "right")
    for label, values in (
        ("single boot: ACTIVE", [b.active for b in singles]),
        (f"single boot: {ssh}", [b.ssh for b in singles]),
        ("single boot: both", [b.ready for b in singles]),
        (f"{args.together} at once: each, both", [b.ready for b in many]),
    ):
        if not values:
            continue
        table.add_row(
            label, str(len(values)), f"{statistics.median(values):.2f}", f"{max(values):.2f}"
        )
    console.print(table)
    start, end = results["load_average_at_start"], results["load_average"]
    console.print(
        "load average (1, 5, 15 min) at the start: "
        + ", ".join(f"{v:.1f}" for v in start)
        + "; at the end: "
        + ", ".join(f"{v:.1f}" for v in end)
    )
    if singles:
        guest = [b.guest_cpu for b in singles if b.guest_cpu is not None]
        host = [b.host_cpu for b in singles if b.host_cpu is not None]
        console.print(
            f"single boot CPU seconds until cloud-init finished, p50 (max): guest "
            f"{statistics.median(guest):.2f} ({max(guest):.2f}), gateway and its helpers "
            f"{statistics.median(host):.2f} ({max(host):.2f}) with this benchmark's requests"
        )
    console.print(
        f"the client looks at GET /servers/{{id}} every {POLL_SECONDS * 1000:.0f} ms for a single "
        f"boot, at one GET /servers/detail every {LIST_SECONDS * 1000:.0f} ms for those at once "
        "(plus the request's own time): that much of ACTIVE's figure is the client's"
    )
    console.print(
        f"{args.together} servers at once: all ACTIVE and {ssh} after "
        f"{results['together_wall_seconds']:.2f} s; the benchmark and its ssh clients measured "
        f"{results['client_cgroup']}"
    )
    cpu = results["together_cpu_seconds"]
    console.print(
        f"CPU seconds while the {args.together} booted: instances {cpu['instances']:.1f}, "
        f"gateway (and the children it reaped) {cpu['gateway']:.1f}, its helper processes "
        f"(supervisor and runc, metadata proxies, dnsmasq) {cpu['helpers']:.1f}, "
        f"this benchmark {cpu['benchmark']:.1f} and its ssh clients "
        f"{cpu['ssh_clients']:.1f}, the whole host {cpu['host']:.1f} "
        f"(load average {results['load_average'][0]:.1f}); the instances until their "
        f"cloud-init finished: {results['instances_cpu_seconds_until_idle']:.1f}"
    )
    finished = results["cloud_init_finished_seconds"]
    console.print(
        f"cloud-init finished on all {args.together} {finished:.1f} s after the creates began"
        if finished is not None
        else f"cloud-init had not finished on all {args.together} after {IDLE_BOUND_SECONDS:.0f} s"
    )
    mib = 1024 * 1024
    idle, peak = results["idle_memory_bytes"], results["peak_memory_bytes"]
    console.print(
        f"memory per idle instance ({len(idle)} instances, once their cloud-init finished; "
        f"memory cgroup): now median {statistics.median(idle) / mib:.1f} MiB, max "
        f"{max(idle) / mib:.1f} MiB; peak since boot median {statistics.median(peak) / mib:.1f} "
        f"MiB, max {max(peak) / mib:.1f} MiB"
    )


def default_image_cache() -> Path:
    """Where ``make demo`` keeps built images, so that neither builds debian-12 again."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "interstack" / "images"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--boots", type=int, default=10, help="single boots, in a row (10)")
    parser.add_argument("--together", type=int, default=20, help="servers booted at once (20)")
    parser.add_argument("--image-cache", default=str(default_image_cache()), help="built images")
    parser.add_argument(
        "--lock-wait",
        type=float,
        default=1500.0,
        help="seconds to wait for another interstack process to free the host's networking",
    )
    parser.add_argument(
        "--keypair",
        action="store_true",
        help="boot with a keypair and count SSH once it lets the default user in with the key "
        "(else: once sshd greets)",
    )
    parser.add_argument(
        "--gateway-log",
        help="run the gateway at debug level and keep its log here (its timings per boot step)",
    )
    parser.add_argument(
        "--task-workers", type=int, help="the gateway's task workers (else its default)"
    )
    parser.add_argument(
        "--boot-workers", type=int, help="the local region's boot workers (else its default)"
    )
    parser.add_argument(
        "--client-in-root-cgroup",
        action="store_true",
        help="measure from the host's root cgroup, where the instances outweigh the benchmark "
        "and its ssh clients one process per vCPU (else: a cgroup weighing what the servers "
        "booted at once weigh)",
    )
    args = parser.parse_args()
    # a stopped run still deletes its servers and takes its networking off the host
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    reason = unavailable_reason()
    if reason is not None:
        console.print(f"[red]the local backend cannot run here: {reason}[/]")
        return 2
    with tempfile.TemporaryDirectory(
        prefix="interstack-bench-local-", ignore_cleanup_errors=True
    ) as temporary:
        results = run(args, Path(temporary))
        RESULTS_DIR.mkdir(exist_ok=True)
        stamp = time.strftime("%Y%m%dT%H%M%S")
        (RESULTS_DIR / f"local-boot-{stamp}.json").write_text(
            json.dumps({"arguments": vars(args), **results}, indent=2)
        )
        report(results, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
