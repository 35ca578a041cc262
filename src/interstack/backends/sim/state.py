"""The sim backend's rows in the store, and the lazy clock that moves their lifecycles on.

A transition (``BUILDING`` -> ``ACTIVE`` after ``boot_delay_seconds``) is written as
``pending_status`` + ``ready_at`` and applied by whoever reads the row after ``ready_at``; no
background thread is needed, and a restarted gateway sees the same state.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from interstack.backends.contract import NativeRef
from interstack.errors import NotFound
from interstack.store import Database
from interstack.store.models import SimResource


class Kind(StrEnum):
    SERVER = "server"
    NETWORK = "network"
    SUBNET = "subnet"
    PORT = "port"
    ROUTER = "router"
    FLOATING_IP = "floating_ip"
    SECURITY_GROUP = "security_group"
    VOLUME = "volume"
    SNAPSHOT = "snapshot"
    IMAGE = "image"
    CONTAINER = "container"
    OBJECT = "object"


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class SimState:
    """Row access for one region, with lifecycles applied on read."""

    def __init__(self, db: Database, region: str, clock: Callable[[], datetime] = utcnow) -> None:
        self.db = db
        self.region = region
        self.clock = clock

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self.db.session() as session:
            yield session

    def new(
        self,
        session: Session,
        kind: Kind,
        *,
        status: str,
        gateway_id: str | None = None,
        name: str = "",
        parent: str | None = None,
        data: dict[str, Any] | None = None,
    ) -> SimResource:
        now = self.clock()
        row = SimResource(
            ref=f"sim-{kind}-{uuid.uuid4().hex}",
            region=self.region,
            kind=kind,
            gateway_id=gateway_id,
            parent=parent,
            name=name,
            status=status,
            data=data or {},
            created_at=now,
            updated_at=now,
        )
        session.add(row)
        session.flush()
        return row

    def schedule(self, row: SimResource, status: str, after_seconds: float) -> None:
        """Move ``row`` to ``status`` once ``after_seconds`` have passed."""
        row.pending_status = status
        row.ready_at = self.clock() + timedelta(seconds=after_seconds)
        row.updated_at = self.clock()

    def set(self, row: SimResource, status: str, fault: str | None = None) -> None:
        row.status = status
        row.pending_status = None
        row.ready_at = None
        row.fault = fault
        row.updated_at = self.clock()

    def _advance(self, row: SimResource) -> SimResource:
        if (
            row.pending_status is not None
            and row.ready_at is not None
            and row.ready_at <= self.clock()
        ):
            self.set(row, row.pending_status, row.fault)
        return row

    def get(self, session: Session, kind: Kind, ref: str) -> SimResource:
        row = session.get(SimResource, ref)
        if row is None or row.kind != kind or row.region != self.region:
            raise NotFound(f"{kind.replace('_', ' ')} {ref} not found")
        return self._advance(row)

    def find(self, session: Session, kind: Kind, ref: str) -> SimResource | None:
        try:
            return self.get(session, kind, ref)
        except NotFound:
            return None

    def by_gateway_id(self, session: Session, kind: Kind, gateway_id: str) -> SimResource | None:
        row = session.scalars(
            select(SimResource).where(
                SimResource.region == self.region,
                SimResource.kind == kind,
                SimResource.gateway_id == gateway_id,
            )
        ).first()
        return None if row is None else self._advance(row)

    def children(
        self, session: Session, kind: Kind, parent: str, *, name: str | None = None
    ) -> list[SimResource]:
        query = select(SimResource).where(
            SimResource.region == self.region,
            SimResource.kind == kind,
            SimResource.parent == parent,
        )
        if name is not None:
            query = query.where(SimResource.name == name)
        return [self._advance(r) for r in session.scalars(query.order_by(SimResource.name))]

    def all(self, session: Session, kind: Kind) -> list[SimResource]:
        query = select(SimResource).where(
            SimResource.region == self.region, SimResource.kind == kind
        )
        return [self._advance(r) for r in session.scalars(query.order_by(SimResource.created_at))]


def ref(row: SimResource) -> NativeRef:
    return NativeRef(row.ref)
