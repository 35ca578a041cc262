"""What a flavor's ephemeral and swap disks add to a boot on the local backend.

Starts a gateway as ``make bench-local`` does (:mod:`local_boot`: a temporary data dir, the
user's built images, a routed network, ports with floating IPs made ahead), then, after one
untimed warm-up boot, boots servers one after another, alternating ``m1.tiny`` (the peer: no
local disks, so nothing of them is on its boot's path) and a flavor of the same size with an
ephemeral disk and swap (``--ephemeral-gb``, ``--swap-mb``: the files made sparse and
formatted at the first boot). Prints the p50 of create -> ``ACTIVE`` and create -> sshd
greeting of each, and their ratio, with the load average: the machine is shared, so only the
ratio in one run means much. Figures only: nothing here asserts a duration. Needs root; run
as ``.venv/bin/python benchmarks/local_disks.py [--pairs N]``.

Measured 2026-11-26 (5 pairs, 1 GB + 256 MB, load average ~10 on 2 cores): p50 ACTIVE 0.29 s
-> 0.43 s, SSH 0.29 s -> 0.28 s. Making and formatting the files is ~25 ms of the first
boot; the rest of ACTIVE's difference is cloud-init mounting ephemeral0 at /mnt through the
host as the guest comes up (the mount holds the instance's lock, which the look at its state
waits for), after sshd already greets.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

from local_boot import Boot, boot, default_image_cache
from local_region import LocalGateway, Region, console

from interstack.backends.local.host import unavailable_reason
from interstack.client.clouds import connect


def _p50(boots: list[Boot], field: str) -> float:
    return float(statistics.median(float(getattr(b, field)) for b in boots))


def run(args: argparse.Namespace, work: Path) -> None:
    load_at_start = os.getloadavg()
    with LocalGateway(work, Path(args.image_cache), args.lock_wait) as gateway:
        region = Region(gateway, 1 + 2 * args.pairs)
        admin = connect(gateway.clouds_yaml, "interstack-admin")
        tiny = admin.compute.find_flavor("m1.tiny", ignore_missing=False)
        with_disks = admin.compute.create_flavor(
            name="bench-local-disks",
            vcpus=tiny.vcpus,
            ram=tiny.ram,
            disk=tiny.disk,
            ephemeral=args.ephemeral_gb,
            swap=args.swap_mb,
        ).id
        plain = region.flavor
        ports = iter(region.ports)
        server, _ = boot(region, "bench-warmup", *next(ports))
        region.delete(server)
        figures: dict[str, list[Boot]] = {"m1.tiny": [], "with disks": []}
        for index in range(args.pairs):
            for label, flavor in (("m1.tiny", plain), ("with disks", with_disks)):
                region.flavor = flavor
                server, timing = boot(region, f"bench-{index}-{flavor[:4]}", *next(ports))
                figures[label].append(timing)
                console.print(
                    f"{label}: ACTIVE {timing.active:.2f} s, SSH {timing.ssh:.2f} s "
                    f"(load average {os.getloadavg()[0]:.1f})"
                )
                region.delete(server)
    plain_boots, disk_boots = figures["m1.tiny"], figures["with disks"]
    console.print(
        f"{args.pairs} boots each, ephemeral {args.ephemeral_gb} GB + swap {args.swap_mb} MB; "
        f"load average at start {load_at_start[0]:.1f}, at end {os.getloadavg()[0]:.1f}"
    )
    for field in ("active", "ssh"):
        base, extra = _p50(plain_boots, field), _p50(disk_boots, field)
        console.print(
            f"p50 create -> {field.upper()}: m1.tiny {base:.2f} s, with disks {extra:.2f} s "
            f"(ratio {extra / base:.2f})"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=5, help="boots of each flavor (5)")
    parser.add_argument("--ephemeral-gb", type=int, default=1, help="ephemeral disk (1 GB)")
    parser.add_argument("--swap-mb", type=int, default=256, help="swap disk (256 MB)")
    parser.add_argument("--image-cache", default=str(default_image_cache()), help="built images")
    parser.add_argument(
        "--lock-wait", type=float, default=600.0, help="wait for the host's networking (600 s)"
    )
    args = parser.parse_args()
    reason = unavailable_reason()
    if reason is not None:
        console.print(f"[red]the local backend cannot run here: {reason}[/]")
        return 2
    with tempfile.TemporaryDirectory(prefix="bench-local-disks-") as work:
        run(args, Path(work))
    return 0


if __name__ == "__main__":
    sys.exit(main())
