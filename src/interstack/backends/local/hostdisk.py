"""The data dir's file system, allotted as OpenStack's schedulers allot their hosts' disks.

Every disk this backend makes is sparse: a server's root layer (an overlay's upper directory,
which may grow to its flavor's disk and beyond), its ephemeral and swap disks, volumes and
their snapshots take only what is written to them. So nothing stops a tenant within its quota
from asking for more than the file system holds, and once the guests write it, every write of
every instance and volume fails at once. Here, as in OpenStack, a request is placed only where
it fits what is allotted already, and refused before anything of it exists otherwise:

- a server (its root disk at the flavor's size unless it boots from a volume, plus its
  ephemeral and swap disks, :attr:`.instance_record.InstanceRecord.disk_mb`) as Nova's
  placement places it: everything allotted plus the request within the file system's size
  times ``disk_allocation_ratio`` (Nova's default 1.0: no overcommit). Refused, it goes to
  ``ERROR`` with the fault Nova's scheduler gives, :data:`NO_VALID_HOST`;
- a volume as Cinder's capacity filter places a thin one: everything allotted plus the
  request within the size times ``max_over_subscription_ratio`` (Cinder's default 20.0), and
  the request within the free space times the same. Refused, it goes to ``error``
  (:data:`NO_VALID_BACKEND`);
- an image's data (an upload, a volume or a server captured as an image) as a server is, for
  its bytes are real, not sparse: everything allotted plus the bytes within the size times
  ``disk_allocation_ratio``, and the bytes within the free space (less what other images on
  their way hold and have not written yet). They are placed a step ahead of each write as they
  arrive (:class:`Reservation`). Refused, the write stops and what it
  wrote goes, with Glance's words for a full store, :data:`STORAGE_FULL` (413). An image's
  root, unpacked at its first boot, counts from then on as measured (its unpack itself is not
  placed: how much a tarball or a disk image unpacks to is known only once it has).

One file system holds all of them, so each counts what all allot (a host whose volumes filled
it places no server). A snapshot (a sparse copy as large as its volume) is placed as a volume
is, as Cinder's scheduler places snapshots too, and goes to ``error`` where it does not fit.
The operator sees why in the log; the tenant sees only OpenStack's words, as there (the
host's size is not the tenant's business).

The look and the record of what it placed are one step for every gateway process on the data
dir: :meth:`HostDisk.server_placed` and :meth:`HostDisk.volume_placed` hold a file lock in
the data dir while the caller writes the record, so two creates at once never both fit into
the room of one; an image's room on its way is a file in the data dir, counted while its
writer holds it (:meth:`HostDisk.reserved`).
"""

from __future__ import annotations

import logging
import math
import os
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

from interstack.backends.contract import NO_VALID_BACKEND, NO_VALID_HOST
from interstack.backends.local import hostlock
from interstack.backends.local.hostlock import DirectoryLock
from interstack.errors import BackendError, PayloadTooLarge

log = logging.getLogger(__name__)

#: in the data dir: the file the allotments' lock is taken on
LOCK_NAME = "disk-allotments.lock"
#: in the data dir: the room reserved for images being written, a file each (:class:`Reservation`)
RESERVATIONS = "disk-reservations"
MiB = 1024 * 1024
#: Glance's answer (413) when its store has no room for an image's data, with the words of its
#: file system store
STORAGE_FULL = (
    "Image storage media is full: There is not enough disk space on the image storage media."
)


def mb_of(size: int) -> int:
    """``size`` bytes in whole MiB, rounded up."""
    return math.ceil(size / MiB)


@dataclass(frozen=True)
class Room:
    """The file system under the data dir, in MiB."""

    size_mb: int
    free_mb: int

    @classmethod
    def of(cls, path: Path) -> Room:
        found = os.statvfs(path)
        return cls(
            size_mb=found.f_blocks * found.f_frsize // MiB,
            free_mb=found.f_bavail * found.f_frsize // MiB,
        )


class HostDisk:
    """What the data dir's file system has allotted, and whether one more request fits."""

    def __init__(
        self,
        data_dir: Path,
        *,
        disk_allocation_ratio: float,
        max_over_subscription_ratio: float,
        measure: Callable[[Path], Room] = Room.of,
        capacity_mb: int | None = None,
    ) -> None:
        self.data_dir = data_dir
        #: the file system's room now (statvfs)
        self.measure = measure
        self.disk_allocation_ratio = disk_allocation_ratio
        self.max_over_subscription_ratio = max_over_subscription_ratio
        #: the most of the file system counted on (its size and its free space), if set
        self.capacity_mb = capacity_mb
        self._lock = DirectoryLock(data_dir, LOCK_NAME)
        #: what each kind of disk allots now, in MiB (the compute driver's servers, the block
        #: storage driver's volumes and snapshots), set by the backend
        self.allotments: list[Callable[[], int]] = []
        #: the reservations' files, read again only when one changed (a writer's growth)
        self._reservation_files = ReadWhenChanged(_reservation_of)

    def room(self) -> Room:
        """The file system's room now, no more than :attr:`capacity_mb` of it."""
        found = self.measure(self.data_dir)
        if self.capacity_mb is None:
            return found
        return Room(min(found.size_mb, self.capacity_mb), min(found.free_mb, self.capacity_mb))

    def allotted_mb(self) -> int:
        """What the disks allot, and the room images on their way hold (called with the lock
        held)."""
        return self._disks_mb() + sum(held for held, _ in self._reservations())

    def _disks_mb(self) -> int:
        return sum(allotted() for allotted in self.allotments)

    def _reservations(self, own: Reservation | None = None) -> list[tuple[int, int]]:
        """The room held for each image being written and how much of it its writer had
        written at its last growth, in MiB (``own``'s as it knows it, the others' files read
        again only once they changed); a reservation its writer no longer holds (a gateway
        killed mid-write) goes (called with the lock held: none is made meanwhile)."""
        directory = self.data_dir / RESERVATIONS
        held = []
        for path in directory.iterdir() if directory.is_dir() else ():
            if own is not None and path == own.path:
                continue
            if not hostlock.taken(directory, path.name):
                path.unlink(missing_ok=True)
                continue
            held.append(path)
        found = [room for room in self._reservation_files.values(held) if room is not None]
        return found if own is None else [*found, (own.mb, own.written_mb)]

    @contextmanager
    def reserved(self, what: str) -> Iterator[Reservation]:
        """Room for an image's bytes as they are written (none at first: the caller grows it
        ahead of its writes), held until the block ends, when the written file counts in its
        stead."""
        directory = self.data_dir / RESERVATIONS
        name = uuid.uuid4().hex
        with ExitStack() as holding:
            with self._lock:  # no count runs between the file's making and its lock
                directory.mkdir(exist_ok=True)
                holding.enter_context(hostlock.held_shared(directory, name))
            try:
                yield Reservation(self, what, directory / name)
            finally:
                (directory / name).unlink(missing_ok=True)  # before its lock goes

    def grow(self, reservation: Reservation, size_mb: int, *, last_try: bool = True) -> None:
        """Place ``size_mb`` more of an image's bytes, as a server's disk is placed and within
        the free space (they are real bytes) less what every writer holds and has not written
        yet; ``PayloadTooLarge`` (:data:`STORAGE_FULL`) if they do not fit."""
        with self._lock:
            reservation.path.write_text(f"{reservation.mb} {reservation.written_mb}")
            room = self.room()
            reservations = self._reservations(reservation)
            allotted = self._disks_mb() + sum(held for held, _ in reservations)
            # the free space has yet to see what every writer holds and has not written
            unwritten = sum(held - written for held, written in reservations)
            ratio = self.disk_allocation_ratio
            if allotted + size_mb > room.size_mb * ratio or unwritten + size_mb > room.free_mb:
                if last_try:
                    self._refused(
                        reservation.what, size_mb, allotted, room, "disk_allocation_ratio", ratio
                    )
                raise PayloadTooLarge(STORAGE_FULL)
            reservation.mb += size_mb
            reservation.path.write_text(f"{reservation.mb} {reservation.written_mb}")

    @contextmanager
    def server_placed(self, what: str, size_mb: int) -> Iterator[None]:
        """Hold the allotments still while the block records a server of ``size_mb``; raises
        ``BackendError`` (:data:`NO_VALID_HOST`) first if it does not fit."""
        with self._lock:
            room = self.room()
            allotted = self.allotted_mb()
            ratio = self.disk_allocation_ratio
            if size_mb > 0 and allotted + size_mb > room.size_mb * ratio:
                self._refused(what, size_mb, allotted, room, "disk_allocation_ratio", ratio)
                raise BackendError(NO_VALID_HOST)
            yield

    @contextmanager
    def volume_placed(self, what: str, size_mb: int) -> Iterator[None]:
        """Hold the allotments still while the block records a volume of ``size_mb``; raises
        ``BackendError`` (:data:`NO_VALID_BACKEND`) first if it does not fit."""
        with self._lock:
            room = self.room()
            allotted = self.allotted_mb()
            ratio = self.max_over_subscription_ratio
            if allotted + size_mb > room.size_mb * ratio or size_mb > room.free_mb * ratio:
                self._refused(what, size_mb, allotted, room, "max_over_subscription_ratio", ratio)
                raise BackendError(NO_VALID_BACKEND)
            yield

    def _refused(
        self, what: str, size_mb: int, allotted: int, room: Room, setting: str, ratio: float
    ) -> None:
        log.warning(
            "%s refused: it asks %d MiB of the data dir's file system (%s), which has %d MiB "
            "allotted of %d MiB (%d MiB free) at %s %g",
            what,
            size_mb,
            self.data_dir,
            allotted,
            room.size_mb,
            room.free_mb,
            setting,
            ratio,
        )


def _reservation_of(path: Path) -> tuple[int, int] | None:
    """A reservation's file read: (MiB held, MiB its writer had written); None if it cannot be
    (gone meanwhile)."""
    try:
        held, _, written = path.read_text().partition(" ")
        return int(held or 0), int(written or 0)
    except (OSError, ValueError):
        return None


class Reservation:
    """The room :meth:`HostDisk.reserved` holds for one image's bytes, in MiB."""

    def __init__(self, disk: HostDisk, what: str, path: Path) -> None:
        self.disk = disk
        self.what = what
        self.path = path
        self.mb = 0
        #: what the writer had written at its last :meth:`cover`, in whole MiB, rounded down
        self.written_mb = 0
        self._covered = 0

    def grow(self, size_mb: int, *, last_try: bool = True) -> None:
        """Hold ``size_mb`` more (:meth:`HostDisk.grow`)."""
        self.disk.grow(self, size_mb, last_try=last_try)

    def cover(self, written: int) -> None:
        """Hold at least ``written`` bytes, a step of :data:`STEP_MB` ahead where that fits:
        called before each write with the bytes it brings the file to."""
        self.written_mb, self._covered = self._covered // MiB, written
        needed = mb_of(written) - self.mb
        if needed <= 0:
            return
        if needed < STEP_MB:
            try:
                self.grow(STEP_MB, last_try=False)
                return
            except PayloadTooLarge:
                pass  # a step does not fit: what the write needs may
        self.grow(needed)


#: how much more an image's reservation grows when its bytes pass what it holds
STEP_MB = 64


#: a record written this recently is read again whatever its stat says: two writes within one
#: tick of the file system's clock may leave the same (inode, times, size) to a new content
RECENT_NS = 2_000_000_000


#: what a file holds, as its reader gives it
Value = TypeVar("Value")


class ReadWhenChanged(Generic[Value]):
    """What each file holds, read again only when its file changed: a changed file has another
    inode, times or size. One read while it was recent (:data:`RECENT_NS`) is read again at
    the next look too, however old it is by then: a write in the same clock tick after that
    read may have left the same stat to another content (an inode a rename freed, reused; a
    file written again in place at the same size). ``read`` gives what a file holds."""

    def __init__(self, read: Callable[[Path], Value]) -> None:
        self._read = read
        #: per file, the stat it was read at (None: read while recent, not trusted)
        self._known: dict[Path, tuple[tuple[int, int, int, int] | None, Value]] = {}

    def values(self, paths: Iterable[Path]) -> list[Value]:
        """What the files at ``paths`` hold (those gone left out); what was known of files
        not in ``paths`` is forgotten."""
        recent = time.time_ns() - RECENT_NS
        known: dict[Path, tuple[tuple[int, int, int, int] | None, Value]] = {}
        for path in paths:
            try:
                found = path.stat()
            except FileNotFoundError:
                continue
            key = (found.st_ino, found.st_mtime_ns, found.st_ctime_ns, found.st_size)
            seen = self._known.get(path)
            if seen is None or seen[0] != key or found.st_ctime_ns >= recent:
                seen = (key if found.st_ctime_ns < recent else None, self._read(path))
            known[path] = seen
        self._known = known
        return [value for _, value in known.values()]


class RecordAllotments(ReadWhenChanged[int]):
    """What each record file (an instance's, a volume's) allots, read again only when its file
    changed (records are written anew and renamed into place). A placement then looks at the
    records' stat, not at their contents: with a thousand instances and two thousand volumes
    and snapshots, reading them all took ~0.2 s per create under the lock every create waits
    for. ``read`` gives a record's MiB (0 once it is gone)."""

    def total(self, paths: Iterable[Path]) -> int:
        """The MiB the records at ``paths`` allot (called with the host disk's lock held)."""
        return sum(self.values(paths))
