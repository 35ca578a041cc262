"""What goes into a new volume's file: nothing, a copy of another file, or an image.

Every file is sparse (``truncate``; copies by :func:`.sparse.copy_sparse`, a reflink where the
filesystem has them), so an empty 10 GiB volume costs nothing on the host. An image is written
the way Cinder writes one, as the disk it describes: a raw disk's bytes as they are, a qcow2
disk converted to raw; a root-filesystem tarball (and the built-in ``debian-12``) becomes an
ext4 filesystem holding that root (``mkfs.ext4 -d``), so a volume made from any bootable image
holds a bootable root.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterable
from pathlib import Path

from interstack.backends.contract import NativeRef
from interstack.backends.local.host import run
from interstack.backends.local.imageformats import is_tarball
from interstack.backends.local.images import BUILTIN_PREFIX, LocalImages
from interstack.backends.local.sparse import copy_sparse
from interstack.backends.local.volumes.records import GiB
from interstack.errors import BackendError

QCOW2_MAGIC = b"QFI\xfb"


def empty(path: Path, size_gb: int) -> None:
    """A sparse file of ``size_gb`` GiB (all zeroes, no blocks)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as handle:
        handle.truncate(size_gb * GiB)


def grow(path: Path, size_gb: int) -> None:
    """Make ``path`` ``size_gb`` GiB long (sparse); refuses to shrink a fuller file."""
    size = size_gb * GiB
    current = path.stat().st_size
    if current > size:
        raise BackendError(
            f"the source holds {_gib(current)} GiB of data, more than the volume's {size_gb} GiB"
        )
    with path.open("r+b") as handle:
        handle.truncate(size)


def copy(source: Path, target: Path, size_gb: int) -> None:
    """A sparse (or reflinked) copy of ``source``, grown to ``size_gb`` GiB."""
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        copy_sparse(source, target)
    except OSError as exc:
        raise BackendError(f"copy the volume's data: {exc.strerror or exc}") from exc
    grow(target, size_gb)


def from_image(images: LocalImages, image: NativeRef, target: Path, size_gb: int) -> None:
    """Write the disk the image describes into ``target`` (see the module docstring)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if image.startswith(BUILTIN_PREFIX):
        with images.root_held(image) as root:
            _root_filesystem(root, target, size_gb)
        return
    stream = images.open_image(image)
    try:
        head = _write_sparse(stream, target)
    finally:
        stream.close()
    if head.startswith(QCOW2_MAGIC):
        raw = target.with_name(f".{target.name}.converted")
        try:
            run(
                ["qemu-img", "convert", "-f", "qcow2", "-O", "raw", str(target), str(raw)],
                what="convert the qcow2 image to raw",
            )
            os.replace(raw, target)
        finally:
            raw.unlink(missing_ok=True)
    elif is_tarball(head):
        target.unlink()
        with images.root_held(image) as root:  # a deletion of the image meanwhile keeps it
            _root_filesystem(root, target, size_gb)
        return
    grow(target, size_gb)


def _root_filesystem(root: Path, target: Path, size_gb: int) -> None:
    """An ext4 filesystem of ``size_gb`` GiB holding the tree at ``root`` (owners kept)."""
    empty(target, size_gb)
    done = subprocess.run(  # noqa: S603 - argument list, no shell
        ["mkfs.ext4", "-q", "-F", "-L", "root", "-d", str(root), str(target)],  # noqa: S607 - host tool from PATH
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        detail = done.stderr.decode(errors="replace").strip().splitlines()
        message = detail[-1] if detail else f"exit status {done.returncode}"
        raise BackendError(f"the image's root does not fit in {size_gb} GiB: {message}")


def _write_sparse(chunks: Iterable[bytes], target: Path) -> bytes:
    """Write the chunks, seeking over runs of zeroes; the first bytes written (for sniffing)."""
    head = b""
    with target.open("wb") as out:
        for chunk in chunks:
            if len(head) < 4096:
                head += chunk[: 4096 - len(head)]
            if chunk.count(0) == len(chunk):
                out.seek(len(chunk), os.SEEK_CUR)
            else:
                out.write(chunk)
        out.truncate(out.tell())
    return head


def _gib(size: int) -> str:
    return f"{size / GiB:.1f}"
