"""What a subnet's create and change accept, as Neutron checks it: its addresses (gateway, DNS
servers, host routes' next hops) of the subnet's IP version, its CIDR a network address with
room for a gateway and a host that overlaps no other subnet of the network, its IPv6 modes."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from interstack.errors import BadRequest
from interstack.services.network.ipam import validate_pools
from interstack.store import run_core, table_of
from interstack.store.models import Subnet

IPV6_MODES = ("slaac", "dhcpv6-stateful", "dhcpv6-stateless")
_SUBNETS = table_of(Subnet)
#: the network's subnets' ranges, for the overlap check
_CIDRS = select(_SUBNETS.c.cidr).where(_SUBNETS.c.network_id == bindparam("network_id"))


def checked_address(value: str, what: str, version: int) -> str:
    """An IP address of ``version`` as Neutron writes it; 400 naming ``what`` if not."""
    try:
        address = ipaddress.ip_address(value)
    except ValueError as exc:
        raise BadRequest(f"Invalid input for {what}: '{value}' is not a valid IP address.") from exc
    if address.version != version:
        raise BadRequest(f"Invalid input for {what}: '{value}' is not an IPv{version} address.")
    return str(address)


IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def validate_cidr(cidr: str, ip_version: int) -> IpNetwork:
    """A CIDR in Neutron's form: a network address with a prefix length, of ``ip_version``."""
    if "/" not in cidr:
        raise BadRequest(f"Invalid input for cidr. Reason: '{cidr}' is not a valid IP subnet.")
    try:
        net = ipaddress.ip_network(cidr, strict=False)
    except ValueError as exc:
        raise BadRequest(
            f"Invalid input for cidr. Reason: '{cidr}' is not a valid IP subnet."
        ) from exc
    if str(net.network_address) != cidr.split("/", maxsplit=1)[0]:
        raise BadRequest(
            f"Invalid input for cidr. Reason: '{cidr}' isn't a recommended CIDR, use {net}."
        )
    if net.version != ip_version:
        raise BadRequest(
            f"Invalid input for operation: cidr {cidr} does not match ip_version {ip_version}."
        )
    if net.prefixlen > net.max_prefixlen - 2:
        raise BadRequest(f"Invalid input for cidr: {cidr} has no room for a gateway and a host.")
    return net


def checked_route(destination: str, nexthop: str, version: int) -> tuple[str, str]:
    """A host route ``(destination, nexthop)`` of ``version`` as Neutron writes it."""
    try:
        dest = ipaddress.ip_network(destination)
    except ValueError as exc:
        raise BadRequest(f"Invalid host route destination {destination!r}.") from exc
    if dest.version != version:
        raise BadRequest(f"Host route destination {destination} is not IPv{version}.")
    return str(dest), checked_address(nexthop, "host_routes", version)


def check_overlap(session: Session, network_id: str, net: IpNetwork) -> None:
    """400 if ``net`` overlaps a subnet of the network (of its IP version)."""
    for cidr in run_core(session, _CIDRS, {"network_id": network_id}).scalars():
        existing = ipaddress.ip_network(cidr)
        if existing.version == net.version and existing.overlaps(net):
            raise BadRequest(
                f"Invalid input for operation: Requested subnet with cidr: {net} for "
                f"network: {network_id} overlaps with another subnet."
            )


def apply_changes(row: Subnet, values: dict[str, Any]) -> None:
    """Set a subnet's changed fields on its row, each checked as its create checks it (the
    pools against the gateway, either changed)."""
    for key in ("name", "description", "enable_dhcp"):
        if values.get(key) is not None:
            setattr(row, key, values[key])
    if "dns_nameservers" in values:
        row.dns_nameservers = [
            checked_address(d, "dns_nameservers", row.ip_version)
            for d in values["dns_nameservers"] or []
        ]
    if "host_routes" in values:
        row.host_routes = [
            list(checked_route(d, n, row.ip_version)) for d, n in values["host_routes"] or []
        ]
    if "gateway_ip" in values:
        gateway = values["gateway_ip"]
        if gateway is not None:
            gateway = checked_address(gateway, "gateway_ip", row.ip_version)
        pools: Sequence[tuple[str, str]] = [
            (a, b) for a, b in values.get("allocation_pools") or row.allocation_pools
        ]
        validate_pools(row.cidr, gateway, pools)
        row.gateway_ip = gateway
    if values.get("allocation_pools") is not None:
        pools = validate_pools(row.cidr, row.gateway_ip, values["allocation_pools"])
        row.allocation_pools = [list(p) for p in pools]
