"""Remove everything the network driver ever created on this host, with or without its state.

Found by name (:mod:`names`), so a crashed gateway's leftovers go too: the processes running in
interstack's router and DHCP namespaces, those namespaces, every interstack link, and the host's
interstack nft tables. Instances' own namespaces belong to the compute driver and stay.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

from interstack.backends.local.network import links, names, nft
from interstack.backends.local.network.hostlock import HostLock

#: namespaces the network driver owns
NAMESPACE_PREFIXES = (f"{names.ROUTER}-", f"{names.DHCP}-")
#: links it owns (a veth's peer goes with it)
LINK_PREFIXES = (
    f"{names.NETWORK}-",
    f"{names.PORT}-",
    f"{names.ROUTER_LEG}-",
    f"{names.ROUTER_UPLINK}-",
    f"{names.DHCP_LEG}-",
    f"{names.DHCP_UPLINK}-",
    names.EXTERNAL_BRIDGE,
)


def namespace_pids(namespace: str) -> list[int]:
    """The processes whose network namespace is ``namespace`` (``ip netns pids``)."""
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        done = subprocess.run(  # noqa: S603 - fixed argv, no shell
            ["ip", "netns", "pids", namespace],  # noqa: S607 - iproute2 from PATH
            capture_output=True,
            text=True,
            check=False,
            timeout=10,
        )
        return [int(p) for p in done.stdout.split() if p.isdigit()]
    return []


def stop_processes(namespace: str, timeout: float = 5.0) -> None:
    """SIGTERM every process in ``namespace``, then SIGKILL what is left after ``timeout``."""
    pids = namespace_pids(namespace)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while pids and time.monotonic() < deadline:
        for pid in list(pids):
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)  # our own children: reap them now
            if not Path(f"/proc/{pid}").exists() or _zombie(pid):
                pids.remove(pid)
        time.sleep(0.02)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] == "Z"
    except OSError:
        return True


def cleanup(data_dir: Path | None = None, *, lock_wait: float = 60.0) -> None:
    """Remove every interstack network artifact on the host (and the driver's files under
    ``data_dir`` if given). Waits up to ``lock_wait`` seconds for a running driver to close."""
    lock = HostLock()
    lock.acquire(lock_wait)
    try:
        _remove_all(data_dir)
    finally:
        lock.release()


def _remove_all(data_dir: Path | None) -> None:
    for namespace in links.host_namespaces(NAMESPACE_PREFIXES[0]) + links.host_namespaces(
        NAMESPACE_PREFIXES[1]
    ):
        stop_processes(namespace)
        links.delete_netns(namespace)
    for prefix in LINK_PREFIXES:
        for name in links.host_links(prefix):
            links.delete_link(name)
    if shutil.which("nft") is not None:
        owned = [(f, n) for f, n in nft.table_names() if n == names.TABLE]
        if owned:
            nft.delete_tables(owned)
    if data_dir is not None:
        shutil.rmtree(data_dir, ignore_errors=True)
