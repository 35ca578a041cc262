"""A router's deletion against an interface's add made while the cloud deletes the router, on
both databases: the add takes the router's lock, and the deletion took it to check that the
router held nothing, so the add finds the router going (Neutron's 404 RouterNotFound) and
leaves no port naming it; were the cloud to refuse the deletion, the router stays usable."""

from __future__ import annotations

import concurrent.futures
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import func, select

from interstack.backends.contract import Backend, NativeRef
from interstack.backends.registry import load_backend
from interstack.errors import BackendUnavailable, NotFound
from interstack.services.context import RequestContext
from interstack.services.listing import Page
from interstack.services.network.networks import NetworkCreate
from interstack.services.network.routers import DELETING, RouterCreate
from interstack.services.network.service import NetworkServices
from interstack.services.network.subnets import SubnetCreate
from interstack.services.regions import Regions
from interstack.store import Database
from interstack.store.models import Port, Router, RouterPort
from tests.support.image import caller

REGION = "R"


@pytest.fixture
def cloud(db: Database, tmp_path: Path) -> Iterator[Backend]:
    backend = load_backend("sim", REGION, {}, data_dir=tmp_path / "data", db=db)
    backend.start()
    try:
        yield backend
    finally:
        backend.close()


@dataclass(frozen=True)
class _Routed:
    """The network services over the cloud, a project's caller, its router and a subnet."""

    services: NetworkServices
    ctx: RequestContext
    router_id: str
    subnet_id: str


@pytest.fixture
def routed(db: Database, cloud: Backend) -> _Routed:
    services = NetworkServices.build(db, Regions({REGION: cloud}))
    ctx = caller(uuid.uuid4().hex)
    network = services.networks.create(ctx, REGION, NetworkCreate(name="n"))
    subnet = services.subnets.create(
        ctx, REGION, SubnetCreate(network_id=network.id, cidr="10.80.0.0/24", enable_dhcp=False)
    )
    router = services.routers.create(ctx, REGION, RouterCreate(name="r"))
    return _Routed(services, ctx, router.id, subnet.id)


def test_an_interface_added_while_its_router_is_deleted_is_refused(
    db: Database, cloud: Backend, routed: _Routed, monkeypatch: pytest.MonkeyPatch
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
    db: Database, cloud: Backend, routed: _Routed, monkeypatch: pytest.MonkeyPatch
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
    db: Database, routed: _Routed
) -> None:
    """A router a gateway stopped deleting (killed after it marked the router, before the
    cloud answered) takes no interface, and a deletion asked again deletes it."""
    services, ctx = routed.services, routed.ctx
    with db.session() as session:
        session.get_one(Router, routed.router_id).status = DELETING
    # shown as Neutron shows a router until it is gone: its stored mark is no Neutron status
    assert services.routers.get(ctx, REGION, routed.router_id).status == "ACTIVE"
    (listed,) = services.routers.list_page(ctx, REGION, {}, Page())
    assert (listed.id, listed.status) == (routed.router_id, "ACTIVE")
    with pytest.raises(NotFound, match="deleting it again"):
        services.router_interfaces.add(ctx, REGION, routed.router_id, routed.subnet_id, None)
    services.routers.delete(ctx, REGION, routed.router_id)
    with pytest.raises(NotFound):
        services.routers.get(ctx, REGION, routed.router_id)
