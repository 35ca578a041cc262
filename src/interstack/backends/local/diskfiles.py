"""Files the host writes into an instance's disk before a boot, where the guest is root.

The guest may have left a symbolic link anywhere in its disk: at ``/etc``, at
``/var/lib/cloud/seed/nocloud``, or at the name of the host's temporary file. A link the host
followed would send the write out of the disk onto the host's own files (the seed's user-data,
which the tenant chose, into ``/etc/cron.d``). So every path is walked one directory at a time
from the disk's root with ``O_NOFOLLOW``, and the file is made new (``O_EXCL``) beside its
target and renamed over it: a link at the target's own name is replaced, as a DHCP client
replaces a guest's ``/etc/resolv.conf``, and one on the way fails the boot with its path. The
host's reads of a running guest's tree (its readiness marker, through ``/proc/<pid>/root``) walk
the same way: a link the guest left there would resolve against the host's root.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

from interstack.errors import BackendError

_DIRECTORY = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
#: the disk itself: a path of the backend's (``/proc/<pid>/root`` is a link to follow)
_TOP = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC


def _parts(relative: str) -> tuple[str, ...]:
    path = PurePosixPath(relative)
    if path.is_absolute() or ".." in path.parts or not path.parts:
        raise BackendError(f"{relative!r} is not a plain path inside the instance's disk")
    return path.parts


@contextlib.contextmanager
def _directory(disk: Path, parts: tuple[str, ...], create: bool) -> Iterator[int | None]:
    """A descriptor of the directory ``parts`` under ``disk``, reached without following a
    link (made as needed with ``create``; None when it is missing and not made). The disk
    itself is the backend's (a first boot makes it)."""
    if create:
        disk.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(disk, _TOP)
    except FileNotFoundError:
        if create:
            raise
        yield None
        return
    try:
        for depth, part in enumerate(parts):
            if create:
                with contextlib.suppress(FileExistsError):
                    os.mkdir(part, 0o755, dir_fd=fd)
            try:
                inner = os.open(part, _DIRECTORY, dir_fd=fd)
            except FileNotFoundError:
                if create:
                    raise
                yield None
                return
            except OSError as exc:
                if exc.errno not in (errno.ELOOP, errno.ENOTDIR):
                    raise
                where = "/" + "/".join(parts[: depth + 1])
                raise BackendError(
                    f"the instance's disk has a symbolic link or a file at {where}, where the "
                    "host writes the guest's settings into a directory"
                ) from exc
            os.close(fd)
            fd = inner
        yield fd
    finally:
        os.close(fd)


def write_into(disk: Path, relative: str, data: bytes, mode: int = 0o644) -> None:
    """Replace ``relative`` inside ``disk`` whole (a reader sees the old or the new file)."""
    *parents, name = _parts(relative)
    temporary = f".{name}.interstack"
    with _directory(disk, tuple(parents), create=True) as fd:
        assert fd is not None
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary, dir_fd=fd)  # a link left there goes, never its target
        out = os.open(
            temporary,
            os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
            mode,
            dir_fd=fd,
        )
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(out, view) :]
            os.fchmod(out, mode)
        finally:
            os.close(out)
        os.replace(temporary, name, src_dir_fd=fd, dst_dir_fd=fd)


def begins_with(disk: Path, relative: str, prefix: bytes) -> bool:
    """Whether ``relative`` inside ``disk`` is a regular file that begins with ``prefix`` (a
    link, a pipe or a missing file does not)."""
    *parents, name = _parts(relative)
    with _directory(disk, tuple(parents), create=False) as fd:
        if fd is None:
            return False
        try:
            file = os.open(
                name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=fd
            )
        except OSError:
            return False
        try:
            return stat.S_ISREG(os.fstat(file).st_mode) and os.read(file, len(prefix)) == prefix
        finally:
            os.close(file)


def holds_file(root: Path, relative: str) -> bool:
    """Whether ``relative`` inside ``root`` is a regular file, no link followed inside
    ``root``; False as well for a link, a missing root or a root that cannot be read."""
    try:
        return begins_with(root, relative, b"")
    except (BackendError, OSError):
        return False


def remove_from(disk: Path, relative: str) -> None:
    """Remove ``relative`` inside ``disk`` (a directory with what it holds; a link, not what
    it leads to); a missing one is fine."""
    *parents, name = _parts(relative)
    with _directory(disk, tuple(parents), create=False) as fd:
        if fd is None:
            return
        try:
            os.unlink(name, dir_fd=fd)
        except FileNotFoundError:
            return
        except IsADirectoryError:
            shutil.rmtree(name, dir_fd=fd)
        except PermissionError:  # Linux answers EISDIR, POSIX allows EPERM for a directory
            shutil.rmtree(name, dir_fd=fd)


def copy_into(source: Path, disk: Path, relative: str) -> None:
    """Copy the host directory ``source`` (the backend's own files) to ``relative`` inside
    ``disk``, directories 0755 and files with their modes."""
    for top, _, files in os.walk(source):
        below = Path(top).relative_to(source)
        for name in files:
            path = Path(top) / name
            target = PurePosixPath(relative, *below.parts, name)
            write_into(disk, str(target), path.read_bytes(), path.stat().st_mode & 0o777)
