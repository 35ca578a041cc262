"""A server's addresses as Nova shows them: each port's fixed addresses and the floating
addresses mapped to them, read for many servers in one query."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from typing import Literal, NamedTuple

from sqlalchemy import and_, bindparam, exists, select
from sqlalchemy.orm import Session

from interstack.services.interfaces import ServerAddress
from interstack.store import run_core, table_of
from interstack.store.models import FloatingIp, IpAllocation, Network, Port, Server


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


_PORTS, _NETWORKS = table_of(Port).c, table_of(Network).c
_ADDRESSES, _FLOATING, _SERVERS = (
    table_of(IpAllocation).c,
    table_of(FloatingIp).c,
    table_of(Server).c,
)
#: the servers' ports with their addresses, built once (every value a bindparam): it is read on
#: every server's show and list, and building it cost several times its execution's own Python
_PORT_ADDRESSES = (
    select(
        _PORTS.id,
        _PORTS.device_id,
        _PORTS.mac_address,
        _PORTS.network_id,
        _NETWORKS.name,
        _ADDRESSES.ip_address,
        _FLOATING.floating_ip_address,
    )
    .select_from(table_of(Port))
    .outerjoin(table_of(Network), _NETWORKS.id == _PORTS.network_id)
    .outerjoin(table_of(IpAllocation), _ADDRESSES.port_id == _PORTS.id)
    .outerjoin(
        table_of(FloatingIp),
        and_(
            _FLOATING.port_id == _PORTS.id,
            _FLOATING.fixed_ip_address == _ADDRESSES.ip_address,
        ),
    )
    .where(
        _PORTS.region == bindparam("region"),
        _PORTS.device_id.in_(bindparam("server_ids", expanding=True)),
        # of_server_project() on the tables: a port of another project naming the server is not
        # the server's
        ~exists().where(_SERVERS.id == _PORTS.device_id, _SERVERS.project_id != _PORTS.project_id),
    )
    .order_by(_PORTS.created_at, _PORTS.id, _ADDRESSES.position, _ADDRESSES.id, _FLOATING.id)
)


def port_addresses(session: Session, region: str, server_ids: Sequence[str]) -> list[PortAddress]:
    """The servers' ports with their fixed and floating addresses, in one query: ports in the
    order they were made, each port's addresses in its order."""
    rows = run_core(session, _PORT_ADDRESSES, {"region": region, "server_ids": list(server_ids)})
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
