"""Checks made under the lock they guard, not before it: a port made just before a network's
or a subnet's deletion takes its lock is counted (409), never deleted with the network's DHCP
ports nor left on a deleted subnet; an interface removed just before a router's routes are
written is seen (the next hop no longer connected). The competing request runs to its end just
before the unit of work's first write (tests/support/first_write.py), which on SQLite takes its
one writer's lock and on PostgreSQL is lock_for_deletion's (or the router's, the port's) lock:
on both databases the checks are made after it.
And a port deleted just before an update of it writes is not found, not written over."""

from __future__ import annotations

import concurrent.futures
from collections.abc import Callable
from functools import partial

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from interstack.errors import BadRequest, Conflict, NotFound
from interstack.services.network import networks, subnets
from interstack.services.network.common import lock_for_deletion
from interstack.services.network.ipam import IpRequest
from interstack.services.network.ports import PortCreate
from interstack.store import Database
from interstack.store.models import Base, Port
from tests.support.first_write import before_first_write
from tests.support.routed import REGION, Routed


def _new_port(routed: Routed) -> object:
    services, ctx = routed.services, routed.ctx
    wanted = (IpRequest(subnet_id=routed.subnet_id),)
    return services.ports.create(
        ctx, REGION, PortCreate(network_id=routed.network_id, fixed_ips=wanted)
    )


def _refused_with_a_port_made_first(
    db: Database, routed: Routed, delete: Callable[[], None], kind: str
) -> None:
    """``delete`` is refused (409 ``kind``) for the port made just before its first write,
    whose create went through."""
    with before_first_write(db, lambda: _new_port(routed)) as made, pytest.raises(Conflict) as no:
        delete()
    assert no.value.kind == kind
    (port,) = made
    assert not isinstance(port, Exception), port
    with db.session() as session:
        on_network = (
            select(func.count()).select_from(Port).where(Port.network_id == routed.network_id)
        )
        assert session.scalar(on_network) == 1


def test_a_port_made_as_its_network_is_deleted_is_counted(db: Database, routed: Routed) -> None:
    """The deletion counted no port, then the port was made, then the deletion removed every
    port on the network with its DHCP ports: a port its create answered was gone."""
    services, ctx = routed.services, routed.ctx
    delete = partial(services.networks.delete, ctx, REGION, routed.network_id)
    _refused_with_a_port_made_first(db, routed, delete, "NetworkInUse")


def test_a_port_made_as_its_subnet_is_deleted_is_counted(db: Database, routed: Routed) -> None:
    """The deletion counted no address, then the port took one, then the deletion failed on
    the address's reference to the subnet (a 500 where Neutron answers 409 SubnetInUse)."""
    services, ctx = routed.services, routed.ctx
    delete = partial(services.subnets.delete, ctx, REGION, routed.subnet_id)
    _refused_with_a_port_made_first(db, routed, delete, "SubnetInUse")
    assert services.subnets.get(ctx, REGION, routed.subnet_id).id == routed.subnet_id


def test_routes_written_as_their_interface_is_removed_are_refused(
    db: Database, routed: Routed
) -> None:
    """The update checked the next hop against the interfaces, then the interface went (its
    removal saw no route through it), then the route was written through no interface."""
    services, ctx = routed.services, routed.ctx
    services.router_interfaces.add(ctx, REGION, routed.router_id, routed.subnet_id, None)

    def remove() -> object:
        return services.router_interfaces.remove(
            ctx, REGION, routed.router_id, routed.subnet_id, None
        )

    routes = {"routes": [("10.99.0.0/24", "10.80.0.9")]}
    with before_first_write(db, remove) as removed, pytest.raises(BadRequest) as refused:
        services.routers.update(ctx, REGION, routed.router_id, routes)
    assert refused.value.kind == "InvalidRoutes"
    (interface,) = removed
    assert not isinstance(interface, Exception), interface
    assert services.routers.get(ctx, REGION, routed.router_id).routes == ()


def test_a_port_deleted_as_it_is_renamed_is_not_found(db: Database, routed: Routed) -> None:
    """The update read the port, then the port was deleted, then the update wrote to a row
    that was gone (a 500: the store's UPDATE matched no row)."""
    services, ctx = routed.services, routed.ctx
    port = services.ports.create(ctx, REGION, PortCreate(network_id=routed.network_id))
    delete = partial(services.ports.delete, ctx, REGION, port.id)
    with before_first_write(db, delete) as deleted, pytest.raises(NotFound) as missing:
        services.ports.update(ctx, REGION, port.id, {"name": "renamed"})
    assert missing.value.kind == "PortNotFound"
    (gone,) = deleted
    assert not isinstance(gone, Exception), gone


@pytest.mark.parametrize("kind", ["network", "subnet"])
def test_a_port_made_while_its_network_or_subnet_is_locked_for_deletion_finds_it_gone(
    db: Database, routed: Routed, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    """PostgreSQL, the other order: the deletion holds the network (or the subnet) FOR UPDATE
    when the port's insert (or its address's) comes; the insert waits on it (its foreign
    key's FOR KEY SHARE), fails once the row is gone, and runs again to Neutron's 404
    NetworkNotFound (the 400 naming the subnet it asked an address of), not a 500 — nor a
    409 for the deletion, had the insert not waited and its address been counted."""
    if db.dialect != "postgresql":
        pytest.skip("SQLite's one writer orders them the other way only")
    services, ctx = routed.services, routed.ctx
    locked = lock_for_deletion
    made: list[concurrent.futures.Future[object]] = []
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)

    def locking(session: Session, model: type[Base], row_id: str) -> None:
        locked(session, model, row_id)
        made.append(pool.submit(_new_port, routed))
        waiting = text(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
            " AND datname = current_database()"
        )
        with db.engine.connect() as watcher:
            while not watcher.execute(waiting).scalar() and not made[0].done():
                watcher.rollback()

    if kind == "network":
        monkeypatch.setattr(networks, "lock_for_deletion", locking)
        services.networks.delete(ctx, REGION, routed.network_id)
        with pytest.raises(NotFound) as missing:
            made[0].result(timeout=60)
        assert missing.value.kind == "NetworkNotFound"
    else:
        monkeypatch.setattr(subnets, "lock_for_deletion", locking)
        services.subnets.delete(ctx, REGION, routed.subnet_id)
        with pytest.raises(BadRequest) as refused:
            made[0].result(timeout=60)
        assert f"invalid subnet {routed.subnet_id}" in refused.value.message
    pool.shutdown()
