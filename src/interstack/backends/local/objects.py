"""Object storage in the local backend's data directory: content files and JSON records.

``<root>/containers/<ref>.json`` names a container (its account and name);
``<root>/<ref>/index/<hash of the name>.json`` is one object's record (name, size, MD5, content
type, file), written after its content file (:mod:`..contract.objectfiles`).
Listing reads a container's records: a one-host cloud holds modest numbers of objects.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from interstack.backends.contract import ByteStream, NativeRef, ObjectInfo, ObjectStoreDriver
from interstack.backends.contract.files import write_atomically
from interstack.backends.contract.objectfiles import ObjectFiles
from interstack.errors import Conflict, NotFound

CONTAINER_PREFIX = "lc-"
CHUNK = 64 * 1024


def _digest(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


def _write_json(path: Path, record: dict[str, Any]) -> None:
    write_atomically(path, [json.dumps(record).encode()])


def _info(record: dict[str, Any]) -> ObjectInfo:
    return ObjectInfo(
        name=record["name"],
        size=int(record["size"]),
        md5=record["md5"],
        content_type=record["content_type"],
    )


class LocalObjectStore(ObjectStoreDriver):
    def __init__(self, root: Path) -> None:
        self.root = root
        self.files = ObjectFiles(root, CHUNK)
        self._lock = threading.Lock()  # one record per container/object name in this process

    def start(self) -> None:
        """What puts cut short by a gateway's end left goes (:meth:`ObjectFiles.sweep`)."""
        self.files.sweep(self._files_of)

    def _files_of(self, ref: str) -> set[str] | None:
        """The content files a container's records name; None for no container's directory
        (or a record unread: unsure)."""
        if not ref.startswith(CONTAINER_PREFIX):
            return None
        try:
            return {
                str(json.loads(path.read_text())["file"])
                for path in (self.root / ref / "index").glob("*.json")
            }
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def _container_file(self, ref: str) -> Path:
        if not ref.startswith(CONTAINER_PREFIX) or "/" in ref:
            raise NotFound(f"container {ref} not found")
        return self.root / "containers" / f"{ref}.json"

    def _index(self, container: NativeRef) -> Path:
        if not self._container_file(container).exists():
            raise NotFound(f"container {container} not found")
        return self.root / container / "index"

    def _record_path(self, container: NativeRef, name: str) -> Path:
        return self._index(container) / f"{_digest(name)}.json"

    def _record(self, container: NativeRef, name: str) -> dict[str, Any]:
        try:
            record: dict[str, Any] = json.loads(self._record_path(container, name).read_text())
        except FileNotFoundError:
            raise NotFound(f"object {name} not found") from None
        return record

    def create_container(self, account: str, name: str) -> NativeRef:
        ref = NativeRef(f"{CONTAINER_PREFIX}{_digest(account, name)[:24]}")
        with self._lock:
            path = self._container_file(ref)
            if not path.exists():
                _write_json(path, {"account": account, "name": name})
        return ref

    def delete_container(self, ref: NativeRef) -> None:
        with self._lock:
            path = self._container_file(ref)
            if not path.exists():
                return
            index = self.root / ref / "index"
            if index.is_dir() and any(index.glob("*.json")):
                raise Conflict(f"container {ref} is not empty")
            path.unlink()
            self.files.discard_container(ref)

    def put_object(
        self, container: NativeRef, name: str, data: Iterable[bytes], content_type: str
    ) -> ObjectInfo:
        self._index(container)
        with self.files.writing(container, data) as stored:
            record = {
                "name": name,
                "size": stored.written.size,
                "md5": stored.written.md5,
                "content_type": content_type,
                "file": stored.name,
            }
            with self._lock:
                path = self._record_path(container, name)
                stale = json.loads(path.read_text())["file"] if path.exists() else None
                _write_json(path, record)
        if stale is not None:
            self.files.discard(container, stale)
        return _info(record)

    def head_object(self, container: NativeRef, name: str) -> ObjectInfo:
        return _info(self._record(container, name))

    def get_object(
        self, container: NativeRef, name: str, offset: int = 0, length: int | None = None
    ) -> tuple[ObjectInfo, ByteStream]:
        def lookup() -> tuple[ObjectInfo, str]:
            record = self._record(container, name)
            return _info(record), str(record["file"])

        return self.files.read(container, name, lookup, offset, length)

    def delete_object(self, container: NativeRef, name: str) -> None:
        with self._lock:
            try:
                path = self._record_path(container, name)
                record = json.loads(path.read_text())
            except (NotFound, FileNotFoundError):
                return
            path.unlink()
        self.files.discard(container, record["file"])

    def list_objects(
        self, container: NativeRef, prefix: str = "", marker: str = "", limit: int = 10_000
    ) -> list[ObjectInfo]:
        index = self._index(container)
        records = []
        for path in index.glob("*.json") if index.is_dir() else ():
            try:
                record = json.loads(path.read_text())
            except FileNotFoundError:
                continue  # deleted meanwhile
            if record["name"].startswith(prefix) and record["name"] > marker:
                records.append(record)
        records.sort(key=lambda r: r["name"])
        return [_info(r) for r in records[:limit]]
