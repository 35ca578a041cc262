"""An upload's bytes on their way to AWS: passed through, counted and hashed (VM Import's S3
copy, and a raw upload whose length the client declared), or spooled to a temporary file (a
raw upload of unknown length: an EBS snapshot's size is fixed when it starts)."""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO

#: the EBS direct APIs' block: every block written is exactly this long
BLOCK_SIZE = 512 * 1024


@dataclass(frozen=True)
class Spooled:
    """An upload, read to its end: where it is, how long it is, its SHA-256."""

    file: IO[bytes]
    size: int
    sha256: str

    def blocks(self) -> Iterator[tuple[int, bytes]]:
        """(index, data) of each 512 KiB block, the last one padded with zeros."""
        self.file.seek(0)
        return blocks_of(iter(lambda: self.file.read(BLOCK_SIZE), b""))


def blocks_of(data: Iterable[bytes]) -> Iterator[tuple[int, bytes]]:
    """(index, data) of each 512 KiB block of ``data``, the last one padded with zeros; at
    most a block and a chunk are held."""
    for index, block in enumerate(regrouped(data, BLOCK_SIZE)):
        yield index, block.ljust(BLOCK_SIZE, b"\0")


def regrouped(data: Iterable[bytes], size: int) -> Iterator[bytes]:
    """``data`` regrouped into pieces of ``size`` bytes (the last one shorter)."""
    pending = bytearray()
    for chunk in data:
        pending += chunk
        while len(pending) >= size:
            yield bytes(pending[:size])
            del pending[:size]
    if pending:
        yield bytes(pending)


@contextmanager
def spooled(data: Iterable[bytes]) -> Iterator[Spooled]:
    """The upload in a temporary file, removed afterwards whatever happens."""
    digest = hashlib.sha256()
    size = 0
    with tempfile.TemporaryFile(prefix="interstack-upload-") as handle:
        for chunk in data:
            handle.write(chunk)
            digest.update(chunk)
            size += len(chunk)
        handle.flush()
        yield Spooled(handle, size, digest.hexdigest())


class Counted:
    """Passes an upload through, counting and hashing it (a VM Import upload streamed to S3)."""

    def __init__(self, data: Iterable[bytes]) -> None:
        self._data = data
        self._digest = hashlib.sha256()
        self.size = 0

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._data:
            self.size += len(chunk)
            self._digest.update(chunk)
            yield chunk

    @property
    def sha256(self) -> str:
        return self._digest.hexdigest()
