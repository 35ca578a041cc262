"""Plain network namespaces standing in for instances, and the traffic the tests send.

Each stand-in is a namespace ``ist-<run>-<name>`` that the network driver plugs ports into
exactly as it plugs a real server's; ``<run>`` is new in every test run, so that runs on the
same host (two checkouts, or a run beside a leftover of an interrupted one) never share one.
Traffic goes only between these namespaces and the test's own bridges; no packet leaves the host.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Sequence
from pathlib import Path

PREFIX = "ist-"
#: this run's part of every stand-in's name
RUN = uuid.uuid4().hex[:8]

SERVER = textwrap.dedent(
    """
    import socket, sys
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("0.0.0.0", int(sys.argv[1])))
    listener.listen(16)
    print("listening", flush=True)
    while True:
        conn, peer = listener.accept()
        conn.sendall(("hello from " + sys.argv[2]).encode())
        conn.close()
    """
)

CLIENT = textwrap.dedent(
    """
    import socket, sys
    try:
        timeout = float(sys.argv[3])
        with socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=timeout) as c:
            c.settimeout(timeout)
            print(c.recv(100).decode())
    except OSError as exc:
        print("failed:", exc)
    """
)


def can_create_namespaces() -> str | None:
    """Why this host cannot run the tests, or None if it can."""
    if os.geteuid() != 0:
        return "the local network driver tests need root (namespaces, bridges, nftables)"
    for tool in ("ip", "nft", "dnsmasq", "busybox"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (make deps installs it)"
    probe = f"{PREFIX}probe-{os.getpid()}"
    done = subprocess.run(
        ["ip", "netns", "add", probe], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        return f"this host cannot create network namespaces: {done.stderr.strip()}"
    subprocess.run(["ip", "netns", "delete", probe], check=True)
    if not Path("/proc/sys/net/bridge/bridge-nf-call-iptables").exists():
        return "br_netfilter is not available on this host"
    return None


class StandIn:
    """One namespace posing as an instance; ``label`` is how its TCP server introduces itself."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.name = f"{PREFIX}{RUN}-{label}"
        self.path = Path("/run/netns") / self.name
        self._servers: list[subprocess.Popen[str]] = []
        subprocess.run(["ip", "netns", "add", self.name], check=True)

    def run(self, *argv: str, check: bool = False) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["ip", "netns", "exec", self.name, *argv],
            capture_output=True,
            text=True,
            check=check,
            timeout=30,
        )

    def pings(self, address: str, source: str | None = None, patience: int = 3) -> bool:
        """Whether ``address`` answers an echo request within ``patience`` seconds (one
        request a second). Checks that expect silence pass ``patience=1``."""
        family = "-6" if ":" in address else "-4"
        argv = ["busybox", "ping", family, "-c", "1", "-W", "1", "-w", str(patience)]
        if source is not None:
            argv += ["-I", source]
        return self.run(*argv, address).returncode == 0

    def serve_tcp(self, port: int) -> None:
        """A TCP server answering ``hello from <label>`` on ``port``, until :meth:`close`."""
        server = subprocess.Popen(
            ["ip", "netns", "exec", self.name, sys.executable, "-c", SERVER, str(port), self.label],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert server.stdout is not None
        assert server.stdout.readline().strip() == "listening"
        self._servers.append(server)

    def connect(self, address: str, port: int, timeout: float = 3.0) -> str:
        """What a TCP client in this namespace reads from ``address:port`` ('failed: ...'
        when it cannot connect)."""
        done = self.run(sys.executable, "-c", CLIENT, address, str(port), str(timeout))
        return done.stdout.strip()

    def close(self) -> None:
        for server in self._servers:
            server.kill()
            server.wait()
        subprocess.run(["ip", "netns", "delete", self.name], capture_output=True, check=False)


def host_connect(
    address: str, port: int, timeout: float = 3.0, accept: socket.socket | None = None
) -> str:
    """What a TCP client on the host reads from ``address:port``; with ``accept``, the
    listener is the test's own: 'accepted' once it took the connection."""
    try:
        with socket.create_connection((address, port), timeout=timeout) as conn:
            if accept is not None:
                accept.accept()[0].close()
                return "accepted"
            conn.settimeout(timeout)
            return conn.recv(100).decode()
    except OSError as exc:
        return f"failed: {exc}"


def host_names(prefixes: Sequence[str]) -> dict[str, list[str]]:
    """Interstack artifacts on the host, for before/after comparisons."""
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, check=False).stdout
    link_names = [line.split(":")[1].strip().split("@")[0] for line in links.splitlines()]
    namespaces = (
        [p.name for p in Path("/run/netns").glob("*")] if Path("/run/netns").exists() else []
    )
    tables = subprocess.run(
        ["nft", "list", "tables"], capture_output=True, text=True, check=False
    ).stdout
    return {
        "links": sorted(n for n in link_names if n.startswith(tuple(prefixes))),
        "namespaces": sorted(n for n in namespaces if n.startswith(tuple(prefixes))),
        "tables": sorted(line for line in tables.splitlines() if "interstack" in line),
    }
