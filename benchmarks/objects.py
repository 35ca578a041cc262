"""``make bench``: Swift object PUT/GET throughput and the gateway's memory, against ``dd``.

Serves a gateway with one ``sim`` region (objects in files under its data dir) on a free loopback
port, and in the same run:

* PUTs then GETs many 1 MiB objects and a few 100 MiB objects (one keep-alive httpx client,
  bodies streamed from a 1 MiB buffer, downloads read and dropped), as MiB/s;
* writes as many bytes to the same disk with ``dd`` (from /dev/zero, ``conv=fsync``, as the
  sim backend syncs each object before publishing it), one file per object, and reads them back
  with ``dd``; each gateway figure is printed with its ratio to dd's;
* uploads one 1 GiB object while sampling the gateway's RSS (``/proc/<pid>/status``; VmHWM is
  reset first, so it catches any peak too brief for the sampling), and prints the peak above the
  RSS before the upload, next to the upload's size.

Writes the figures as JSON to benchmarks/results/ as well. Only talks to 127.0.0.1.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx
from rich.console import Console
from rich.table import Table
from tokens import RESULTS_DIR, Gateway

MiB = 1024 * 1024
console = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 120)


@dataclass
class Throughput:
    name: str
    objects: int
    object_mib: int
    gateway_mib_s: float
    dd_mib_s: float

    @property
    def ratio(self) -> float:
        return self.gateway_mib_s / self.dd_mib_s if self.dd_mib_s else 0.0


def body(size: int, block: bytes) -> Iterator[bytes]:
    """``size`` bytes streamed from one buffer (so the client holds 1 MiB, not the object)."""
    left = size
    while left > 0:
        piece = block if left >= len(block) else block[:left]
        left -= len(piece)
        yield piece


def rss(pid: int, field: str = "VmRSS") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {field} for process {pid}")


class RssPeak:
    """Samples a process's RSS every 20 ms while the block runs."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss(self.pid))
            self._stop.wait(0.02)

    def __enter__(self) -> RssPeak:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


def timed(action: Callable[[], None]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def put_all(swift: httpx.Client, container: str, count: int, size: int, block: bytes) -> None:
    for index in range(count):
        response = swift.put(
            f"/{container}/o{index}",
            content=body(size, block),
            headers={"Content-Length": str(size)},
        )
        response.raise_for_status()


def get_all(swift: httpx.Client, container: str, count: int, size: int) -> None:
    for index in range(count):
        received = 0
        with swift.stream("GET", f"/{container}/o{index}") as response:
            response.raise_for_status()
            for chunk in response.iter_raw(MiB):
                received += len(chunk)
        if received != size:
            raise RuntimeError(f"GET o{index}: {received} bytes, not {size}")


def dd_write(directory: Path, count: int, size: int) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for index in range(count):
        target = directory / f"o{index}"
        blocks = f"count={size // MiB}"
        subprocess.run(
            ["dd", "if=/dev/zero", f"of={target}", "bs=1M", blocks, "conv=fsync", "status=none"],
            check=True,
        )


def dd_read(directory: Path, count: int) -> None:
    for index in range(count):
        subprocess.run(
            ["dd", f"if={directory / f'o{index}'}", "of=/dev/null", "bs=1M", "status=none"],
            check=True,
        )


def storage_session(gateway: Gateway) -> httpx.Client:
    token = gateway.token("interstack")
    catalog = httpx.get(
        f"{gateway.url}/v3/auth/tokens",
        headers={"X-Auth-Token": token, "X-Subject-Token": token},
        timeout=30,
    ).json()["token"]["catalog"]
    url = next(
        endpoint["url"]
        for service in catalog
        if service["type"] == "object-store"
        for endpoint in service["endpoints"]
        if endpoint["interface"] == "public"
    )
    return httpx.Client(base_url=url, headers={"X-Auth-Token": token}, timeout=600)


def measure(
    swift: httpx.Client, work: Path, name: str, count: int, size: int, block: bytes
) -> tuple[Throughput, Throughput]:
    container = name.replace(" ", "-")
    swift.put(f"/{container}").raise_for_status()
    total = count * size / MiB
    put = timed(lambda: put_all(swift, container, count, size, block))
    get = timed(lambda: get_all(swift, container, count, size))
    disk = work / "dd" / container
    dd_put = timed(lambda: dd_write(disk, count, size))
    dd_get = timed(lambda: dd_read(disk, count))
    for index in range(count):
        swift.delete(f"/{container}/o{index}").raise_for_status()
        (disk / f"o{index}").unlink()
    return (
        Throughput(f"PUT {name}", count, size // MiB, total / put, total / dd_put),
        Throughput(f"GET {name}", count, size // MiB, total / get, total / dd_get),
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--small", type=int, default=100, help="1 MiB objects (default 100)")
    parser.add_argument("--large", type=int, default=3, help="100 MiB objects (default 3)")
    parser.add_argument("--huge-mib", type=int, default=1024, help="the big upload (1024)")
    args = parser.parse_args()
    block = os.urandom(MiB)

    with tempfile.TemporaryDirectory(prefix="interstack-bench-") as temporary:
        work = Path(temporary)
        config = work / "config.yaml"
        config.write_text("regions:\n  - name: RegionOne\n    backend: sim\n")
        with Gateway(work, ["--config", str(config)]) as gateway, storage_session(gateway) as swift:
            assert gateway.process is not None
            pid = gateway.process.pid
            rows = [
                *measure(swift, work, "1 MiB", args.small, MiB, block),
                *measure(swift, work, "100 MiB", args.large, 100 * MiB, block),
            ]
            swift.put("/huge").raise_for_status()
            huge = args.huge_mib * MiB
            before = rss(pid)
            Path(f"/proc/{pid}/clear_refs").write_text("5")  # VmHWM := RSS now
            with RssPeak(pid) as sampled:
                seconds = timed(lambda: put_all(swift, "huge", 1, huge, block))
            high_water = rss(pid, "VmHWM")
            swift.delete("/huge/o0").raise_for_status()

    table = Table(title="interstack object storage benchmark (sim backend, same disk as dd)")
    for column in ("operation", "objects", "MiB each", "gateway MiB/s", "dd MiB/s", "vs dd"):
        table.add_column(column, justify="left" if column == "operation" else "right")
    for row in rows:
        table.add_row(
            row.name,
            str(row.objects),
            str(row.object_mib),
            f"{row.gateway_mib_s:,.1f}",
            f"{row.dd_mib_s:,.1f}",
            f"{row.ratio:.2f}",
        )
    console.print(table)
    growth = sampled.peak - before
    console.print(
        f"{args.huge_mib} MiB upload: {args.huge_mib / seconds:,.1f} MiB/s; gateway RSS "
        f"{before / MiB:.0f} MiB before, peak {sampled.peak / MiB:.0f} MiB "
        f"(+{growth / MiB:.1f} MiB, {growth / huge:.2%} of the upload); "
        f"VmHWM during the upload {high_water / MiB:.0f} MiB "
        f"(+{(high_water - before) / MiB:.1f} MiB)"
    )
    RESULTS_DIR.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%S")
    (RESULTS_DIR / f"objects-{stamp}.json").write_text(
        json.dumps(
            {
                "throughput": [asdict(r) | {"ratio_to_dd": r.ratio} for r in rows],
                "huge_upload": {
                    "mib": args.huge_mib,
                    "mib_s": args.huge_mib / seconds,
                    "rss_before": before,
                    "rss_peak": sampled.peak,
                    "vm_hwm": high_water,
                },
            },
            indent=2,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
