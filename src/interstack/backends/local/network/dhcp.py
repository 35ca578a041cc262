"""DHCP and DNS for a subnet: one dnsmasq in the subnet's own namespace.

The namespace (``isd-…``) has one leg on the tenant bridge at the subnet's DHCP address and one
on the external network, used only to forward DNS queries to the host's own resolvers (the host
firewall lets nothing else out of it). dnsmasq answers DHCP only for the MAC/IP pairs in its
hosts file (``static`` range: no address is ever chosen by dnsmasq; the gateway's IPAM did).

The driver is dnsmasq's parent and reaps it (``waitpid``); a dnsmasq left running by an earlier
gateway process is found by its pid file and adopted.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import shutil
import signal
import subprocess
from collections.abc import Iterable
from pathlib import Path

from interstack.backends.local.network import links, names
from interstack.backends.local.network.external import ExternalNetwork
from interstack.backends.local.network.state import NetworkRecord, PortRecord, SubnetRecord
from interstack.errors import BackendError, BackendUnavailable

LEASE_SECONDS = 86400


def host_resolvers(resolv_conf: Path = Path("/etc/resolv.conf")) -> list[str]:
    """The host's own IPv4 resolvers, which are the only servers dnsmasq forwards to."""
    found: list[str] = []
    with contextlib.suppress(OSError):
        for line in resolv_conf.read_text().splitlines():
            fields = line.split()
            if len(fields) >= 2 and fields[0] == "nameserver":
                with contextlib.suppress(ValueError):
                    if ipaddress.ip_address(fields[1]).version == 4:
                        found.append(fields[1])
    return found


def default_address(
    cidr: ipaddress.IPv4Network | ipaddress.IPv6Network, gateway_ip: str | None
) -> str:
    """The last usable address of the range, for a subnet realized before the gateway gave
    each subnet a DHCP port (its default pools kept this address out)."""
    last = cidr.broadcast_address - 1 if cidr.version == 4 else cidr.broadcast_address
    if gateway_ip is not None and str(last) == gateway_ip:
        last -= 1
    return str(last)


def namespace(subnet: SubnetRecord) -> str:
    return names.renamed(names.DHCP, subnet.ref)


class DhcpServers:
    """The dnsmasq processes of the subnets, with their files under ``root``."""

    def __init__(self, root: Path, resolvers: list[str]) -> None:
        self.root = root
        self.resolvers = resolvers
        self._children: dict[str, subprocess.Popen[bytes]] = {}

    def provision(
        self,
        subnet: SubnetRecord,
        network: NetworkRecord,
        external: ExternalNetwork,
        ports: Iterable[PortRecord],
    ) -> None:
        """The subnet's namespace with its two legs, the hosts file, and dnsmasq running."""
        assert subnet.dhcp_address is not None and subnet.dhcp_uplink_address is not None
        inside = namespace(subnet)
        links.ensure_netns(inside)
        prefix = ipaddress.ip_network(subnet.cidr).prefixlen
        links.add_veth(
            names.renamed(names.DHCP_LEG, subnet.ref),
            names.DHCP_IFNAME,
            inside,
            master=network.ref,
            mtu=network.mtu,
            mac=subnet.dhcp_mac or names.stable_mac(subnet.ref, "dhcp"),
        )
        links.configure_inside(inside, names.DHCP_IFNAME, [f"{subnet.dhcp_address}/{prefix}"])
        links.add_veth(
            names.renamed(names.DHCP_UPLINK, subnet.ref),
            names.DHCP_UPLINK_IFNAME,
            inside,
            master=names.EXTERNAL_BRIDGE,
            mtu=1500,
            mac=names.stable_mac(subnet.ref, "uplink"),
        )
        links.configure_inside(
            inside,
            names.DHCP_UPLINK_IFNAME,
            [external.interface(subnet.dhcp_uplink_address)],
            [external.host_address],
        )
        self.write_hosts(subnet, ports)
        self.start(subnet)

    def deprovision(self, subnet: SubnetRecord) -> None:
        """Stop dnsmasq, remove its files, legs and namespace; missing pieces are fine."""
        self.remove(subnet)
        links.delete_link(names.renamed(names.DHCP_LEG, subnet.ref))
        links.delete_link(names.renamed(names.DHCP_UPLINK, subnet.ref))
        links.delete_netns(namespace(subnet))

    def directory(self, subnet: SubnetRecord) -> Path:
        return self.root / names.suffix(subnet.ref)

    def hosts_file(self, subnet: SubnetRecord) -> Path:
        return self.directory(subnet) / "hosts"

    def write_hosts(self, subnet: SubnetRecord, ports: Iterable[PortRecord]) -> None:
        """One ``MAC,IP`` line per port address on the subnet, then a reload (SIGHUP)."""
        lines = sorted(
            f"{port.mac_address.lower()},{ip.address}"
            for port in ports
            for ip in port.fixed_ips
            if ip.subnet == subnet.ref
        )
        directory = self.directory(subnet)
        directory.mkdir(parents=True, exist_ok=True)
        tmp = directory / "hosts.tmp"
        tmp.write_text("".join(line + "\n" for line in lines))
        tmp.replace(self.hosts_file(subnet))
        pid = self._running_pid(subnet)
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGHUP)

    def _argv(self, subnet: SubnetRecord) -> list[str]:
        binary = shutil.which("dnsmasq")
        if binary is None:
            raise BackendUnavailable(
                "dnsmasq is missing: install the Debian package dnsmasq-base (make deps does)"
            )
        network = ipaddress.ip_network(subnet.cidr)
        directory = self.directory(subnet)
        argv = [
            binary,
            "--keep-in-foreground",
            "--conf-file=/dev/null",
            "--no-hosts",
            "--no-resolv",
            "--bind-interfaces",
            f"--interface={names.DHCP_IFNAME}",
            "--except-interface=lo",
            f"--pid-file={directory / 'pid'}",
            f"--dhcp-leasefile={directory / 'leases'}",
            f"--dhcp-hostsfile={self.hosts_file(subnet)}",
            f"--dhcp-range={network.network_address},static,{network.netmask},{LEASE_SECONDS}s",
            "--dhcp-authoritative",
            "--log-facility=-",
            "--quiet-dhcp",
            "--cache-size=0",
            "--user=root",
            "--group=root",
        ]
        argv += [f"--server={resolver}" for resolver in self.resolvers]
        if subnet.gateway_ip:
            argv.append(f"--dhcp-option=option:router,{subnet.gateway_ip}")
        else:
            argv.append("--dhcp-option=option:router")
        dns = [*subnet.dns_nameservers] or [subnet.dhcp_address or ""]
        argv.append(f"--dhcp-option=option:dns-server,{','.join(a for a in dns if a)}")
        return argv

    def start(self, subnet: SubnetRecord) -> None:
        """(Re)start the subnet's dnsmasq inside its namespace."""
        self.stop(subnet)
        directory = self.directory(subnet)
        directory.mkdir(parents=True, exist_ok=True)
        if not self.hosts_file(subnet).exists():
            self.hosts_file(subnet).write_text("")
        log = (directory / "dnsmasq.log").open("ab")
        try:
            child = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
                ["ip", "netns", "exec", namespace(subnet), *self._argv(subnet)],  # noqa: S607
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        except OSError as exc:
            raise BackendError(f"starting dnsmasq for subnet {subnet.cidr} failed: {exc}") from exc
        finally:
            log.close()
        self._children[subnet.ref] = child

    def _running_pid(self, subnet: SubnetRecord) -> int | None:
        child = self._children.get(subnet.ref)
        if child is not None:
            return child.pid if child.poll() is None else None
        return _pid_from_file(self.directory(subnet) / "pid")

    def alive(self, subnet: SubnetRecord) -> bool:
        return self._running_pid(subnet) is not None

    def stop(self, subnet: SubnetRecord) -> None:
        """Stop the subnet's dnsmasq and reap it; a missing one is fine."""
        child = self._children.pop(subnet.ref, None)
        if child is not None:
            _terminate(child)
            return
        pid = _pid_from_file(self.directory(subnet) / "pid")
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)

    def remove(self, subnet: SubnetRecord) -> None:
        self.stop(subnet)
        shutil.rmtree(self.directory(subnet), ignore_errors=True)

    def reap(self) -> None:
        """Collect children that exited (PID 1 of these hosts reaps slowly, so we do)."""
        for ref, child in list(self._children.items()):
            if child.poll() is not None:
                del self._children[ref]

    def close(self) -> None:
        """Let go of the children without stopping them: instances keep their DHCP and DNS
        while the gateway restarts, and the next driver adopts them by their pid files."""
        self.reap()
        self._children.clear()


def _terminate(child: subprocess.Popen[bytes]) -> None:
    if child.poll() is None:
        child.terminate()
        try:
            child.wait(timeout=5)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait(timeout=5)


def _pid_from_file(path: Path) -> int | None:
    """The pid in a dnsmasq pid file, if that process still runs dnsmasq."""
    try:
        pid = int(path.read_text().strip())
        comm = Path(f"/proc/{pid}/comm").read_text().strip()
    except (OSError, ValueError):
        return None
    return pid if comm == "dnsmasq" else None
