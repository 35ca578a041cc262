"""Simulated object storage: metadata rows, content in files, always streamed."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from pathlib import Path

from interstack.backends.contract import (
    ByteStream,
    Capabilities,
    NativeRef,
    ObjectInfo,
    ObjectStoreDriver,
)
from interstack.backends.contract.objectfiles import ObjectFiles
from interstack.backends.sim.settings import SimOperation, SimSettings
from interstack.backends.sim.state import Kind, SimState, ref
from interstack.errors import BackendError, Conflict, NotFound, NotSupported
from interstack.store.models import SimResource


def _info(row: SimResource) -> ObjectInfo:
    return ObjectInfo(
        name=row.name,
        size=int(row.data["size"]),
        md5=row.data["md5"],
        content_type=row.data["content_type"],
    )


class SimObjectStore(ObjectStoreDriver):
    """Each put writes a new file and then points the object's row at it, so a reader that
    opened the old file keeps reading the old content to its end."""

    def __init__(
        self, state: SimState, settings: SimSettings, capabilities: Capabilities, root: Path
    ) -> None:
        self.state = state
        self.settings = settings
        self.capabilities = capabilities
        self.files = ObjectFiles(root, settings.chunk_size)
        self._names = threading.Lock()  # one row per container/object name in this process

    def _require(self) -> None:
        if "object_store" not in self.capabilities.names():
            raise NotSupported(f"region {self.state.region} does not support object storage")

    def create_container(self, account: str, name: str) -> NativeRef:
        self._require()
        with self._names, self.state.session() as session:
            existing = self.state.children(session, Kind.CONTAINER, account, name=name)
            if existing:
                return ref(existing[0])
            row = self.state.new(session, Kind.CONTAINER, status="ready", name=name, parent=account)
            return ref(row)

    def delete_container(self, ref: NativeRef) -> None:
        self._require()
        with self.state.session() as session:
            row = self.state.find(session, Kind.CONTAINER, ref)
            if row is None:
                return
            if self.state.children(session, Kind.OBJECT, row.ref):
                raise Conflict(f"container {row.name} is not empty")
            session.delete(row)

    def put_object(
        self, container: NativeRef, name: str, data: Iterable[bytes], content_type: str
    ) -> ObjectInfo:
        self._require()
        with self.state.session() as session:
            self.state.get(session, Kind.CONTAINER, container)
        fault = self.settings.fault(SimOperation.PUT_OBJECT, name)
        if fault is not None:
            raise BackendError(f"storing object {name} failed: {fault}")
        stale: str | None = None
        with self.files.writing(container, data) as stored:
            written = stored.written
            with self._names, self.state.session() as session:
                self.state.get(session, Kind.CONTAINER, container)
                fields = {
                    "size": written.size,
                    "md5": written.md5,
                    "content_type": content_type,
                    "file": stored.name,
                }
                rows = self.state.children(session, Kind.OBJECT, container, name=name)
                if rows:
                    stale = rows[0].data["file"]
                    rows[0].data = fields
                    self.state.set(rows[0], "stored")
                    row = rows[0]
                else:
                    row = self.state.new(
                        session,
                        Kind.OBJECT,
                        status="stored",
                        name=name,
                        parent=container,
                        data=fields,
                    )
                info = _info(row)
        if stale is not None:
            self.files.discard(container, stale)
        return info

    def _row(self, container: NativeRef, name: str) -> SimResource:
        with self.state.session() as session:
            self.state.get(session, Kind.CONTAINER, container)
            rows = self.state.children(session, Kind.OBJECT, container, name=name)
        if not rows:
            raise NotFound(f"object {name} not found")
        return rows[0]

    def head_object(self, container: NativeRef, name: str) -> ObjectInfo:
        self._require()
        return _info(self._row(container, name))

    def get_object(
        self, container: NativeRef, name: str, offset: int = 0, length: int | None = None
    ) -> tuple[ObjectInfo, ByteStream]:
        self._require()

        def lookup() -> tuple[ObjectInfo, str]:
            row = self._row(container, name)
            return _info(row), str(row.data["file"])

        return self.files.read(container, name, lookup, offset, length)

    def delete_object(self, container: NativeRef, name: str) -> None:
        self._require()
        with self._names, self.state.session() as session:
            rows = self.state.children(session, Kind.OBJECT, container, name=name)
            for row in rows:
                self.files.discard(container, row.data["file"])
                session.delete(row)

    def list_objects(
        self, container: NativeRef, prefix: str = "", marker: str = "", limit: int = 10_000
    ) -> list[ObjectInfo]:
        self._require()
        with self.state.session() as session:
            self.state.get(session, Kind.CONTAINER, container)
            rows = self.state.children(session, Kind.OBJECT, container)
        names = [r for r in rows if r.name.startswith(prefix) and r.name > marker]
        return [_info(r) for r in sorted(names, key=lambda r: r.name)[:limit]]
