"""Network rows written straight into a store (region ``R``), for the tests of what the store
and its start-up passes make of rows that the API would no longer write."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from datetime import datetime

from sqlalchemy import MetaData, Table
from sqlalchemy.orm import Session

from interstack.store.models import IpAllocation, Network, Port, Router, SecurityGroup, Subnet

AT = datetime(2026, 1, 1)
MACS = (f"fa:16:3e:00:00:{n:02x}" for n in itertools.count())
INTERFACE, GATEWAY = "network:router_interface", "network:router_gateway"


def network_row(network_id: str, project_id: str, *, external: bool = False) -> Network:
    return Network(
        id=network_id, region="R", project_id=project_id, name="", description="",
        admin_state_up=True, shared=False, external=external, mtu=1500,
        port_security_enabled=True, availability_zone_hints=[], tags=[], created_at=AT,
        updated_at=AT,
    )  # fmt: skip


def subnet_row(subnet_id: str, network: Network, cidr: str) -> Subnet:
    return Subnet(
        id=subnet_id, region="R", network_id=network.id, project_id=network.project_id,
        name="", description="", ip_version=4, cidr=cidr, enable_dhcp=False,
        allocation_pools=[], dns_nameservers=[], host_routes=[], tags=[],
        native_ref=f"{subnet_id}-ref", created_at=AT, updated_at=AT,
    )  # fmt: skip


def router_row(router_id: str, project_id: str, gateway_network_id: str | None) -> Router:
    return Router(
        id=router_id, region="R", project_id=project_id, name="", description="",
        admin_state_up=True, status="ACTIVE", gateway_network_id=gateway_network_id,
        enable_snat=True, routes=[], tags=[], native_ref=f"{router_id}-ref", created_at=AT,
        updated_at=AT,
    )  # fmt: skip


def port_row(
    port_id: str, project_id: str, network_id: str, owner: str, device_id: str, region: str = "R"
) -> Port:
    return Port(
        id=port_id, region=region, network_id=network_id, project_id=project_id, name="",
        description="", mac_address=next(MACS), admin_state_up=True,
        status="ACTIVE", device_id=device_id, device_owner=owner, port_security_enabled=False,
        allowed_address_pairs=[], binding={}, created_for_server=False,
        tags=[], created_at=AT, updated_at=AT,
    )  # fmt: skip


def add_ports(
    session: Session, ports: Sequence[Port], groups: Mapping[str, Sequence[str]] | None = None
) -> None:
    """Write ``ports`` as the store's own ``ports`` table holds them, at whichever revision it
    is: before 0008, as the code of then wrote them, with each port's groups (``groups`` by
    port id; none if not named) in the JSON column ``security_group_ids`` that 0008 drops and
    the model no longer has (the column has no default)."""
    table = Table("ports", MetaData(), autoload_with=session.connection())
    held = "security_group_ids" in table.columns
    assert held or not groups, "a store from 0008 on holds a port's groups as rows"
    rows = [
        {
            **{
                column.name: value
                for column in table.columns
                if (value := getattr(port, column.name, None)) is not None
            },
            **({"security_group_ids": list((groups or {}).get(port.id, ()))} if held else {}),
        }
        for port in ports
    ]
    session.execute(table.insert(), rows)


def address_row(port: Port, subnet: Subnet, address: str) -> IpAllocation:
    return IpAllocation(
        subnet_id=subnet.id, network_id=subnet.network_id, ip_address=address, port_id=port.id
    )


def group_row(group_id: str, project_id: str) -> SecurityGroup:
    return SecurityGroup(
        id=group_id, region="R", project_id=project_id, name=group_id, description="",
        default_for=None, stateful=True, tags=[], native_ref=f"{group_id}-ref", created_at=AT,
        updated_at=AT,
    )  # fmt: skip
