"""What a Glance image's bytes hold, and the root directory an instance boots made of them.

A root-filesystem tarball (plain or compressed) is unpacked; a raw disk (whole-disk ext4, or
partitioned, MBR or GPT) has its ext4 root copied out through a read-only loop mount at the
partition's offset; qcow2 is converted to raw first with ``qemu-img``. Anything else, or a tree
without ``/sbin/init`` and ``/bin/sh``, is :class:`ImageUnusable`.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Generator
from pathlib import Path

from interstack.backends.local.host import last_line, run
from interstack.errors import BackendError

CHUNK = 1024 * 1024
EXT_MAGIC_OFFSET = 1080
SECTOR = 512
_COMPRESSED_MAGIC = (b"\x1f\x8b", b"\xfd7zXZ\x00", b"\x28\xb5\x2f\xfd", b"BZh")
#: where a qcow2 image is converted to raw, beside the root being unpacked
CONVERTED_RAW = ".converted.raw"
#: the prefix of the mount point of a raw disk's root being copied out
MOUNT_PREFIX = ".mnt-"


class ImageUnusable(BackendError):
    """The image holds no root filesystem an instance can boot."""


def exists_in_root(root: Path, path: str, hops: int = 40) -> bool:
    """Whether ``path`` exists inside ``root``, following symlinks as the instance would
    (an absolute link target is relative to ``root``, never the host's ``/``)."""
    parts = [p for p in path.split("/") if p]
    current = root
    while parts and hops > 0:
        candidate = current / parts.pop(0)
        if candidate.is_symlink():
            hops -= 1
            target = os.readlink(candidate)
            base = root if target.startswith("/") else current
            parts = [p for p in target.split("/") if p] + parts
            current = base
            continue
        if not os.path.lexists(candidate):
            return False
        current = candidate
    return not parts and os.path.lexists(current)


def is_tarball(head: bytes) -> bool:
    """Whether data starting with ``head`` is a tarball (plain, or compressed: taken for one)."""
    return head[257:262] == b"ustar" or head.startswith(_COMPRESSED_MAGIC)


def read_head(path: Path, size: int = 4096) -> bytes:
    with path.open("rb") as handle:
        return handle.read(size)


def _ext_at(path: Path, offset: int) -> bool:
    with path.open("rb") as handle:
        handle.seek(offset + EXT_MAGIC_OFFSET)
        return handle.read(2) == b"\x53\xef"


def _partition_offsets(disk: Path) -> list[tuple[int, int]]:
    """(offset, size) in bytes of each partition of a raw disk, from its GPT or MBR."""
    with disk.open("rb") as handle:
        head = handle.read(2 * SECTOR)
        if head[SECTOR : SECTOR + 8] == b"EFI PART":
            header = head[SECTOR:]
            first_lba = int.from_bytes(header[72:80], "little")
            count = int.from_bytes(header[80:84], "little")
            entry_size = int.from_bytes(header[84:88], "little")
            handle.seek(first_lba * SECTOR)
            table = handle.read(min(count, 256) * entry_size)
            found = []
            for index in range(len(table) // max(entry_size, 1)):
                entry = table[index * entry_size : (index + 1) * entry_size]
                if entry[:16] != bytes(16):  # an unused entry has a zero type GUID
                    start = int.from_bytes(entry[32:40], "little")
                    end = int.from_bytes(entry[40:48], "little")
                    found.append((start * SECTOR, (end - start + 1) * SECTOR))
            return found
    if head[510:512] != b"\x55\xaa":
        return []
    found = []
    for index in range(4):
        entry = head[446 + 16 * index : 446 + 16 * (index + 1)]
        start = int.from_bytes(entry[8:12], "little")
        sectors = int.from_bytes(entry[12:16], "little")
        if entry[4] != 0 and sectors > 0:
            found.append((start * SECTOR, sectors * SECTOR))
    return found


def _copy_ext_root(disk: Path, offset: int, size: int | None, root: Path) -> None:
    options = f"ro,loop,offset={offset}" + (f",sizelimit={size}" if size else "")
    with tempfile.TemporaryDirectory(dir=root.parent, prefix=MOUNT_PREFIX) as mnt:
        run(["mount", "-t", "ext4", "-o", options, str(disk), mnt], what="mount the image's disk")
        try:
            run(["cp", "-a", "--one-file-system", f"{mnt}/.", str(root)], what="copy the image")
        finally:
            run(["umount", mnt], what="unmount the image's disk")


def ext4_extent(disk: Path) -> tuple[int, int | None]:
    """(offset, size) of the ext4 root filesystem of a raw disk: the whole disk (size None), else
    its first ext4 partition. Raises ``ImageUnusable`` if it has none."""
    if _ext_at(disk, 0):
        return 0, None
    for offset, size in _partition_offsets(disk):
        if _ext_at(disk, offset):
            return offset, size
    raise ImageUnusable("the disk image has no ext4 root filesystem")


def _unpack_disk(disk: Path, root: Path) -> None:
    offset, size = ext4_extent(disk)
    _copy_ext_root(disk, offset, size, root)


def unpack(data: Path, root: Path) -> None:
    """Make ``root`` (an empty directory) hold the root filesystem in ``data``."""
    head = read_head(data, 4096)
    if is_tarball(head):
        done = subprocess.run(  # noqa: S603 - argument list, no shell
            ["tar", "-xf", str(data), "-C", str(root), "--numeric-owner", "--xattrs"],  # noqa: S607 - host tool from PATH
            capture_output=True,
            check=False,
        )
        if done.returncode != 0:
            detail = last_line(done.stderr.decode(errors="replace"))
            raise ImageUnusable(f"the image is not a usable root filesystem tarball ({detail})")
    elif head.startswith(b"QFI\xfb"):
        raw = root.parent / CONVERTED_RAW
        try:
            run(
                ["qemu-img", "convert", "-f", "qcow2", "-O", "raw", str(data), str(raw)],
                what="convert the qcow2 image",
            )
            _unpack_disk(raw, root)
        finally:
            raw.unlink(missing_ok=True)
    elif len(head) >= 2 * SECTOR and (_ext_at(data, 0) or _partition_offsets(data)):
        _unpack_disk(data, root)
    else:
        raise ImageUnusable(
            "the image is neither a root filesystem tarball nor a raw or qcow2 disk "
            "with an ext4 root"
        )
    missing = [p for p in ("/sbin/init", "/bin/sh") if not exists_in_root(root, p)]
    if missing:
        raise ImageUnusable(f"the image's root filesystem has no {' and no '.join(missing)}")


def tar_stream(root: Path) -> Generator[bytes, None, None]:
    """The tree at ``root`` as a tarball (what :func:`unpack` takes back), streamed; a tar that
    fails raises ``BackendError`` at the end rather than passing for a complete stream."""
    with tempfile.TemporaryFile() as errors:
        proc = subprocess.Popen(  # noqa: S603 - argument list, no shell
            ["tar", "-C", str(root), "--numeric-owner", "--xattrs", "-c", "."],  # noqa: S607 - host tool from PATH
            stdout=subprocess.PIPE,
            stderr=errors,
        )
        assert proc.stdout is not None
        try:
            while chunk := proc.stdout.read(CHUNK):
                yield chunk
            if proc.wait() != 0:
                errors.seek(0)
                detail = last_line(errors.read().decode(errors="replace"))
                raise BackendError(f"archive the root filesystem: {detail or 'tar failed'}")
        finally:
            proc.stdout.close()
            proc.kill()
            proc.wait()
