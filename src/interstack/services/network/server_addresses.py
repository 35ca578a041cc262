"""A server's addresses as Nova shows them: each port's fixed addresses and the floating
addresses mapped to them, read for many servers in one query."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from typing import Literal, NamedTuple

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from interstack.services.interfaces import ServerAddress
from interstack.services.network.port_records import of_server_project
from interstack.store.models import FloatingIp, IpAllocation, Network, Port


class PortAddress(NamedTuple):
    """One fixed address of a server's port (``None`` for a port without one) with the
    floating address mapped to it, if any, and what the server's views need of the port."""

    port_id: str
    device_id: str
    mac_address: str
    network_id: str
    network_name: str | None
    fixed: str | None
    floating: str | None


def port_addresses(session: Session, region: str, server_ids: Sequence[str]) -> list[PortAddress]:
    """The servers' ports with their fixed and floating addresses, in one query: ports in the
    order they were made, each port's addresses in its order."""
    rows = session.execute(
        select(
            Port.id,
            Port.device_id,
            Port.mac_address,
            Port.network_id,
            Network.name,
            IpAllocation.ip_address,
            FloatingIp.floating_ip_address,
        )
        .outerjoin(Network, Network.id == Port.network_id)
        .outerjoin(IpAllocation, IpAllocation.port_id == Port.id)
        .outerjoin(
            FloatingIp,
            and_(
                FloatingIp.port_id == Port.id,
                FloatingIp.fixed_ip_address == IpAllocation.ip_address,
            ),
        )
        .where(
            Port.region == region,
            Port.device_id.in_(server_ids),
            of_server_project(),
        )
        .order_by(Port.created_at, Port.id, IpAllocation.position, IpAllocation.id, FloatingIp.id)
    )
    return [PortAddress(*row) for row in rows]


def addresses_of(
    rows: Sequence[PortAddress], server_ids: Sequence[str]
) -> Mapping[str, Sequence[ServerAddress]]:
    """Each server's fixed and floating addresses, from its ports' :func:`port_addresses`."""
    found: dict[str, list[ServerAddress]] = {s: [] for s in server_ids}
    listed: set[tuple[str, str]] = set()
    for row in rows:
        if row.fixed is None:
            continue
        name = row.network_name if row.network_name is not None else row.network_id
        if (row.port_id, row.fixed) not in listed:
            listed.add((row.port_id, row.fixed))
            found[row.device_id].append(_address(name, row.fixed, "fixed", row.mac_address))
        if row.floating is not None:
            found[row.device_id].append(_address(name, row.floating, "floating", row.mac_address))
    return found


def _address(
    network: str, address: str, kind: Literal["fixed", "floating"], mac_address: str
) -> ServerAddress:
    version: Literal[4, 6] = 6 if ipaddress.ip_address(address).version == 6 else 4
    return ServerAddress(network, address, version, kind, mac_address)
