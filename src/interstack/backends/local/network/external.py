"""The external network: a bridge on the host that carries an address of the floating range.

Routers with an external gateway and the DHCP namespaces' uplinks join it, floating IPs live on
it, and the host reaches them directly (``ssh user@FLOATING_IP`` from the host). Traffic from it
to the outside is forwarded and masqueraded by the host (rules in :mod:`firewall`) to the
destinations of the egress allow-list only; only the external bridge and the uplink forward,
never the whole host.
"""

from __future__ import annotations

import errno
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from pyroute2 import IPRoute, NetlinkError

from interstack.backends.local.network import links, names
from interstack.errors import BackendError, BackendUnavailable

BR_NETFILTER = Path("/proc/sys/net/bridge/bridge-nf-call-iptables")
BR_NETFILTER6 = Path("/proc/sys/net/bridge/bridge-nf-call-ip6tables")


#: where instances' NATed traffic may go unless the operator narrows it (``egress_cidrs``)
DEFAULT_EGRESS = ("0.0.0.0/0",)
#: never reachable from instances through the host, whatever the allow-list says: the host's
#: loopback and link-local ranges (a cloud's own metadata service lives there), "this network",
#: multicast and the reserved range
NEVER_EGRESS = ("0.0.0.0/8", "127.0.0.0/8", "169.254.0.0/16", "224.0.0.0/4", "240.0.0.0/4")


@dataclass(frozen=True)
class ExternalNetwork:
    """The floating range and the host's own address on it (the range's first host), and
    where traffic NATed from it to the outside may go (``egress``: IPv4 CIDRs)."""

    cidr: str
    egress: tuple[str, ...] = DEFAULT_EGRESS

    @property
    def network(self) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
        return ipaddress.ip_network(self.cidr)

    @property
    def host_address(self) -> str:
        return str(next(self.network.hosts()))

    def interface(self, address: str) -> str:
        """``address`` with the range's prefix length, as an interface address."""
        return f"{address}/{self.network.prefixlen}"

    def holds(self, address: str) -> bool:
        """Whether ``address`` is one of the range's own (neither the host's nor its ends)."""
        ip = ipaddress.ip_address(address)
        return (
            ip in self.network
            and ip != self.network.network_address
            and (ip != self.network.broadcast_address and str(ip) != self.host_address)
        )

    @property
    def _middle(self) -> int:
        return int(self.network.network_address) + self.network.num_addresses // 2

    def free_address(self, used: set[str]) -> str:
        """A free address of the lower half of the range: the driver's own (DHCP uplinks,
        and routers' gateways and floating IPs when no address is given)."""
        taken = used | {self.host_address}
        for address in self.network.hosts():
            if int(address) >= self._middle:
                break
            if str(address) not in taken:
                return str(address)
        raise BackendError(f"no free address left on the external network {self.cidr}")

    @property
    def ipam_pool(self) -> tuple[str, str]:
        """The upper half of the range, left to the gateway's IPAM (routers' gateway ports and
        floating IPs), so that the two never hand out one address twice."""
        last = self.network.broadcast_address - 1
        return str(ipaddress.ip_address(self._middle)), str(last)


def assert_br_netfilter() -> None:
    """Refuse to serve if bridged traffic would bypass the host's inet rules: security groups
    and anti-spoofing would then silently do nothing."""
    try:
        value = BR_NETFILTER.read_text().strip()
    except OSError as exc:
        raise BackendUnavailable(
            "br_netfilter is not available (no /proc/sys/net/bridge): security groups cannot "
            "be enforced on bridged traffic; load the br_netfilter module"
        ) from exc
    if value != "1":
        raise BackendUnavailable(
            "net.bridge.bridge-nf-call-iptables is 0: bridged traffic would bypass security "
            "groups; run sysctl -w net.bridge.bridge-nf-call-iptables=1"
        )
    if BR_NETFILTER6.exists() and BR_NETFILTER6.read_text().strip() != "1":
        raise BackendUnavailable(
            "net.bridge.bridge-nf-call-ip6tables is 0: bridged IPv6 traffic would bypass "
            "security groups; run sysctl -w net.bridge.bridge-nf-call-ip6tables=1"
        )


def uplink() -> str | None:
    """The host interface of the IPv4 default route, if there is one."""
    with links.host_errors("reading the default route"), IPRoute() as ipr:
        for route in ipr.get_default_routes(family=2):
            index = route.get("oif")
            if index is not None:
                found = ipr.get_links(index)
                if found:
                    return str(found[0].get("ifname"))
    return None


def ensure_external(external: ExternalNetwork) -> None:
    """The external bridge with the host's address, forwarding to and from the uplink."""
    links.ensure_bridge(names.EXTERNAL_BRIDGE, 1500)
    interface = ipaddress.ip_interface(external.interface(external.host_address))
    with links.host_errors("addressing the external bridge"), IPRoute() as ipr:
        index = links.link_index(ipr, names.EXTERNAL_BRIDGE)
        try:
            ipr.addr(
                "add",
                index=index,
                address=str(interface.ip),
                prefixlen=interface.network.prefixlen,
            )
        except NetlinkError as exc:
            if exc.code != errno.EEXIST:
                raise
    links.write_sysctl(f"net/ipv4/conf/{names.EXTERNAL_BRIDGE}/forwarding", "1")
    out = uplink()
    if out is not None:
        links.write_sysctl(f"net/ipv4/conf/{out}/forwarding", "1")
