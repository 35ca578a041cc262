"""Revision 0005 records the ports routers held when a router's ports were read off the ports'
device fields: of the ports naming a router, only those its own project could have given it (an
interface of the router's project; a gateway of the router's project on its gateway network).
Another project's port naming the router, as one made before DeviceIDNotOwnedByTenant, is not
the router's, on both databases; and a row goes with its port or router."""

from __future__ import annotations

from sqlalchemy import delete, inspect, select

from interstack.store import Database
from interstack.store.models import Port, Router, RouterPort
from tests.support.network_rows import (
    GATEWAY,
    INTERFACE,
    add_ports,
    network_row,
    port_row,
    router_row,
)
from tests.support.store import downgrade_to, store_before

BEFORE = "0004_network_pools_quotas"


# A store of each kind as it was before revision 0005.
database = store_before(BEFORE)


def test_only_the_ports_a_routers_own_project_gave_it_become_its_ports(
    database: Database,
) -> None:
    with database.session() as session:
        session.add_all(
            [
                network_row("theirs", "b"),
                network_row("mine", "a"),
                network_row("public", "admin", external=True),
            ]
        )
        session.add(router_row("router", "a", "public"))
        session.flush()
        add_ports(
            session,
            [
                # what the router's own operations made
                port_row("interface", "a", "mine", INTERFACE, "router"),
                port_row("gateway", "a", "public", GATEWAY, "router"),
                # another project's ports naming it
                port_row("planted-interface", "b", "theirs", INTERFACE, "router"),
                port_row("planted-gateway", "b", "public", GATEWAY, "router"),
                # its project's ports that are not what a router holds
                port_row("gateway-elsewhere", "a", "mine", GATEWAY, "router"),
                port_row("other-region", "a", "mine", INTERFACE, "router", region="S"),
                port_row("instance", "a", "mine", "compute:nova", "router"),
                port_row("no-router", "a", "mine", INTERFACE, "gone"),
            ],
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


def test_the_revisions_go_down_and_up_again(database: Database) -> None:
    """Down to revision 0004 (the tables go; ports keep their device fields, which that
    revision's code reads) and up again (the routers' ports recorded anew)."""
    with database.session() as session:
        session.add_all([network_row("mine", "a"), router_row("router", "a", None)])
        session.flush()
        add_ports(session, [port_row("interface", "a", "mine", INTERFACE, "router")])
    database.migrate()
    downgrade_to(database, BEFORE)
    with database.engine.connect() as connection:
        tables = set(inspect(connection).get_table_names())
    assert not {"router_ports", "router_claim_leftovers"} & tables
    database.migrate()
    assert _held(database) == {("interface", "router", INTERFACE)}
