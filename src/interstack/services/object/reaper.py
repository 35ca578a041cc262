"""Object expiry: objects past ``X-Delete-At`` are invisible at once and reaped (rows and bytes)
when their container is next listed or deleted, or by the periodic sweep, whichever comes first."""

from __future__ import annotations

import logging
import threading

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


class ExpirySweeper:
    """Reaps expired objects of every region every ``interval`` seconds, in a thread of its
    own, so bytes of objects nobody lists again do not stay forever."""

    def __init__(self, storage: Storage, interval: float = 60.0) -> None:
        self.storage = storage
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="expiry-sweeper", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                while reap_expired(self.storage) and not self._stop.is_set():
                    pass
            except Exception:
                log.exception("reaping expired objects failed; trying again later")
