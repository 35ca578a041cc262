"""Streaming bytes to and from files, for every backend that keeps data in files: written beside
the target and renamed into place, read back in chunks."""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Generator, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from interstack.backends.contract import ByteStream


@dataclass(frozen=True)
class Written:
    size: int
    md5: str
    sha256: str


def write_atomically(path: Path, data: Iterable[bytes]) -> Written:
    """Write chunks to ``path`` through a temporary file; nothing remains if ``data`` fails."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.part")
    md5, sha256, size = hashlib.md5(usedforsecurity=False), hashlib.sha256(), 0
    try:
        with tmp.open("wb") as out:
            for chunk in data:
                out.write(chunk)
                md5.update(chunk)
                sha256.update(chunk)
                size += len(chunk)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return Written(size=size, md5=md5.hexdigest(), sha256=sha256.hexdigest())


def _chunks(
    handle: BinaryIO, chunk_size: int, length: int | None = None
) -> Generator[bytes, None, None]:
    try:
        left = length
        while left is None or left > 0:
            chunk = handle.read(chunk_size if left is None else min(chunk_size, left))
            if not chunk:
                break
            if left is not None:
                left -= len(chunk)
            yield chunk
    finally:
        handle.close()


def open_stream(
    path: Path, chunk_size: int, offset: int = 0, length: int | None = None
) -> ByteStream:
    """Open ``path`` now (so a missing file raises here, not on first read) and stream it from
    ``offset`` (a seek, nothing before it is read), at most ``length`` bytes."""
    handle = path.open("rb")
    if offset:
        handle.seek(offset)
    return _chunks(handle, chunk_size, length)
