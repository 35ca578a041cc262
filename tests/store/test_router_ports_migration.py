"""Revision 0005 records the ports routers held when a router's ports were read off the ports'
device fields: of the ports naming a router, only those its own project could have given it (an
interface of the router's project; a gateway of the router's project on its gateway network).
Another project's port naming the router, as one made before DeviceIDNotOwnedByTenant, is not
the router's, on both databases; and a row goes with its port or router."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import datetime

import pytest
from sqlalchemy import delete, select

from interstack.store import Database
from interstack.store.models import Network, Port, Router, RouterPort
from tests.support.store import store_at

BEFORE = "0004_network_pools_quotas"
INTERFACE, GATEWAY = "network:router_interface", "network:router_gateway"
AT = datetime(2026, 1, 1)
MACS = (f"fa:16:3e:00:00:{n:02x}" for n in itertools.count())


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    """A store of each kind as it was before revision 0005."""
    store = Database(database_url)
    store_at(store, BEFORE)
    yield store
    store.dispose()


def _network(network_id: str, project_id: str, *, external: bool = False) -> Network:
    return Network(
        id=network_id, region="R", project_id=project_id, name="", description="",
        admin_state_up=True, shared=False, external=external, mtu=1500,
        port_security_enabled=True, availability_zone_hints=[], tags=[], created_at=AT,
        updated_at=AT,
    )  # fmt: skip


def _port(
    port_id: str, project_id: str, network_id: str, owner: str, device_id: str, region: str = "R"
) -> Port:
    return Port(
        id=port_id, region=region, network_id=network_id, project_id=project_id, name="",
        description="", mac_address=next(MACS), admin_state_up=True,
        status="ACTIVE", device_id=device_id, device_owner=owner, port_security_enabled=False,
        security_group_ids=[], allowed_address_pairs=[], binding={}, created_for_server=False,
        tags=[], created_at=AT, updated_at=AT,
    )  # fmt: skip


def test_only_the_ports_a_routers_own_project_gave_it_become_its_ports(
    database: Database,
) -> None:
    with database.session() as session:
        session.add_all(
            [
                _network("theirs", "b"),
                _network("mine", "a"),
                _network("public", "admin", external=True),
            ]
        )
        session.add(
            Router(
                id="router", region="R", project_id="a", name="", description="",
                admin_state_up=True, status="ACTIVE", gateway_network_id="public",
                enable_snat=True, routes=[], tags=[], created_at=AT, updated_at=AT,
            )
        )  # fmt: skip
        session.flush()
        session.add_all(
            [
                # what the router's own operations made
                _port("interface", "a", "mine", INTERFACE, "router"),
                _port("gateway", "a", "public", GATEWAY, "router"),
                # another project's ports naming it
                _port("planted-interface", "b", "theirs", INTERFACE, "router"),
                _port("planted-gateway", "b", "public", GATEWAY, "router"),
                # its project's ports that are not what a router holds
                _port("gateway-elsewhere", "a", "mine", GATEWAY, "router"),
                _port("other-region", "a", "mine", INTERFACE, "router", region="S"),
                _port("instance", "a", "mine", "compute:nova", "router"),
                _port("no-router", "a", "mine", INTERFACE, "gone"),
            ]
        )

    database.migrate()

    assert _held(database) == {("interface", "router", INTERFACE), ("gateway", "router", GATEWAY)}

    # a row goes with its port, and with its router (the services rely on it)
    with database.session() as session:
        session.execute(delete(Port).where(Port.id == "interface"))
    assert _held(database) == {("gateway", "router", GATEWAY)}
    with database.session() as session:
        session.execute(delete(Router).where(Router.id == "router"))
    assert _held(database) == set()


def _held(database: Database) -> set[tuple[str, str, str]]:
    with database.session() as session:
        return {(r.port_id, r.router_id, r.port_type) for r in session.scalars(select(RouterPort))}
