"""Copying and hashing sparse files (volumes, raw disk images) without touching their holes.

A copy is a reflink where the filesystem has them (``FICLONE``: btrfs, xfs; nothing is read or
written, the blocks are shared until one side writes), else each data extent the source holds
(``SEEK_DATA``/``SEEK_HOLE``) goes through ``copy_file_range``: the kernel copies it without
bringing it through this process, and the holes stay holes. A hash reads the data extents only
and counts each hole as the zeroes it reads as; a 10 GiB volume holding 1 GiB reads 1 GiB.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

#: ``FICLONE`` from linux/fs.h: make the target share all of the source's blocks
FICLONE = 0x40049409
CHUNK = 1024 * 1024
_ZEROES = bytes(CHUNK)
#: errors saying "this filesystem (or pair of them) cannot do that", not "the copy failed"
_UNSUPPORTED = frozenset(
    {errno.EOPNOTSUPP, errno.ENOTTY, errno.EXDEV, errno.EINVAL, errno.ENOSYS, errno.EBADF}
)


class _Digest(Protocol):
    def update(self, data: bytes, /) -> None: ...


def data_extents(fd: int, size: int) -> Iterator[tuple[int, int]]:
    """(start, end) of each run of data in the open file, in order; holes are left out."""
    offset = 0
    while offset < size:
        try:
            start = os.lseek(fd, offset, os.SEEK_DATA)
        except OSError as exc:
            if exc.errno == errno.ENXIO:  # only a hole is left
                return
            raise
        end = min(os.lseek(fd, start, os.SEEK_HOLE), size)
        yield start, end
        offset = end


def _reflink(source: int, target: int) -> bool:
    try:
        fcntl.ioctl(target, FICLONE, source)
    except OSError as exc:
        if exc.errno in _UNSUPPORTED:
            return False
        raise
    return True


def _copy_range(source: int, target: int, start: int, end: int) -> None:
    """Copy ``[start, end)`` to the same offsets, in the kernel where it can."""
    offset = start
    while offset < end:
        try:
            copied = os.copy_file_range(source, target, end - offset, offset, offset)
        except OSError as exc:
            if exc.errno not in _UNSUPPORTED:
                raise
            copied = 0
        if copied == 0:  # no kernel copy here (or the source shrank): read and write it
            chunk = os.pread(source, min(CHUNK, end - offset), offset)
            if not chunk:
                return
            os.pwrite(target, chunk, offset)
            copied = len(chunk)
        offset += copied


def copy_sparse(source: Path, target: Path) -> None:
    """``target`` (created or truncated) becomes a copy of ``source`` whose holes stay holes:
    a reflink where the filesystem has them, else the data extents copied by the kernel."""
    with source.open("rb") as src, target.open("wb") as dst:
        if _reflink(src.fileno(), dst.fileno()):
            return
        size = os.fstat(src.fileno()).st_size
        for start, end in data_extents(src.fileno(), size):
            _copy_range(src.fileno(), dst.fileno(), start, end)
        dst.truncate(size)


def sha256_sparse(path: Path) -> tuple[int, str]:
    """(size, sha256) of the file, reading its data extents only (a hole hashes as zeroes)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        fd = handle.fileno()
        size = os.fstat(fd).st_size
        hashed = 0
        for start, end in data_extents(fd, size):
            _hash_zeroes(digest, start - hashed)
            offset = start
            while offset < end:
                chunk = os.pread(fd, min(CHUNK, end - offset), offset)
                if not chunk:
                    raise OSError(errno.EIO, f"{path} shrank while it was hashed")
                digest.update(chunk)
                offset += len(chunk)
            hashed = end
        _hash_zeroes(digest, size - hashed)
    return size, digest.hexdigest()


def _hash_zeroes(digest: _Digest, count: int) -> None:
    while count > 0:
        step = min(count, CHUNK)
        digest.update(_ZEROES[:step] if step < CHUNK else _ZEROES)
        count -= step
