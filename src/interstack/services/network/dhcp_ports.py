"""The DHCP port: the addresses of a network's DHCP/DNS servers, held as a port of the network.

Neutron's DHCP agent takes one port per network (``device_owner`` ``network:dhcp``) with a fixed
IP on each DHCP-enabled subnet, which IPAM allocates like any other port's, so no instance can
ever get a DHCP server's address, whatever pools or gateway the subnet has. Here the network
service gives the network's DHCP port an address on a subnet when the subnet is created or its
DHCP switched on (recording the port first if the network has none), takes that address back
when the subnet goes or its DHCP is switched off, and removes the port with its last address or
with the network (it does not keep the network "in use").

It belongs to the network's project (the project's members and admins see it), is not realized
as a port by the backend (the backend puts each subnet's DHCP server on the port's address on
that subnet and the port's MAC, told by ``SubnetSpec.dhcp_address`` and ``set_subnet_dhcp``),
and counts toward the project's port quota without being refused by it, as Neutron's agent-made
ports do.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Row, bindparam, delete, exists, func, or_, select
from sqlalchemy.orm import Session

from interstack.services.context import operator_context
from interstack.services.network.common import DHCP_OWNER
from interstack.services.network.ipam import IpRequest, any_address, free_address, hold
from interstack.services.network.port_records import PortCreate, record_port
from interstack.store import run_core, table_of
from interstack.store.models import IpAllocation, Network, Port, Subnet


@dataclass(frozen=True)
class DhcpPort:
    port_id: str
    address: str
    mac_address: str


def device_id(region: str, network_id: str) -> str:
    """Neutron's ``dhcp<host uuid>-<network id>``, the region standing for the agent's host."""
    return f"dhcp{uuid.uuid5(uuid.NAMESPACE_DNS, region)}-{network_id}"


def served(network: Network | Row[Any], subnet: Subnet) -> bool:
    """Whether the subnet gets a DHCP port: DHCP on, on a tenant network (an external network
    carries router gateways and floating IPs, never a DHCP server)."""
    return subnet.enable_dhcp and not network.external


def add(
    session: Session,
    region: str,
    network: Network | Row[Any],
    subnet: Subnet,
    *,
    fresh: bool = False,
) -> DhcpPort | None:
    """Give the network's DHCP port an address from the subnet's pools (the subnet row flushed
    first), recording the port if the network has none yet; None when the pools have no
    address left: the subnet then has no DHCP server, as a Neutron subnet whose agent got no
    address. ``fresh``: the subnet was recorded in this unit of work, so none of its addresses
    is taken: one is chosen without asking the store."""
    address = any_address(subnet) if fresh else free_address(session, subnet)
    return None if address is None else add_at(session, region, network, subnet, address)


#: the network's DHCP port (id and MAC), built once: read on every DHCP subnet's create
_NETWORKS_DHCP_PORT = select(table_of(Port).c.id, table_of(Port).c.mac_address).where(
    table_of(Port).c.network_id == bindparam("network_id"),
    table_of(Port).c.device_owner == DHCP_OWNER,
)


def add_at(
    session: Session, region: str, network: Network | Row[Any], subnet: Subnet, address: str
) -> DhcpPort:
    """Give the network's DHCP port ``address`` (free, on ``subnet``)."""
    existing = run_core(session, _NETWORKS_DHCP_PORT, {"network_id": network.id}).first()
    if existing is not None:
        port_id, mac = existing
        held = session.scalar(
            select(func.count()).select_from(IpAllocation).where(IpAllocation.port_id == port_id)
        )
        hold(session, network.id, [(subnet.id, address)], port_id=port_id, first=held or 0)
        return DhcpPort(port_id, address, mac)
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
    recorded = record_port(
        session, ctx, region, new, groups_available=False, network=network, subnets=[subnet]
    )
    return DhcpPort(recorded.port_id, address, recorded.mac_address)


def of_subnet(session: Session, subnet_id: str) -> DhcpPort | None:
    """The DHCP port's address on the subnet (with the port's id and MAC), if it has one."""
    row = session.execute(
        select(Port.id, IpAllocation.ip_address, Port.mac_address)
        .join(IpAllocation, IpAllocation.port_id == Port.id)
        .where(IpAllocation.subnet_id == subnet_id, Port.device_owner == DHCP_OWNER)
        .order_by(Port.created_at, Port.id)
    ).first()
    return None if row is None else DhcpPort(row[0], row[1], row[2])


def not_dhcp() -> ColumnElement[bool]:
    """Address allocations not held by a DHCP port (a floating IP's has no port)."""
    dhcp = select(Port.id).where(Port.device_owner == DHCP_OWNER)
    return or_(IpAllocation.port_id.is_(None), IpAllocation.port_id.not_in(dhcp))


_PORTS, _ADDRESSES = table_of(Port), table_of(IpAllocation)
_DHCP_PORTS = select(_PORTS.c.id).where(_PORTS.c.device_owner == DHCP_OWNER)
#: the DHCP port's addresses on a subnet taken back, naming the ports that held them
_TAKE_BACK = (
    delete(_ADDRESSES)
    .where(
        _ADDRESSES.c.subnet_id == bindparam("subnet_id"),
        _ADDRESSES.c.port_id.in_(_DHCP_PORTS.scalar_subquery()),
    )
    .returning(_ADDRESSES.c.port_id)
)
#: of those ports, the ones left without an address
_DELETE_EMPTIED = delete(_PORTS).where(
    _PORTS.c.id.in_(bindparam("port_ids", expanding=True)),
    ~exists().where(_ADDRESSES.c.port_id == _PORTS.c.id),
)


def remove_of_subnet(session: Session, subnet_id: str) -> None:
    """Take the DHCP port's address on the subnet back; the port goes with its last one. Two
    Core statements built once (:func:`run_core`; the session holds neither row)."""
    held = run_core(session, _TAKE_BACK, {"subnet_id": subnet_id}).scalars().all()
    if held:
        run_core(session, _DELETE_EMPTIED, {"port_ids": list(set(held))})
