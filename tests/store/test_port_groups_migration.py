"""Revision 0008 moves a port's security groups from its JSON column ``security_group_ids``
into ``port_security_groups`` rows, in the port's order, on both databases: an id naming no
group any more (a deletion's race left it) is not carried over. Then the database refuses to
delete a group a port uses, and a port's rows go with it. Down again, each port's column holds
its groups in its order, and nothing else changed."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import delete, func, inspect, select, text
from sqlalchemy.exc import IntegrityError

from interstack.store import Database
from interstack.store.models import IpAllocation, Port, PortSecurityGroup, SecurityGroup
from tests.support.network_rows import (
    add_ports,
    address_row,
    group_row,
    network_row,
    port_row,
    subnet_row,
)
from tests.support.store import downgrade_to, store_before

BEFORE = "0007_network_deleting_marks"

# A store of each kind as it was before revision 0008.
database = store_before(BEFORE)

#: each port's groups as the JSON column held them
HELD = {"two": ["web", "db"], "none": [], "stale": ["gone", "db", "db"]}


def _as_the_old_code_left_it(database: Database) -> None:
    network = network_row("net", "a")
    subnet = subnet_row("subnet", network, "10.0.0.0/24")
    ports = [port_row(port_id, "a", "net", "compute:nova", "vm") for port_id in HELD]
    with database.session() as session:
        session.add_all([network, group_row("web", "a"), group_row("db", "a")])
        session.flush()
        session.add(subnet)
        session.flush()
        add_ports(session, ports, HELD)
        session.add(address_row(ports[0], subnet, "10.0.0.5"))


def _uses(database: Database) -> dict[str, list[str]]:
    with database.session() as session:
        rows = session.execute(
            select(PortSecurityGroup.port_id, PortSecurityGroup.security_group_id).order_by(
                PortSecurityGroup.port_id, PortSecurityGroup.position
            )
        )
        found: dict[str, list[str]] = {}
        for port_id, group_id in rows:
            found.setdefault(port_id, []).append(group_id)
        return found


def _columns(database: Database) -> dict[str, list[str]]:
    with database.session() as session:
        rows = session.execute(text("SELECT id, security_group_ids FROM ports"))
        # PostgreSQL's driver reads the JSON, SQLite's the text
        return {
            r.id: ids if isinstance(ids := r.security_group_ids, list) else json.loads(ids)
            for r in rows
        }


def test_the_groups_move_into_rows_and_back(database: Database) -> None:
    _as_the_old_code_left_it(database)
    database.migrate()

    assert _uses(database) == {"two": ["web", "db"], "stale": ["db"]}
    with database.engine.connect() as connection:
        columns = {c["name"] for c in inspect(connection).get_columns("ports")}
    assert "security_group_ids" not in columns
    with database.session() as session:  # the ports' other rows are all still there
        assert session.scalar(select(func.count()).select_from(Port)) == 3
        assert session.scalar(select(func.count()).select_from(IpAllocation)) == 1

    downgrade_to(database, BEFORE)
    assert _columns(database) == {"two": ["web", "db"], "none": [], "stale": ["db"]}
    with database.engine.connect() as connection:
        assert "port_security_groups" not in inspect(connection).get_table_names()
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(IpAllocation)) == 1


def test_a_group_in_use_is_not_deleted_and_a_port_takes_its_uses_along(
    database: Database,
) -> None:
    _as_the_old_code_left_it(database)
    database.migrate()

    with pytest.raises(IntegrityError), database.session() as session:
        session.execute(delete(SecurityGroup).where(SecurityGroup.id == "db"))
    with database.session() as session:
        session.execute(delete(Port).where(Port.id == "two"))
    assert _uses(database) == {"stale": ["db"]}
    with database.session() as session:
        session.execute(delete(Port).where(Port.id == "stale"))
        session.execute(delete(SecurityGroup).where(SecurityGroup.id == "db"))
    assert _uses(database) == {}
