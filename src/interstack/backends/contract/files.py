"""Streaming bytes to and from files, for every backend that keeps data in files: written beside
the target and renamed into place, read back in chunks.

A write holds an ``flock`` on its file from before its first byte (the temporary one, then the
target it becomes) until it ends, or longer (:func:`writing`): the lock tells another process
on the same directory (a gateway's start, :func:`being_written`) a live writer's file from what
a writer killed midway left, which nothing else ever removes.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import uuid
from collections.abc import Generator, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from interstack.backends.contract import ByteStream

#: how a temporary file of a write ends (``.<target's name>.<random>.part``)
PART_SUFFIX = ".part"


@dataclass(frozen=True)
class Written:
    size: int
    md5: str
    sha256: str


def write_atomically(path: Path, data: Iterable[bytes]) -> Written:
    """Write chunks to ``path`` through a temporary file; nothing remains if ``data`` fails."""
    with writing(path, data) as written:
        return written


@contextmanager
def writing(path: Path, data: Iterable[bytes]) -> Iterator[Written]:
    """:func:`write_atomically`, its file's ``flock`` held until the block ends (the caller
    points its index at the file meanwhile): until then :func:`being_written` says so."""
    path.parent.mkdir(parents=True, exist_ok=True)
    out, tmp = _locked_part(path)
    md5, sha256, size = hashlib.md5(usedforsecurity=False), hashlib.sha256(), 0
    with out:
        try:
            for chunk in data:
                out.write(chunk)
                md5.update(chunk)
                sha256.update(chunk)
                size += len(chunk)
            out.flush()
            os.fsync(out.fileno())
            os.replace(tmp, path)  # the flock goes with the file: it is the target's now
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        yield Written(size=size, md5=md5.hexdigest(), sha256=sha256.hexdigest())


def _locked_part(path: Path) -> tuple[BinaryIO, Path]:
    """A new temporary file for ``path``, its ``flock`` held. One removed before it was
    locked (a sweep saw it unlocked) is made again: the write would go nowhere."""
    while True:
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}{PART_SUFFIX}")
        out = tmp.open("xb")
        try:
            fcntl.flock(out.fileno(), fcntl.LOCK_EX)
            if os.fstat(out.fileno()).st_nlink > 0:
                return out, tmp
        except BaseException:
            out.close()
            tmp.unlink(missing_ok=True)
            raise
        out.close()


def being_written(path: Path) -> bool:
    """Whether a live writer (of this process or another) holds ``path``'s ``flock``
    (:func:`writing`); False for a file no write holds (done, or its writer killed) or none.
    Looked at without waiting."""
    with _locked_if_free(path) as free:
        return free is False


def remove_unless_written(path: Path) -> bool:
    """Remove ``path`` unless a live writer holds it (:func:`being_written`); whether it was
    removed. Removed with its ``flock`` held: a writer that took the lock between a look and
    the removal would write on in a file no longer there, where :func:`_locked_part`, once it
    has the lock, finds the file removed and makes another."""
    with _locked_if_free(path) as free:
        if free:
            path.unlink(missing_ok=True)
        return bool(free)


@contextmanager
def _locked_if_free(path: Path) -> Iterator[bool | None]:
    """``path``'s ``flock`` taken without waiting and held while the block runs (True); False
    if a writer holds it, None without the file."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        yield None
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)


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
