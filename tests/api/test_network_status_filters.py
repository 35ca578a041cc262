"""A filter on a Neutron list matches the value the API shows, through openstacksdk. ``status``:
a router or a port a stopped gateway left half deleted (marked going in the store, as its
deletion marks it before the cloud is asked) is listed by the status it shows, never by a
stored mark, and deleting it again finishes it; every network shows ACTIVE, so ``DOWN``
lists none. A port's ``binding:host_id`` and ``binding:vnic_type`` match what it shows."""

from __future__ import annotations

from sqlalchemy import update

from interstack.store.models import Port, Router
from tests.support.gateway import ServedGateway
from tests.support.identity import unique


def _left_going(gateway: ServedGateway, model: type[Port] | type[Router], row_id: str) -> None:
    """Mark the row as a deletion does before it asks the cloud (a gateway stopped there)."""
    with gateway.store() as database, database.session() as session:
        session.execute(update(model).where(model.id == row_id).values(deleting=True))


def test_a_router_being_deleted_is_listed_by_the_status_it_shows(gateway: ServedGateway) -> None:
    conn = gateway.connect("interstack")
    router = conn.network.create_router(name=unique("going"))
    _left_going(gateway, Router, router.id)
    assert conn.network.get_router(router.id).status == "ACTIVE"
    assert router.id in {r.id for r in conn.network.routers(status="ACTIVE")}
    assert router.id not in {r.id for r in conn.network.routers(status="PENDING_DELETE")}
    conn.network.delete_router(router)
    assert conn.network.find_router(router.id) is None


def test_a_port_being_deleted_is_listed_by_the_status_it_shows(gateway: ServedGateway) -> None:
    conn = gateway.connect("interstack")
    network = conn.network.create_network(name=unique("going"))
    port = conn.network.create_port(network_id=network.id)
    _left_going(gateway, Port, port.id)
    assert conn.network.get_port(port.id).status == "DOWN"
    listed = {p.id for p in conn.network.ports(network_id=network.id, status="DOWN")}
    assert listed == {port.id}
    conn.network.delete_port(port)
    assert conn.network.find_port(port.id) is None
    conn.network.delete_network(network)


def test_no_network_is_listed_as_down(gateway: ServedGateway) -> None:
    conn = gateway.connect("interstack")
    network = conn.network.create_network(name=unique("up"))
    assert conn.network.get_network(network.id).status == "ACTIVE"
    assert network.id in {n.id for n in conn.network.networks(status="ACTIVE")}
    assert list(conn.network.networks(status="DOWN")) == []
    conn.network.delete_network(network)


def test_ports_are_listed_by_the_binding_they_show(gateway: ServedGateway) -> None:
    """``openstack port list --host`` filters on ``binding:host_id``, which was ignored: every
    port was listed. An admin's: only an admin sets and sees a port's host."""
    conn = gateway.connect("interstack-admin")
    network = conn.network.create_network(name=unique("bound"))
    host = unique("host")
    on_host = conn.network.create_port(network_id=network.id, binding_host_id=host)
    unbound = conn.network.create_port(network_id=network.id)
    assert on_host.binding_host_id == host and unbound.binding_host_id == ""
    assert {p.id for p in conn.network.ports(**{"binding:host_id": host})} == {on_host.id}
    normal = conn.network.ports(network_id=network.id, **{"binding:vnic_type": "normal"})
    assert {p.id for p in normal} == {on_host.id, unbound.id}
    assert list(conn.network.ports(network_id=network.id, **{"binding:vnic_type": "direct"})) == []
    for port in (on_host, unbound):
        conn.network.delete_port(port)
    conn.network.delete_network(network)


def test_a_project_filters_its_ports_by_a_host_it_is_not_shown(gateway: ServedGateway) -> None:
    """As Neutron: its ML2 filter on ``binding:host_id`` is applied to any caller's list (no
    policy looks at a filter), so a project's filter by host lists its ports bound there — the
    host itself stays unshown to it (``get_port:binding:host_id`` is admin only)."""
    conn = gateway.connect("interstack")
    admin = gateway.connect("interstack-admin")
    network = conn.network.create_network(name=unique("bound"))
    host = unique("host")
    on_host = conn.network.create_port(network_id=network.id)
    unbound = conn.network.create_port(network_id=network.id)
    admin.network.update_port(on_host, binding_host_id=host)
    listed = list(conn.network.ports(network_id=network.id, **{"binding:host_id": host}))
    assert [p.id for p in listed] == [on_host.id]
    assert listed[0].binding_host_id is None  # not shown to the port's project
    elsewhere = conn.network.ports(network_id=network.id, **{"binding:host_id": unique("h")})
    assert list(elsewhere) == []
    for port in (on_host, unbound):
        conn.network.delete_port(port)
    conn.network.delete_network(network)
