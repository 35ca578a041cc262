"""An upload's bytes on their way to AWS: passed through, counted and hashed (VM Import's S3
copy, and a raw upload whose length the client declared), or spooled to a temporary file (a
raw upload of unknown length: an EBS snapshot's size is fixed when it starts).

The spool is an unnamed file in the region's data directory (not the system's temporary
directory, often memory): nothing is left of it however the upload ends, even if the gateway
dies. It is bounded by Glance's ``image_size_cap`` (the services layer counts the bytes as
they come) and by the room on that disk: a spool that runs out of room is Glance's 413."""

from __future__ import annotations

import errno
import hashlib
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from interstack.errors import NotSupported, PayloadTooLarge

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


#: a write that failed for want of room (the disk, the process's file size limit, a quota)
_NO_ROOM = {errno.ENOSPC, errno.EFBIG, errno.EDQUOT}


@contextmanager
def spooled(data: Iterable[bytes], directory: Path | None = None) -> Iterator[Spooled]:
    """The upload in an unnamed temporary file in ``directory`` (the system's temporary
    directory if None), gone afterwards whatever happens."""
    with tempfile.TemporaryFile(prefix="interstack-upload-", dir=directory) as handle:
        size, sha256 = _spool(data, handle)
        yield Spooled(handle, size, sha256)


def _spool(data: Iterable[bytes], handle: IO[bytes]) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    try:
        for chunk in data:
            handle.write(chunk)
            digest.update(chunk)
            size += len(chunk)
        handle.flush()
    except OSError as exc:
        if exc.errno not in _NO_ROOM:
            raise
        raise PayloadTooLarge(
            f"Image storage media is full: the gateway has no room to hold the {size} bytes "
            "received so far of an upload sent without a Content-Length; send the image with "
            "its Content-Length (it then goes to EC2 as it comes, without a copy)."
        ) from exc
    return size, digest.hexdigest()


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


def refuse_empty(region: str, size: int) -> None:
    """``NotSupported`` for an upload of no bytes: an empty image cannot become an AMI."""
    if size == 0:
        raise NotSupported(f"region {region}: an empty image cannot become an AMI")
