"""Ports and routers a stopped gateway left marked by their deletion (``deleting``: shown as
they were, taken by nothing) are finished after the gateway starts again, without a DELETE,
by its task runner (start-up only queues them): gone from the API and from the cloud, one
whose cloud side was already gone too. Before, they stayed until someone deleted them again.
Through openstacksdk, on sim."""

from __future__ import annotations

from functools import partial

from sqlalchemy import delete, select, update

from interstack.store.models import Port, Router, SimResource
from tests.support.gateway import ServedGateway
from tests.support.identity import unique
from tests.support.waiting import eventually


def _native(gateway: ServedGateway, model: type[Port] | type[Router], row_id: str) -> str:
    with gateway.store() as database, database.session() as session:
        ref = session.scalar(select(model.native_ref).where(model.id == row_id))
        assert ref is not None
        return str(ref)


def _left_going(gateway: ServedGateway, model: type[Port] | type[Router], row_id: str) -> None:
    """Marked as a deletion marks it before it asks the cloud (a gateway stopped there)."""
    with gateway.store() as database, database.session() as session:
        session.execute(update(model).where(model.id == row_id).values(deleting=True))


def _in_cloud(gateway: ServedGateway, ref: str) -> bool:
    with gateway.store() as database, database.session() as session:
        return session.get(SimResource, ref) is not None


def test_deletions_cut_short_are_finished_at_start_up(restartable: ServedGateway) -> None:
    conn = restartable.connect("interstack")
    network = conn.network.create_network(name=unique("going"))
    port = conn.network.create_port(network_id=network.id)
    told = conn.network.create_port(network_id=network.id)  # the cloud deleted it already
    kept = conn.network.create_port(network_id=network.id)
    router = conn.network.create_router(name=unique("going"))
    refs = {
        "port": _native(restartable, Port, port.id),
        "told": _native(restartable, Port, told.id),
        "router": _native(restartable, Router, router.id),
    }
    for model, row_id in ((Port, port.id), (Port, told.id), (Router, router.id)):
        _left_going(restartable, model, row_id)
    with restartable.store() as database, database.session() as session:
        session.execute(delete(SimResource).where(SimResource.ref == refs["told"]))
    assert conn.network.get_port(port.id).id == port.id  # shown as it was until then

    restartable.restart()

    conn = restartable.connect("interstack")
    for going in (port.id, told.id):
        eventually(partial(conn.network.find_port, going), lambda p: p is None, f"port {going}")
    eventually(lambda: conn.network.find_router(router.id), lambda r: r is None, "the router")
    assert [r for r in refs.values() if _in_cloud(restartable, r)] == []
    assert conn.network.get_port(kept.id).id == kept.id
    conn.network.delete_port(kept)
    conn.network.delete_network(network)
