"""Revision 0007 gives ports and routers a ``deleting`` mark of their own: a router a stopped
gateway left PENDING_DELETE becomes ACTIVE and deleting (the status the API shows), every other
row is not deleting, and nothing else changes — on SQLite the column is added in place, not by
copying the table, whose dropping would delete the rows cascading from it (a port's addresses,
a router's ports). Down again, the router is PENDING_DELETE and the rows are all still there."""

from __future__ import annotations

from sqlalchemy import func, select, text

from interstack.store import Database
from interstack.store.models import IpAllocation, RouterPort
from tests.support.network_rows import (
    INTERFACE,
    add_ports,
    address_row,
    network_row,
    port_row,
    router_row,
    subnet_row,
)
from tests.support.store import downgrade_to, store_before

BEFORE = "0006_network_router_claims"


# A store of each kind as it was before revision 0007.
database = store_before(BEFORE)


def _counts(database: Database) -> tuple[int, int]:
    with database.session() as session:
        addresses = session.scalar(select(func.count()).select_from(IpAllocation))
        held = session.scalar(select(func.count()).select_from(RouterPort))
        return int(addresses or 0), int(held or 0)


def _routers(database: Database) -> dict[str, tuple[str, bool | None]]:
    with database.session() as session:
        rows = session.execute(text("SELECT id, status, deleting FROM routers"))
        return {r.id: (r.status, None if r.deleting is None else bool(r.deleting)) for r in rows}


def test_a_router_being_deleted_keeps_its_mark_and_shows_active(database: Database) -> None:
    network = network_row("net", "a")
    subnet = subnet_row("subnet", network, "10.0.0.0/24")
    going, kept = router_row("going", "a", None), router_row("kept", "a", None)
    going.status = "PENDING_DELETE"
    interface = port_row("interface", "a", "net", INTERFACE, "kept")
    with database.session() as session:
        session.add_all([network, going, kept])
        session.flush()
        session.add(subnet)
        session.flush()
        add_ports(session, [interface])
        session.add_all(
            [
                address_row(interface, subnet, "10.0.0.1"),
                RouterPort(port_id="interface", router_id="kept", port_type=INTERFACE),
            ]
        )
    database.migrate()
    assert _routers(database) == {"going": ("ACTIVE", True), "kept": ("ACTIVE", False)}
    with database.session() as session:
        marks = session.scalars(text("SELECT deleting FROM ports")).all()
        assert [bool(m) for m in marks] == [False]
    assert _counts(database) == (1, 1)

    downgrade_to(database, BEFORE)
    with database.session() as session:
        statuses: dict[str, str] = dict(
            session.execute(text("SELECT id, status FROM routers")).tuples().all()
        )
    assert statuses == {"going": "PENDING_DELETE", "kept": "ACTIVE"}
    assert _counts(database) == (1, 1)
