"""Object content kept as files, shared by the backends that store objects on local disk.

Each put writes a new file ``<root>/<container>/<uuid>.obj`` and the backend's own index (rows
for ``sim``, JSON records for ``local``) is then pointed at it; the file it replaced is removed
afterwards. A reader that opened the old file keeps reading the old content to its end, and a
reader that looked up a file just replaced looks again (:meth:`ObjectFiles.read`).
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from interstack.backends.contract import ByteStream
from interstack.backends.contract.files import Written, open_stream, write_atomically
from interstack.errors import BackendError

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

    def write(self, container: str, data: Iterable[bytes]) -> StoredFile:
        """A new file with ``data``; nothing remains if reading ``data`` fails."""
        name = f"{uuid.uuid4().hex}.obj"
        return StoredFile(name, write_atomically(self.path(container, name), data))

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
