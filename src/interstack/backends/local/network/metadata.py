"""Instances reach the metadata service through their subnet's DHCP namespace.

Every IPv4 subnet with DHCP has a namespace (``isd-…``, :mod:`dhcp`) on its network's bridge,
routed or not; it also holds 169.254.169.254 (on its loopback) and runs the subnet's
:mod:`metadata_proxy` there, which forwards to the gateway's unix socket and names the network
the request came in on. A plugged port gets a host route to 169.254.169.254 through its subnet's
DHCP address, so an instance on a network without a router reaches it the same way (as
Neutron's isolated metadata does).

The namespace's own firewall lets in only DHCP, DNS to dnsmasq and TCP port 80 of
169.254.169.254, forwards nothing, and lets the uplink carry only dnsmasq's own queries' answers:
the proxy is the one thing an instance can talk to there besides dnsmasq, and the proxy can
talk to nothing but the gateway's socket.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

from interstack.backends.contract import METADATA_ADDRESS, METADATA_PORT
from interstack.backends.local.network import links, names, nft
from interstack.backends.local.network.state import SubnetRecord
from interstack.errors import BackendError

PROXY_SCRIPT = Path(__file__).with_name("metadata_proxy.py")


def namespace(subnet: SubnetRecord) -> str:
    return names.renamed(names.DHCP, subnet.ref)


def firewall(subnet: SubnetRecord) -> str:
    """The DHCP namespace's ``inet`` table: only DHCP, DNS and metadata come in."""
    dhcp, uplink = names.DHCP_IFNAME, names.DHCP_UPLINK_IFNAME
    return "\n".join(
        [
            "chain input {\ntype filter hook input priority filter; policy drop;",
            'iifname "lo" accept',
            "ct state established,related accept",
            f'iifname "{dhcp}" udp dport 67 accept',
            f'iifname "{dhcp}" ip daddr {subnet.dhcp_address} meta l4proto {{ tcp, udp }} '
            "th dport 53 accept",
            f'iifname "{dhcp}" ip daddr {METADATA_ADDRESS} tcp dport {METADATA_PORT} accept',
            f'iifname "{dhcp}" icmp type echo-request accept',
            f'iifname "{uplink}" drop',
            "}",
            "chain forward {\ntype filter hook forward priority filter; policy drop;\n}",
        ]
    )


def prepare_namespace(subnet: SubnetRecord) -> None:
    """The metadata address on the namespace's loopback and its firewall."""
    ns = namespace(subnet)
    links.configure_inside(ns, "lo", [f"{METADATA_ADDRESS}/32"])
    nft.replace_tables([("inet", names.TABLE, firewall(subnet))], namespace=ns)


class MetadataProxies:
    """The proxy processes of the subnets, with their pid files under ``root``."""

    def __init__(self, root: Path, socket: Path) -> None:
        self.root = root
        self.socket = socket
        self._children: dict[str, subprocess.Popen[bytes]] = {}

    def pid_file(self, subnet: SubnetRecord) -> Path:
        return self.root / f"{names.suffix(subnet.ref)}.pid"

    def start(self, subnet: SubnetRecord, network_id: str) -> None:
        """(Re)start the subnet's proxy for network ``network_id`` (a gateway id)."""
        self.stop(subnet)
        prepare_namespace(subnet)
        self.root.mkdir(parents=True, exist_ok=True)
        pid_file = self.pid_file(subnet)
        pid_file.unlink(missing_ok=True)
        argv = [
            "ip",
            "netns",
            "exec",
            namespace(subnet),
            sys.executable,
            "-I",
            "-S",
            str(PROXY_SCRIPT),
            f"--socket={self.socket}",
            f"--network-id={network_id}",
            f"--address={METADATA_ADDRESS}",
            f"--port={METADATA_PORT}",
            f"--pid-file={pid_file}",
        ]
        log = (self.root / f"{names.suffix(subnet.ref)}.log").open("ab")
        try:
            self._children[subnet.ref] = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        except OSError as exc:
            raise BackendError(
                f"starting the metadata proxy of {subnet.cidr} failed: {exc}"
            ) from exc
        finally:
            log.close()

    def _running_pid(self, subnet: SubnetRecord) -> int | None:
        child = self._children.get(subnet.ref)
        if child is not None:
            return child.pid if child.poll() is None else None
        return _proxy_pid(self.pid_file(subnet))

    def alive(self, subnet: SubnetRecord) -> bool:
        return self._running_pid(subnet) is not None

    def stop(self, subnet: SubnetRecord) -> None:
        """Stop the subnet's proxy and reap it; a missing one is fine."""
        child = self._children.pop(subnet.ref, None)
        if child is not None:
            if child.poll() is None:
                child.terminate()
                try:
                    child.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    child.kill()
                    child.wait(timeout=5)
        else:
            pid = _proxy_pid(self.pid_file(subnet))
            if pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGTERM)
        self.pid_file(subnet).unlink(missing_ok=True)

    def remove(self, subnet: SubnetRecord) -> None:
        self.stop(subnet)
        (self.root / f"{names.suffix(subnet.ref)}.log").unlink(missing_ok=True)

    def reap(self) -> None:
        for ref, child in list(self._children.items()):
            if child.poll() is not None:
                del self._children[ref]

    def close(self) -> None:
        """Let go of the proxies without stopping them: instances keep reaching the socket
        (answered again as soon as a gateway serves it) and the next driver adopts them."""
        self.reap()
        self._children.clear()


def _proxy_pid(path: Path) -> int | None:
    """The pid in a proxy's pid file, if that process still runs the proxy script."""
    try:
        pid = int(path.read_text().strip())
        command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except (OSError, ValueError):
        return None
    return pid if os.fsencode(PROXY_SCRIPT) in command else None
