"""An instance's console log: appended to by the instance itself, kept to a bounded size.

runc hands the instance the log file as its stdout and stderr (opened ``O_APPEND`` by the
supervisor), so the guest writes to it directly and nothing sits in between that could stall or
break its output. The size is bounded from outside instead: once a log passes its cap, its
oldest bytes go, and about half the cap stays (so trimming is rare, not on every write).

Trimming collapses the head of the file in place (``fallocate`` with
``FALLOC_FL_COLLAPSE_RANGE``, whole blocks, on ext4 and xfs): the kernel does it under the
inode's lock, so an append racing with it is never lost. Where the filesystem cannot collapse
(tmpfs, for one), the tail is copied to the front and the file truncated after it; a line the
instance writes during that copy may be lost, as with logrotate's ``copytruncate``.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
from pathlib import Path

#: the default cap of a console log (``console_log_max_bytes``)
DEFAULT_MAX_BYTES = 4 * 1024 * 1024
#: the log's name in an instance's directory
LOG_NAME = "console.log"
FALLOC_FL_COLLAPSE_RANGE = 0x08

_libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
_libc.fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64]


def trim(path: Path, max_bytes: int) -> bool:
    """Keep ``path`` at most ``max_bytes`` long: past that, drop its head so that about half
    of ``max_bytes`` (its newest output) stays. Whether it trimmed; a missing file is fine."""
    try:
        fd = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        return False
    try:
        size = os.fstat(fd).st_size
        if size <= max_bytes:
            return False
        cut = size - max_bytes // 2
        if not _collapse(fd, cut):
            _copy_tail(fd, cut)
        return True
    finally:
        os.close(fd)


def _collapse(fd: int, cut: int) -> bool:
    """Remove the first ``cut`` bytes, rounded down to whole blocks, in place; False where the
    filesystem cannot (then nothing changed)."""
    block = os.fstatvfs(fd).f_bsize or 4096
    length = cut - cut % block
    if length <= 0:
        return False
    if _libc.fallocate(fd, FALLOC_FL_COLLAPSE_RANGE, 0, length) == 0:
        return True
    code = ctypes.get_errno()
    if code in {errno.EOPNOTSUPP, errno.EINVAL, errno.ENOSYS, errno.EPERM}:
        return False
    raise OSError(code, f"collapsing the head of a console log: {os.strerror(code)}")


def _copy_tail(fd: int, cut: int) -> None:
    os.lseek(fd, cut, os.SEEK_SET)
    tail = b""
    while chunk := os.read(fd, 1 << 20):
        tail += chunk
    os.ftruncate(fd, 0)
    os.pwrite(fd, tail, 0)


def trim_all(instances_dir: Path, max_bytes: int) -> None:
    """Trim the console log of every instance under ``instances_dir``."""
    for log in instances_dir.glob(f"*/{LOG_NAME}"):
        trim(log, max_bytes)


def last_lines(path: Path, length: int | None) -> str:
    """The log's last ``length`` lines (all when ``None``, none for 0 or less), each ending in
    a newline (the oldest line of a trimmed log may start mid-line)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return ""
    lines = data.decode(errors="replace").splitlines()
    if length is not None:
        lines = lines[-length:] if length > 0 else []
    return "".join(f"{line}\n" for line in lines)
