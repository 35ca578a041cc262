"""The start-up sweep of deletions cut short (DeletionSweep) against a cloud that refuses and a
row another replica finished first, on both databases: a port the cloud refuses stays marked
and the log says so (finished by the next sweep once the cloud answers); a router the cloud
refuses is the API's again, unmarked, as a refused DELETE leaves it; a row gone between the
sweep's query and its step is no warning, a NotFound of something else with the row still
there is one."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import select, update

from interstack.backends.contract import Backend, NativeRef
from interstack.errors import BackendUnavailable, NotFound
from interstack.services.network import deletion_sweep
from interstack.services.network.deletion_sweep import DeletionSweep
from interstack.services.network.ports import PortCreate
from interstack.store import Database
from interstack.store.models import Port, Router
from tests.support.routed import REGION, Routed


def _mark(db: Database, model: type[Port] | type[Router], row_id: str) -> None:
    with db.session() as session:
        session.execute(update(model).where(model.id == row_id).values(deleting=True))


def _deleting(db: Database, model: type[Port] | type[Router], row_id: str) -> bool | None:
    with db.session() as session:
        return session.scalar(select(model.deleting).where(model.id == row_id))


def test_a_refused_cloud_leaves_the_port_marked_and_the_router_unmarked(
    db: Database,
    cloud: Backend,
    routed: Routed,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    services = routed.services
    port = services.ports.create(routed.ctx, REGION, PortCreate(network_id=routed.network_id))
    _mark(db, Port, port.id)
    _mark(db, Router, routed.router_id)
    sweep = DeletionSweep(db, services.ports.regions, services.ports, services.routers, "admin")

    def refused(ref: NativeRef) -> None:
        raise BackendUnavailable("the cloud does not answer")

    with monkeypatch.context() as cloudless:
        cloudless.setattr(cloud.network, "delete_port", refused)
        cloudless.setattr(cloud.network, "delete_router", refused)
        with caplog.at_level(logging.WARNING, deletion_sweep.__name__):
            sweep.ensure()
    assert _deleting(db, Port, port.id) is True
    assert _deleting(db, Router, routed.router_id) is False
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warned) == 2, warned
    assert all("is not finished" in m and "the cloud does not answer" in m for m in warned)

    sweep.ensure()  # the cloud answers: the port's deletion is finished, the router stays
    assert _deleting(db, Port, port.id) is None
    assert _deleting(db, Router, routed.router_id) is False


def test_a_deletion_finished_meanwhile_is_no_warning(
    db: Database,
    cloud: Backend,
    routed: Routed,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    services = routed.services
    _mark(db, Router, routed.router_id)
    sweep = DeletionSweep(db, services.ports.regions, services.ports, services.routers, "admin")
    deleting = services.routers.delete

    def finished_first(*args: object) -> None:
        deleting(*args)  # type: ignore[arg-type]  # another replica's, just before this one
        deleting(*args)  # type: ignore[arg-type]  # this sweep's: the router is gone

    monkeypatch.setattr(services.routers, "delete", finished_first)
    with caplog.at_level(logging.INFO, deletion_sweep.__name__):
        sweep.ensure()
    assert _deleting(db, Router, routed.router_id) is None
    assert [r.levelno for r in caplog.records] == [logging.INFO]
    assert "finished meanwhile" in caplog.records[0].getMessage()


def test_a_not_found_with_the_row_still_there_is_a_warning(
    db: Database, routed: Routed, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    services = routed.services
    _mark(db, Router, routed.router_id)
    sweep = DeletionSweep(db, services.ports.regions, services.ports, services.routers, "admin")

    def cloud_lost_something(*args: object) -> None:
        raise NotFound("The cloud's route table could not be found")

    monkeypatch.setattr(services.routers, "delete", cloud_lost_something)
    with caplog.at_level(logging.INFO, deletion_sweep.__name__):
        sweep.ensure()
    assert [r.levelno for r in caplog.records] == [logging.WARNING]
    assert "route table" in caplog.records[0].getMessage()
