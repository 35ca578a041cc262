"""Deleting a security group that other groups' rules name, through openstacksdk: as in Neutron
(its rules' remote group is a foreign key that cascades), the group goes and those rules with it;
only a port using the group keeps it (409 ``SecurityGroupInUse``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from openstack import exceptions

from tests.support.gateway import ServedGateway
from tests.support.identity import unique


@pytest.fixture
def conn(gateway: ServedGateway) -> Iterator[Any]:
    connection = gateway.connect("interstack")
    try:
        yield connection
    finally:
        connection.close()


def _naming(conn: Any, group: Any, remote: Any, port: int) -> Any:
    return conn.network.create_security_group_rule(
        security_group_id=group.id,
        direction="ingress",
        protocol="tcp",
        port_range_min=port,
        port_range_max=port,
        remote_group_id=remote.id,
    )


def test_a_group_other_groups_rules_name_is_deleted_with_those_rules(conn: Any) -> None:
    web = conn.network.create_security_group(name=unique("web"))
    db = conn.network.create_security_group(name=unique("db"))
    mysql = _naming(conn, db, web, 3306)
    own = _naming(conn, web, web, 8080)  # the group's own rule naming itself goes with it
    net = conn.network.create_network(name=unique("net"))
    conn.network.create_subnet(network_id=net.id, cidr="10.71.0.0/24", ip_version=4)
    port = conn.network.create_port(network_id=net.id, security_group_ids=[web.id])
    try:
        with pytest.raises(exceptions.ConflictException, match="in use"):
            conn.network.delete_security_group(web)
        assert mysql.id in {
            r.id for r in conn.network.security_group_rules(security_group_id=db.id)
        }
        conn.network.update_port(port, security_group_ids=[])

        conn.network.delete_security_group(web)

        assert conn.network.find_security_group(web.id) is None
        left = {r["id"] for r in conn.network.get_security_group(db).security_group_rules}
        assert mysql.id not in left and len(left) == 2  # the two egress rules of a new group
        assert mysql.id not in {r.id for r in conn.network.security_group_rules()}
        for rule in (mysql, own):
            with pytest.raises(exceptions.NotFoundException):
                conn.network.get_security_group_rule(rule.id)
    finally:
        conn.network.delete_port(port)
        conn.network.delete_network(net)
        conn.network.delete_security_group(db)


def test_groups_naming_each_other_are_deleted_in_either_order(conn: Any) -> None:
    """The LAMP stack's teardown: its web and database groups name each other."""
    for first_goes in ("web", "db"):
        groups = {
            role: conn.network.create_security_group(name=unique(role)) for role in ("web", "db")
        }
        _naming(conn, groups["db"], groups["web"], 3306)
        _naming(conn, groups["web"], groups["db"], 80)
        then = "db" if first_goes == "web" else "web"
        conn.network.delete_security_group(groups[first_goes])
        conn.network.delete_security_group(groups[then])
        for group in groups.values():
            assert conn.network.find_security_group(group.id) is None
