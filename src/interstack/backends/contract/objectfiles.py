"""Object content kept as files, shared by the backends that store objects on local disk.

Each put writes a new file ``<root>/<container>/<uuid>.obj`` and the backend's own index (rows
for ``sim``, JSON records for ``local``) is then pointed at it; the file it replaced is removed
afterwards. A reader that opened the old file keeps reading the old content to its end, and a
reader that looked up a file just replaced looks again (:meth:`ObjectFiles.read`).

A put holds its file's ``flock`` until its index points at it (:meth:`ObjectFiles.writing`),
so that a gateway's start (:meth:`ObjectFiles.sweep`) tells what a put killed midway left (its
temporary file, or a content file no index points to) from a live put of another process.
"""

from __future__ import annotations

import logging
import shutil
import uuid
from collections.abc import Callable, Collection, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from interstack.backends.contract import ByteStream
from interstack.backends.contract.files import (
    PART_SUFFIX,
    Written,
    being_written,
    open_stream,
    remove_unless_written,
    writing,
)
from interstack.errors import BackendError

log = logging.getLogger(__name__)

#: how a content file's name ends
OBJECT_SUFFIX = ".obj"

Found = TypeVar("Found")


@dataclass(frozen=True)
class StoredFile:
    name: str
    written: Written


class ObjectFiles:
    def __init__(self, root: Path, chunk_size: int) -> None:
        self.root = root
        self.chunk_size = chunk_size

    def path(self, container: str, file_name: str) -> Path:
        return self.root / container / file_name

    @contextmanager
    def writing(self, container: str, data: Iterable[bytes]) -> Iterator[StoredFile]:
        """A new file with ``data``, its writer's lock held while the block points the index
        at it; nothing remains if reading ``data`` or the block fails."""
        name = f"{uuid.uuid4().hex}{OBJECT_SUFFIX}"
        path = self.path(container, name)
        with writing(path, data) as written:
            try:
                yield StoredFile(name, written)
            except BaseException:
                path.unlink(missing_ok=True)
                raise

    def sweep(self, referenced: Callable[[str], Collection[str] | None]) -> list[Path]:
        """Remove what puts killed midway left (at a start; another gateway process on the
        root may be putting meanwhile, whose files stay): temporary files no writer holds,
        and content files no writer holds that the container's index does not point at
        (``referenced``: its file names; None where unsure, which keeps every file). The
        files removed."""
        if not self.root.is_dir():
            return []
        parts = self.root.rglob(f".*{PART_SUFFIX}")
        removed = [p for p in parts if remove_unless_written(p)]
        for directory in (d for d in self.root.iterdir() if d.is_dir()):
            # a file's writer looked at before its index: one done has pointed it already
            done = [f for f in directory.glob(f"*{OBJECT_SUFFIX}") if not being_written(f)]
            known = referenced(directory.name) if done else None
            if known is not None:
                removed += [f for f in done if f.name not in known and remove_unless_written(f)]
        for path in removed:
            log.info("removed %s: left by a write cut short", path)
        return removed

    def discard(self, container: str, file_name: str) -> None:
        self.path(container, file_name).unlink(missing_ok=True)

    def discard_container(self, container: str) -> None:
        shutil.rmtree(self.root / container, ignore_errors=True)

    def read(
        self,
        container: str,
        what: str,
        lookup: Callable[[], tuple[Found, str]],
        offset: int = 0,
        length: int | None = None,
    ) -> tuple[Found, ByteStream]:
        """What ``lookup`` finds (with the name of its file) and that file's content from
        ``offset`` (a seek; at most ``length`` bytes); looks again if a concurrent put replaced
        the file in between."""
        for _ in range(3):
            found, file_name = lookup()
            try:
                stream = open_stream(
                    self.path(container, file_name), self.chunk_size, offset, length
                )
                return found, stream
            except FileNotFoundError:
                continue
        raise BackendError(f"object {what} keeps changing; try again")
