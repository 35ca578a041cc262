"""Sparse copies and hashes (backends/local/sparse.py): the bytes are the source's, the holes
stay holes, and the hash is the sha256 of every byte, holes read as zeroes."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from interstack.backends.local import sparse

MiB = 1024 * 1024


def sparse_file(path: Path, size: int, writes: dict[int, bytes]) -> Path:
    with path.open("wb") as handle:
        handle.truncate(size)
        for offset, data in writes.items():
            handle.seek(offset)
            handle.write(data)
    return path


@pytest.mark.parametrize(
    "writes",
    [
        {},
        {0: b"head"},
        {3 * MiB + 5: b"middle" * 1000, 40 * MiB: os.urandom(MiB + 7)},
        {64 * MiB - 3: b"end"},
    ],
    ids=["all-hole", "data-first", "data-between-holes", "data-last"],
)
def test_a_copy_holds_the_same_bytes_and_the_hash_is_sha256(
    tmp_path: Path, writes: dict[int, bytes]
) -> None:
    source = sparse_file(tmp_path / "source", 64 * MiB, writes)
    target = tmp_path / "target"

    sparse.copy_sparse(source, target)

    assert target.read_bytes() == source.read_bytes()
    expected = hashlib.sha256(source.read_bytes()).hexdigest()
    assert sparse.sha256_sparse(source) == (64 * MiB, expected)
    assert sparse.sha256_sparse(target) == (64 * MiB, expected)


def test_holes_stay_holes(tmp_path: Path) -> None:
    source = sparse_file(tmp_path / "source", 256 * MiB, {100 * MiB: os.urandom(MiB)})
    target = tmp_path / "target"

    sparse.copy_sparse(source, target)

    assert target.stat().st_size == 256 * MiB
    assert target.stat().st_blocks * 512 < 8 * MiB


def test_an_empty_file_copies_and_hashes(tmp_path: Path) -> None:
    source = sparse_file(tmp_path / "source", 0, {})
    sparse.copy_sparse(source, tmp_path / "target")
    assert (tmp_path / "target").read_bytes() == b""
    assert sparse.sha256_sparse(source) == (0, hashlib.sha256(b"").hexdigest())


def test_without_a_kernel_copy_the_data_is_read_and_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_kernel_copy(*_args: object) -> int:
        raise OSError(18, "Invalid cross-device link")

    monkeypatch.setattr(sparse, "_reflink", lambda _s, _t: False)
    monkeypatch.setattr(os, "copy_file_range", no_kernel_copy)
    source = sparse_file(tmp_path / "source", 8 * MiB, {MiB: os.urandom(3 * MiB + 1)})

    sparse.copy_sparse(source, tmp_path / "target")

    assert (tmp_path / "target").read_bytes() == source.read_bytes()
