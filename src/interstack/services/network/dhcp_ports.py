"""The DHCP port: the address of a subnet's DHCP/DNS server, held as a port of its network.

Neutron's DHCP agent takes a port (``device_owner`` ``network:dhcp``) whose address IPAM
allocates like any other port's, so no instance can ever get the server's address, whatever
pools or gateway the subnet has. Here the network service records one per DHCP-enabled subnet
when the subnet is created or its DHCP switched on, and removes it with the subnet, with the
network (it does not keep the network "in use"), or when DHCP is switched off.

It belongs to the network's project (the project's members and admins see it), is not realized
as a port by the backend (the backend puts its DHCP server on the port's address and MAC, told
by ``SubnetSpec.dhcp_address`` and ``set_subnet_dhcp``), and counts toward the project's port
quota without being refused by it, as Neutron's agent-made ports do. Neutron's agent takes one
port per network with an address on each subnet; here each subnet has its own server (the local
backend's dnsmasq namespace per subnet), so each has its own port.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Select, delete, or_, select
from sqlalchemy.orm import Session

from interstack.services.context import operator_context
from interstack.services.network.common import DHCP_OWNER
from interstack.services.network.ipam import IpRequest, free_address
from interstack.services.network.port_records import PortCreate, record_port
from interstack.store.models import IpAllocation, Network, Port, Subnet


@dataclass(frozen=True)
class DhcpPort:
    port_id: str
    address: str
    mac_address: str


def device_id(region: str, network_id: str) -> str:
    """Neutron's ``dhcp<host uuid>-<network id>``, the region standing for the agent's host."""
    return f"dhcp{uuid.uuid5(uuid.NAMESPACE_DNS, region)}-{network_id}"


def served(network: Network, subnet: Subnet) -> bool:
    """Whether the subnet gets a DHCP port: DHCP on, on a tenant network (an external network
    carries router gateways and floating IPs, never a DHCP server)."""
    return subnet.enable_dhcp and not network.external


def add(session: Session, region: str, network: Network, subnet: Subnet) -> DhcpPort | None:
    """Record the subnet's DHCP port with an address from its pools (the subnet row flushed
    first); None when the pools have no address left: the subnet then has no DHCP server, as a
    Neutron subnet whose agent got no port."""
    address = free_address(session, subnet)
    if address is None:
        return None
    new = PortCreate(
        network_id=network.id,
        project_id=network.project_id,
        fixed_ips=(IpRequest(subnet.id, address),),
        device_id=device_id(region, network.id),
        device_owner=DHCP_OWNER,
        binding_host_id=region,
        internal=True,
        over_quota_allowed=True,
    )
    ctx = operator_context(network.project_id)
    recorded = record_port(session, ctx, region, new, groups_available=False)
    return DhcpPort(recorded.port_id, address, recorded.mac_address)


def _on_subnet(subnet_id: str) -> Select[str, str, str]:
    """The subnet's DHCP ports (id, address, MAC), oldest first."""
    return (
        select(Port.id, IpAllocation.ip_address, Port.mac_address)
        .join(IpAllocation, IpAllocation.port_id == Port.id)
        .where(IpAllocation.subnet_id == subnet_id, Port.device_owner == DHCP_OWNER)
        .order_by(Port.created_at, Port.id)
    )


def of_subnet(session: Session, subnet_id: str) -> DhcpPort | None:
    row = session.execute(_on_subnet(subnet_id)).first()
    return None if row is None else DhcpPort(row[0], row[1], row[2])


def not_dhcp() -> ColumnElement[bool]:
    """Address allocations not held by a DHCP port (a floating IP's has no port)."""
    dhcp = select(Port.id).where(Port.device_owner == DHCP_OWNER)
    return or_(IpAllocation.port_id.is_(None), IpAllocation.port_id.not_in(dhcp))


def remove_of_subnet(session: Session, subnet_id: str) -> None:
    """Forget the subnet's DHCP port and its address."""
    ports = [port_id for port_id, _address, _mac in session.execute(_on_subnet(subnet_id))]
    if ports:
        session.execute(delete(IpAllocation).where(IpAllocation.port_id.in_(ports)))
        session.execute(delete(Port).where(Port.id.in_(ports)))
