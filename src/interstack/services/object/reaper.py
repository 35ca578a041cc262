"""Object expiry: objects past ``X-Delete-At`` are invisible at once and reaped (rows and bytes)
when their container is next listed or deleted, or by the periodic sweep."""

from __future__ import annotations

import logging

from sqlalchemy import select

from interstack.backends.contract import NativeRef
from interstack.errors import InterstackError
from interstack.services.object.common import Storage
from interstack.services.object.model import ObjectPath
from interstack.store.models import ObjectContainer, StoredObject

log = logging.getLogger(__name__)


def _reap(storage: Storage, query_filter: list[object], limit: int) -> int:
    now = int(storage.clock())
    with storage.db.session() as session:
        rows = session.execute(
            select(StoredObject, ObjectContainer.region, ObjectContainer.native_ref)
            .join(ObjectContainer, ObjectContainer.id == StoredObject.container_id)
            .where(StoredObject.delete_at.is_not(None), StoredObject.delete_at <= now)
            .where(*query_filter)  # type: ignore[arg-type]
            .limit(limit)
        ).all()
        doomed = [(region, native, row.native_name) for row, region, native in rows]
        for row, _, _ in rows:
            session.delete(row)
    for region, native, name in doomed:
        try:
            storage.driver(region).delete_object(NativeRef(native), name)
        except InterstackError as exc:
            log.warning("reaping an expired object's bytes in %s failed: %s", region, exc.message)
    return len(doomed)


def reap_container(storage: Storage, path: ObjectPath, limit: int = 1000) -> int:
    """Remove the expired objects of one container; returns how many."""
    return _reap(
        storage,
        [
            ObjectContainer.region == path.region,
            ObjectContainer.project_id == path.account,
            ObjectContainer.name == path.container,
        ],
        limit,
    )


def reap_expired(storage: Storage, limit: int = 1000) -> int:
    """Remove expired objects of every region (the periodic sweep); returns how many."""
    return _reap(storage, [], limit)
