"""A router's deletion against an interface's add made while the cloud deletes the router, on
both databases: the add takes the router's lock, and the deletion took it to check that the
router held nothing, so the add finds the router going (Neutron's 404 RouterNotFound) and
leaves no port naming it; were the cloud to refuse the deletion, the router stays usable. And a
port's device fields changed while a router takes the port: one or the other, never both."""

from __future__ import annotations

import concurrent.futures

import pytest
from sqlalchemy import func, select

from interstack.backends.contract import Backend, NativeRef
from interstack.errors import BackendUnavailable, Conflict, NotFound
from interstack.services.listing import Page
from interstack.services.network import ports as ports_module
from interstack.services.network.ports import PortCreate
from interstack.store import Database
from interstack.store.models import Port, Router, RouterPort
from tests.support.routed import REGION, Routed


def test_an_interface_added_while_its_router_is_deleted_is_refused(
    db: Database, cloud: Backend, routed: Routed, monkeypatch: pytest.MonkeyPatch
) -> None:
    services, ctx = routed.services, routed.ctx
    router_id, subnet_id = routed.router_id, routed.subnet_id
    deleting = cloud.network.delete_router
    outcome: list[object] = []

    def delete_router(ref: NativeRef) -> None:
        # another request (its own thread and connection) adds an interface meanwhile
        with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
            add = pool.submit(
                services.router_interfaces.add, ctx, REGION, router_id, subnet_id, None
            )
            try:
                outcome.append(add.result(timeout=60))
            except Exception as exc:  # what the add answered
                outcome.append(exc)
        deleting(ref)

    monkeypatch.setattr(cloud.network, "delete_router", delete_router)
    services.routers.delete(ctx, REGION, router_id)
    (refused,) = outcome
    assert isinstance(refused, NotFound) and refused.kind == "RouterNotFound", refused
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(RouterPort)) == 0
        naming = select(func.count()).select_from(Port).where(Port.device_id == router_id)
        assert session.scalar(naming) == 0


def test_a_router_whose_cloud_deletion_failed_takes_interfaces_again(
    db: Database, cloud: Backend, routed: Routed, monkeypatch: pytest.MonkeyPatch
) -> None:
    services, ctx = routed.services, routed.ctx
    router_id, subnet_id = routed.router_id, routed.subnet_id

    def unanswered(_ref: NativeRef) -> None:
        raise BackendUnavailable("the cloud does not answer")

    monkeypatch.setattr(cloud.network, "delete_router", unanswered)
    with pytest.raises(BackendUnavailable):
        services.routers.delete(ctx, REGION, router_id)
    assert services.routers.get(ctx, REGION, router_id).status == "ACTIVE"
    added = services.router_interfaces.add(ctx, REGION, router_id, subnet_id, None)
    assert added.subnet_ids == (subnet_id,)


def test_a_deletion_a_stopped_gateway_left_half_done_is_finished_when_asked_again(
    db: Database, routed: Routed
) -> None:
    """A router a gateway stopped deleting (killed after it marked the router, before the
    cloud answered) takes no interface, and a deletion asked again deletes it."""
    services, ctx = routed.services, routed.ctx
    with db.session() as session:
        session.get_one(Router, routed.router_id).deleting = True
    # shown as Neutron shows a router until it is gone: its stored mark is no Neutron status
    assert services.routers.get(ctx, REGION, routed.router_id).status == "ACTIVE"
    (listed,) = services.routers.list_page(ctx, REGION, {}, Page())
    assert (listed.id, listed.status) == (routed.router_id, "ACTIVE")
    with pytest.raises(NotFound, match="deleting it again"):
        services.router_interfaces.add(ctx, REGION, routed.router_id, routed.subnet_id, None)
    services.routers.delete(ctx, REGION, routed.router_id)
    with pytest.raises(NotFound):
        services.routers.get(ctx, REGION, routed.router_id)


def test_a_deletion_asked_again_that_the_cloud_refuses_leaves_the_router_usable(
    db: Database, cloud: Backend, routed: Routed, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A deletion asked again of a router a stopped gateway left marked, which the cloud
    refuses, leaves the router as a router is (it takes interfaces), not marked again."""
    services, ctx = routed.services, routed.ctx
    with db.session() as session:
        session.get_one(Router, routed.router_id).deleting = True

    def unanswered(_ref: NativeRef) -> None:
        raise BackendUnavailable("the cloud does not answer")

    monkeypatch.setattr(cloud.network, "delete_router", unanswered)
    with pytest.raises(BackendUnavailable):
        services.routers.delete(ctx, REGION, routed.router_id)
    added = services.router_interfaces.add(ctx, REGION, routed.router_id, routed.subnet_id, None)
    assert added.subnet_ids == (routed.subnet_id,)


def test_a_port_given_a_device_while_a_router_takes_it_is_one_or_the_other(
    db: Database, routed: Routed, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An update naming a server as the port's device, and a router's add of the port made
    after the update has checked the port is free, before it writes: the update locked the
    port first, so the add waits and finds the port taken (409 PortInUse) — the update does
    not overwrite the fields of a port the router holds (it did: the router held a port that
    named the server)."""
    services, ctx = routed.services, routed.ctx
    network_id = services.subnets.get(ctx, REGION, routed.subnet_id).network_id
    port = services.ports.create(ctx, REGION, PortCreate(network_id=network_id))
    checking = ports_module.check_device_change  # type: ignore[attr-defined]
    outcome: list[object] = []

    def check_then_add(*args: object) -> None:
        checking(*args)  # type: ignore[arg-type]
        add = pool.submit(
            services.router_interfaces.add, ctx, REGION, routed.router_id, None, port.id
        )
        outcome.append(add)
        # the add blocks on the port's lock: waited for a while, then the update goes on (an
        # add that does not block, as it did, ends meanwhile and is overwritten)
        concurrent.futures.wait([add], timeout=3)

    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        monkeypatch.setattr(ports_module, "check_device_change", check_then_add)
        updated = services.ports.update(
            ctx, REGION, port.id, {"device_id": "a-server", "device_owner": "compute:nova"}
        )
        (add,) = outcome
        with pytest.raises(Conflict) as refused:
            add.result(timeout=60)  # type: ignore[attr-defined]
    assert refused.value.kind == "PortInUse"
    assert (updated.device_id, updated.device_owner) == ("a-server", "compute:nova")
    with db.session() as session:
        assert session.get(RouterPort, port.id) is None
        stored = session.get_one(Port, port.id)
        assert (stored.device_id, stored.device_owner) == ("a-server", "compute:nova")
