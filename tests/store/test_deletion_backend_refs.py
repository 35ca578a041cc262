"""A network's or a subnet's deletion deletes the backend's object its create named just
before the deletion took its lock: the create records the row, has the backend make it, then
writes the backend's ref in a unit of work of its own; a deletion that read the row before
that write and took the ref it read (none) deleted the row and left the backend's object for
ever (nothing names it again). The create's write runs just before the deletion's first
write or row lock (tests/support/first_write.py), on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import select, update

from interstack.backends.contract import Backend, NativeRef
from interstack.store import Database
from interstack.store.models import Base, Network, Subnet
from tests.support.first_write import before_first_write
from tests.support.routed import REGION, Routed


def _ref_written_meanwhile(
    db: Database, model: type[Base], row_id: str
) -> tuple[str, Callable[[], None]]:
    """The row's backend ref, taken away (its create has not written it yet), and the
    create's write of it, to run meanwhile."""
    table = model.__table__.c
    with db.session() as session:
        ref = session.scalar(select(table.native_ref).where(table.id == row_id))
        session.execute(update(model).where(table.id == row_id).values(native_ref=None))
    assert ref

    def write() -> None:
        with db.session() as session:
            session.execute(update(model).where(table.id == row_id).values(native_ref=ref))

    return ref, write


def _recorded(monkeypatch: pytest.MonkeyPatch, cloud: Backend, call: str) -> list[NativeRef]:
    """The refs the network driver's ``call`` is given from now on (and does)."""
    given: list[NativeRef] = []
    original = getattr(cloud.network, call)

    def recording(ref: NativeRef) -> None:
        given.append(ref)
        original(ref)

    monkeypatch.setattr(cloud.network, call, recording)
    return given


@pytest.mark.parametrize("kind", ["network", "subnet"])
def test_a_row_whose_ref_is_written_as_it_is_deleted_goes_from_the_backend(
    db: Database, routed: Routed, cloud: Backend, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    model, row_id, service = (
        (Network, routed.network_id, routed.services.networks)
        if kind == "network"
        else (Subnet, routed.subnet_id, routed.services.subnets)
    )
    native, write = _ref_written_meanwhile(db, model, row_id)
    deleted = _recorded(monkeypatch, cloud, f"delete_{kind}")
    with before_first_write(db, write) as written:
        service.delete(routed.ctx, REGION, row_id)
    assert written == [None]
    assert deleted == [native]
