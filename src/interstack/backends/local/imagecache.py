"""Older revisions of a built image in the cache, removed once nothing can still use them.

A built image's cache entry is named by its revision (``debian-12.r3``; revision 1 was plain
``debian-12``), so code that changes the image builds a new entry beside the old ones, ~400 MB
each. Once the current entry is ready, an older entry of the same image goes when both hold:

- no mount of the host names it (in any mount namespace). A running instance booted from it
  keeps its root as the lower directory of its overlay until it stops; a stopped instance is
  unmounted and boots from the current revision next time, and Glance's built-in image is the
  current revision, so a mount is the one lasting use.
- nothing was handed it for :data:`KEEP_UNUSED_FOR`. Another gateway or test run of other code
  on this host (a cache is shared) may be about to mount it: each hand-out touches the entry's
  :data:`LAST_USED` marker, and an entry without one counts from when it was built.

When unsure (a mount table it cannot read, the build lock held by a builder, a cache it cannot
change), it keeps them. An entry is renamed to a hidden trash name first, under the image's
build lock, so that no half-removed entry ever looks complete, and its files go only if the
mount tables, read again after the rename, name neither the trash nor the entry it was (code
handing the entry out without the lock may have mounted it meanwhile); trash a crash or such a
mount left is removed at a later clean-up.
Entries of a newer revision (newer code sharing the cache) are never touched.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import re
import shutil
import time
from collections.abc import Collection, Iterable
from pathlib import Path

log = logging.getLogger(__name__)

#: the file in a cache entry whose time says when a root was last handed out
LAST_USED = ".last-used"
#: how long an older entry nobody was handed stays (other code sharing the cache may use it)
KEEP_UNUSED_FOR = 7 * 24 * 3600.0
_OCTAL = re.compile(r"\\([0-7]{3})")


def entry_revision(entry: Path, name: str) -> int | None:
    """The revision of the cache entry ``entry`` of image ``name``, or None if it is not one."""
    if entry.name == name:
        return 1
    prefix = f"{name}.r"
    digits = entry.name.removeprefix(prefix)
    if entry.name.startswith(prefix) and digits.isdigit():
        return int(digits)
    return None


def mark_used(entry: Path) -> None:
    """Record that the entry's root was handed out now (best effort: a read-only cache keeps
    its entries counted from their build)."""
    with contextlib.suppress(OSError):
        (entry / LAST_USED).touch()


def last_used(entry: Path) -> float:
    """When the entry's root was last handed out: its marker, else when it was built."""
    for path in (entry / LAST_USED, entry):
        try:
            return path.stat().st_mtime
        except OSError:
            continue
    return time.time()


def host_mounts(proc: Path = Path("/proc")) -> list[str] | None:
    """Every mount's line (octal escapes decoded) of this process's mount table and of every
    other table the host's processes show (another gateway may run in its own mount namespace;
    each distinct table read once), or None when this process's own cannot be read: then
    nothing counts as unused. A process whose table may not be read is skipped: a gateway of
    this host runs as root, and root here may read it."""
    try:
        tables = {(proc / "self/mountinfo").read_text(encoding="utf-8", errors="replace")}
    except OSError:
        return None
    for pid in (p for p in proc.iterdir() if p.name.isdigit()):
        try:
            tables.add((pid / "mountinfo").read_text(encoding="utf-8", errors="replace"))
        except OSError:
            continue  # ended meanwhile, or not ours to read
    return [_OCTAL.sub(_unescape, line) for table in tables for line in table.splitlines()]


def _unescape(match: re.Match[str]) -> str:
    return chr(int(match.group(1), 8))


def mounts_name(entry: Path, mounts: Iterable[str]) -> bool:
    """Whether a mount line names the entry or anything under it (a lower directory, a
    source, a mount point), by the path it was given or its resolved path."""
    paths = {str(entry), str(entry.resolve())}
    for line in mounts:
        for path in paths:
            at = line.find(path)
            while at >= 0:
                end = at + len(path)
                if end == len(line) or line[end] in "/:, \n":
                    return True
                at = line.find(path, end)
    return False


def removable_entries(
    cache_dir: Path,
    name: str,
    revision: int,
    mounts: Collection[str],
    *,
    now: float,
    keep_unused_for: float = KEEP_UNUSED_FOR,
) -> list[Path]:
    """The older entries of image ``name`` (below ``revision``) that no mount names and that
    nothing was handed for ``keep_unused_for`` seconds."""
    if not cache_dir.is_dir():
        return []
    found = []
    for entry in sorted(cache_dir.iterdir()):
        older = entry_revision(entry, name)
        if older is None or older >= revision or entry.is_symlink() or not entry.is_dir():
            continue
        if now - last_used(entry) < keep_unused_for or mounts_name(entry, mounts):
            continue
        found.append(entry)
    return found


def remove_old_revisions(cache_dir: Path, name: str, revision: int, lock_file: Path) -> None:
    """Remove the removable older entries of image ``name`` (see the module's docstring)
    unless a builder holds ``lock_file`` (then the next hand-out tries again). Best effort:
    a cache it cannot change keeps its entries, and the hand-out that asked goes on."""
    try:
        _remove_old_revisions(cache_dir, name, revision, lock_file)
    except OSError as exc:
        log.warning("kept the older revisions of image %s in %s: %s", name, cache_dir, exc)


def _trash_prefix(name: str) -> str:
    return f".{name}.trash-"


def _trashed_from(trash: Path, name: str) -> Path:
    """The entry a trash directory was (``.{name}.trash-{entry}-{pid}``), or for a staging
    directory itself."""
    if not trash.name.startswith(_trash_prefix(name)):
        return trash
    return trash.with_name(trash.name.removeprefix(_trash_prefix(name)).rsplit("-", 1)[0])


def staging_prefix(name: str) -> str:
    """The prefix of the directories where builders build image ``name`` before renaming it
    into place."""
    return f".{name}.build-"


def _remove_old_revisions(cache_dir: Path, name: str, revision: int, lock_file: Path) -> None:
    trash = sorted(cache_dir.glob(f"{_trash_prefix(name)}*"))
    trash += sorted(cache_dir.glob(f"{staging_prefix(name)}*"))  # killed builds' (see above)
    if not trash and not removable_entries(cache_dir, name, revision, (), now=time.time()):
        return  # nothing old enough: the mount tables are not read at every hand-out
    try:
        lock = open(lock_file, "a", encoding="utf-8")  # noqa: SIM115 - closed below
    except OSError:
        return
    with lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return
        try:
            mounts = host_mounts()
            if mounts is None:
                return
            removable = removable_entries(cache_dir, name, revision, mounts, now=time.time())
            for entry in removable:
                aside = cache_dir / f"{_trash_prefix(name)}{entry.name}-{os.getpid()}"
                os.replace(entry, aside)
                log.info("removing %s: an older revision of image %s nothing uses", entry, name)
                trash.append(aside)
            if removable:
                # other code hands entries out without the lock: a mount it made after the
                # tables were read names the entry by the path it had, and a rename does not
                # stop the mount from using it, whose files would go with the trash
                mounts = host_mounts()
                if mounts is None:
                    return
            for leftover in trash:
                was = _trashed_from(leftover, name)
                if not (mounts_name(leftover, mounts) or mounts_name(was, mounts)):
                    log.info("removing %s: left by an ended build or clean-up", leftover)
                    shutil.rmtree(leftover, ignore_errors=True)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
