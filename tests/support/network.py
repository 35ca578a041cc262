"""Helpers for network tests: a Neutron HTTP client per cloud, an operator's external network,
and a region's network backend made to refuse a call and two security groups, one's rule
naming the other (for services-level tests)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from sqlalchemy import delete, select

from interstack.errors import BackendUnavailable
from interstack.services.container import Services
from interstack.services.context import RequestContext
from interstack.services.network.records import RuleInfo, SecurityGroupInfo
from interstack.services.network.security_groups import GroupCreate, SecurityGroupService
from interstack.services.network.sg_rules import RuleCreate
from interstack.store.models import IpAllocation, Port, Router, SimResource, Subnet
from tests.support.gateway import ServedGateway
from tests.support.identity import Member, unique

REGION = "RegionOne"
#: the external subnet of the tests, whose pool Neutron's IPAM chooses floating IPs from
FLOATING_CIDR = "203.0.113.0/24"
#: the device owner of a network's DHCP port
DHCP = "network:dhcp"


def neutron(gateway: ServedGateway, token: str, region: str = REGION) -> httpx.Client:
    """A client for ``/<region>/network/v2.0`` with the given token."""
    return httpx.Client(
        base_url=f"{gateway.url}/{region}/network/v2.0",
        headers={"X-Auth-Token": token},
        timeout=60,
    )


def neutron_of(gateway: ServedGateway, member: Member, region: str = REGION) -> httpx.Client:
    """``member``'s Neutron client, in its project."""
    return neutron(gateway, member.token(gateway), region)


def created(response: httpx.Response, key: str) -> dict[str, Any]:
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()[key]
    return body


def fault(response: httpx.Response, status: int) -> dict[str, Any]:
    """The NeutronError of a failed response, checked for status and shape."""
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["NeutronError"]
    assert set(error) == {"type", "message", "detail"}, error
    assert error["message"]
    return error


def new_router(api: httpx.Client, name: str = "r") -> dict[str, Any]:
    """A router of ``api``'s project, named uniquely after ``name``."""
    return created(api.post("/routers", json={"router": {"name": unique(name)}}), "router")


def new_port(api: httpx.Client, network_id: str) -> dict[str, Any]:
    """A port on the network, its address chosen by the cloud."""
    return created(api.post("/ports", json={"port": {"network_id": network_id}}), "port")


def external_network(admin: httpx.Client) -> dict[str, Any]:
    """An external network with a subnet holding the floating range, created as the admin."""
    network = created(
        admin.post(
            "/networks", json={"network": {"name": unique("public"), "router:external": True}}
        ),
        "network",
    )
    created(
        admin.post(
            "/subnets",
            json={
                "subnet": {
                    "network_id": network["id"],
                    "cidr": FLOATING_CIDR,
                    "ip_version": 4,
                    "enable_dhcp": False,
                }
            },
        ),
        "subnet",
    )
    return network


@contextmanager
def refused(services: Services, monkeypatch: pytest.MonkeyPatch, method: str) -> Iterator[None]:
    """Within, the network backend of RegionOne raises ``BackendUnavailable`` on ``method``,
    and the call made there must fail with it; after, the backend answers again."""

    def refuse(*_: Any, **__: Any) -> Any:
        raise BackendUnavailable(f"{method} refused by the test")

    with monkeypatch.context() as patch:
        patch.setattr(services.regions.backend(REGION).network, method, refuse)
        with pytest.raises(BackendUnavailable):
            yield


def forget_dhcp_ports(gateway: ServedGateway, network_id: str) -> None:
    """Forget the network's DHCP port in the gateway's store, as a store made before DHCP
    ports had none (the backend's DHCP servers stay as they are)."""
    with gateway.store() as database, database.session() as session:
        ports = select(Port.id).where(Port.network_id == network_id, Port.device_owner == DHCP)
        session.execute(delete(IpAllocation).where(IpAllocation.port_id.in_(ports)))
        session.execute(delete(Port).where(Port.id.in_(ports)))


def dhcp_ports(conn: Any, network_id: str) -> list[Any]:
    """The network's DHCP ports as openstacksdk lists them (one, or none)."""
    return list(conn.network.ports(network_id=network_id, device_owner=DHCP))


def addresses_by_subnet(port: Any) -> dict[str, str]:
    """An openstacksdk port's fixed IPs: its address on each subnet."""
    return {ip["subnet_id"]: ip["ip_address"] for ip in port.fixed_ips}


def routed_subnets(gateway: ServedGateway, router_id: str) -> set[str]:
    """The ids of the subnets the sim cloud's router of ``router_id`` routes (its record)."""
    with gateway.store() as database, database.session() as session:
        # the column alone: a test's store may be one an older schema's rows were left in
        native = session.scalar(select(Router.native_ref).where(Router.id == router_id))
        routed = session.get_one(SimResource, native).data["subnets"]
        subnets = session.scalars(select(Subnet).where(Subnet.native_ref.in_(routed))).all()
        return {s.id for s in subnets}


def web_and_db(
    groups: SecurityGroupService, ctx: RequestContext, region: str
) -> tuple[SecurityGroupInfo, SecurityGroupInfo, RuleInfo]:
    """Groups web and db of ``ctx``'s project, with db's ingress rule naming web (as a LAMP
    stack's database group lets its web servers in): (web, db, the rule)."""
    web = groups.create(ctx, region, GroupCreate(name="web"))
    db = groups.create(ctx, region, GroupCreate(name="db"))
    rule = groups.create_rule(
        ctx,
        region,
        RuleCreate(security_group_id=db.id, direction="ingress", remote_group_id=web.id),
    )
    return web, db, rule
