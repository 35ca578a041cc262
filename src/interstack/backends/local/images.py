"""Images: Glance's bytes as uploaded, and the read-only roots instances boot from.

``store_image`` keeps the bytes exactly (``open_image`` gives them back). The first boot from an
image turns them into a root directory, once, beside them (:mod:`.imageformats`: tarballs, raw
and qcow2 disks); one that holds no usable root fails the boot with :class:`ImageUnusable`,
whose one-line message becomes the server's fault.

A deleted image's root stays while an instance may boot from it: an instance's overlay keeps it
as its lower layer, running or stopped (a server's disk outlives its stops and the gateway's
restarts); it goes once nothing uses it (:meth:`LocalImages.release_unused`). What an unpack
cut short leaves goes at the image's next unpack or the backend's next start. Every gateway
process on the data dir (and ``interstack cleanup``) unpacks and releases a root under the
image directory's own lock (:mod:`.hostlock`), and a volume filled from a root holds it with a
file lock that a release in any process sees: none releases a root another one uses.

The built-in image ``debian-12`` (:mod:`.imagebuild`) has the native ref ``builtin-debian-12``;
it is what a server without an image boots, and ``open_image`` streams it as a tarball (built
first if a download comes before any boot).
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Collection, Generator, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path

from interstack.backends.contract import (
    ByteStream,
    ImageDriver,
    ImageInfo,
    NativeRef,
    ProvidedImage,
)
from interstack.backends.contract.files import open_stream, write_atomically
from interstack.backends.local import hostlock
from interstack.backends.local.host import unmount
from interstack.backends.local.hostdisk import HostDisk, Reservation, mb_of
from interstack.backends.local.hostlock import DirectoryLock
from interstack.backends.local.imagebuild import (
    BUILT_IMAGES,
    DEFAULT_IMAGE,
    BuildProgress,
    ensure_built,
    image_root,
)
from interstack.backends.local.imagecache import host_mounts, mounts_name
from interstack.backends.local.imageformats import (
    CHUNK,
    CONVERTED_RAW,
    MOUNT_PREFIX,
    ImageUnusable,
    is_tarball,
    read_head,
    tar_stream,
    unpack,
)
from interstack.backends.local.loginplan import plan_path
from interstack.backends.local.sparse import copy_sparse, sha256_sparse
from interstack.errors import BackendError, Conflict, NotFound

#: Glance's (disk_format, container_format) for the root filesystem tarballs this backend makes
#: (built-in images, server captures): Glance has no name for a tarball of a root, and these
#: upload again as they download
TARBALL_FORMATS = ("raw", "bare")
BUILTIN_PREFIX = "builtin-"
STORED_PREFIX = "img-"
#: the prefix of a root's staging directory, beside the image's data while it is unpacked
STAGING_PREFIX = ".root-"
#: in an image's directory, what an unpack makes on its way (its root's staging directory, the
#: mount point of a disk image, a qcow2 converted to raw), left only by one cut short
UNPACK_LEFTOVERS = (f"{STAGING_PREFIX}*", f"{MOUNT_PREFIX}*", CONVERTED_RAW)
#: in an image's directory, the data's temporary files on their way (an upload's, written
#: atomically; a copy's), left only by a writer killed midway: each write holds the image's
#: lock, so one found with the lock taken is no live writer's
WRITE_LEFTOVERS = (".data.*.part", ".data.part")
#: in an image's directory: the file a user of its root that is no instance holds shared
HELD_FILE = "held"
#: in an image's directory: what its unpacked root takes of the host, in MiB (measured once,
#: when it is made: the host's disk counts it, :meth:`LocalImages.disk_allotted_mb`)
ROOT_MB_FILE = "root.mb"

log = logging.getLogger(__name__)


def builtin_ref(name: str = DEFAULT_IMAGE) -> NativeRef:
    return NativeRef(f"{BUILTIN_PREFIX}{name}")


class LocalImages(ImageDriver):
    """Image bytes under ``<data>/images/<ref>/data``; the unpacked root in ``.../root``."""

    #: the images the instances' records name (:meth:`.compute.LocalCompute.images_in_use`),
    #: set by the backend; without it no deleted image's root is removed
    images_in_use: Callable[[], Collection[str]] | None = None
    #: where images' bytes are placed (:mod:`.hostdisk`), set by the backend
    host_disk: HostDisk | None = None

    def __init__(
        self,
        directory: Path,
        cache_dir: Path,
        apt_sources: Path | None = None,
    ) -> None:
        self.directory = directory
        self.cache_dir = cache_dir
        self.apt_sources = apt_sources
        self._locks: dict[str, DirectoryLock] = {}
        self._locks_guard = threading.Lock()

    def _lock(self, ref: str) -> DirectoryLock:
        """The image's lock, across this process's threads and every other process on the
        data dir (nothing to lock across processes before its directory exists)."""
        with self._locks_guard:
            lock = self._locks.get(ref)
            if lock is None:
                lock = self._locks[ref] = DirectoryLock(self.directory / ref)
            return lock

    @contextmanager
    def _writing(self, ref: NativeRef) -> Iterator[None]:
        """The image's lock for a write of its data, its directory made first: the lock is a
        file in it, held across processes only once it exists (one a release removed before
        the lock was had, as a deleted image's, is made again)."""
        while True:
            self._dir(ref).mkdir(parents=True, exist_ok=True)
            with self._lock(ref) as held:
                if held:
                    yield
                    return

    def _dir(self, ref: NativeRef) -> Path:
        if not ref.startswith(STORED_PREFIX) or "/" in ref or ref in {".", ".."}:
            raise NotFound(f"no image {ref}")
        return self.directory / ref

    # -- the contract -------------------------------------------------------------------------

    def store_image(self, gateway_id: str, data: Iterable[bytes]) -> ImageInfo:
        """The bytes written into the image's data, placed on the host's disk ahead of each
        write: ``PayloadTooLarge`` (Glance's 413) and nothing left where they do not fit."""
        ref = NativeRef(f"{STORED_PREFIX}{gateway_id}")
        target = self._dir(ref) / "data"
        with self._writing(ref):
            if target.exists():
                raise Conflict(f"image {gateway_id} already has data")
            try:
                with self.room(f"image {gateway_id}") as room:
                    written = write_atomically(target, _covered(data, room))
            except BaseException:
                shutil.rmtree(target.parent, ignore_errors=True)
                raise
        return ImageInfo(ref=ref, gateway_id=gateway_id, size=written.size, sha256=written.sha256)

    def room(self, what: str) -> AbstractContextManager[Reservation | None]:
        """The host disk's room for an image's bytes on their way (:meth:`.HostDisk.reserved`),
        or none to hold where no host disk is set."""
        if self.host_disk is None:
            return nullcontext()
        return self.host_disk.reserved(what)

    def disk_allotted_mb(self) -> int:
        """What the images take of the host: their data (its blocks: a volume copied into an
        image keeps its holes) and their unpacked roots (:data:`ROOT_MB_FILE`)."""
        total, roots_mb = 0, 0
        for data in self.directory.glob(f"{STORED_PREFIX}*/data"):
            with contextlib.suppress(FileNotFoundError):  # deleted meanwhile
                total += data.stat().st_blocks * 512
        for measured in self.directory.glob(f"{STORED_PREFIX}*/{ROOT_MB_FILE}"):
            with contextlib.suppress(FileNotFoundError, ValueError):
                roots_mb += int(measured.read_text())
        return mb_of(total) + roots_mb

    def stored(self, gateway_id: str) -> ImageInfo | None:
        """The image data stored for ``gateway_id`` (measured again, and labelled: a root
        filesystem tarball as :data:`TARBALL_FORMATS`, anything else a raw disk), or ``None``
        if none is."""
        ref = NativeRef(f"{STORED_PREFIX}{gateway_id}")
        data = self._dir(ref) / "data"
        try:
            size, sha256 = sha256_sparse(data)
            head = read_head(data, 4096)
        except FileNotFoundError:
            return None
        disk_format, container_format = TARBALL_FORMATS if is_tarball(head) else ("raw", "bare")
        return ImageInfo(
            ref=ref,
            gateway_id=gateway_id,
            size=size,
            sha256=sha256,
            disk_format=disk_format,
            container_format=container_format,
        )

    def store_copy(
        self,
        gateway_id: str,
        source: Path,
        while_copying: AbstractContextManager[object] | None = None,
    ) -> ImageInfo:
        """Store a sparse copy of the file ``source`` as image data (a volume's disk becoming an
        image: a raw disk whose holes stay holes on the host). Like :meth:`store_image`
        otherwise: ``Conflict`` if the image has data, nothing left behind on failure.
        ``while_copying`` is held around the copy only, not while the copy is measured (a
        server's filesystem frozen for its capture thaws before the hash is taken). The copy
        is a reflink where the filesystem has them, else the kernel's copy of the data extents
        (:mod:`.sparse`); the hash reads the copy's data extents, not its holes."""
        ref = NativeRef(f"{STORED_PREFIX}{gateway_id}")
        target = self._dir(ref) / "data"
        with self._writing(ref):
            if target.exists():
                raise Conflict(f"image {gateway_id} already has data")
            partial = target.with_name(".data.part")
            try:
                with self.room(f"image {gateway_id}") as room:
                    if room is not None:  # the source's blocks (a reflink may share them)
                        room.cover(source.stat().st_blocks * 512)
                    try:
                        with while_copying or nullcontext():
                            copy_sparse(source, partial)
                        size, sha256 = sha256_sparse(partial)
                    except OSError as exc:
                        raise BackendError(f"copy the data into the image: {exc}") from exc
                    os.replace(partial, target)
            except BaseException:
                shutil.rmtree(target.parent, ignore_errors=True)
                raise
        return ImageInfo(ref=ref, gateway_id=gateway_id, size=size, sha256=sha256)

    def provided_images(self) -> tuple[ProvidedImage, ...]:
        """The built-in images, built on first boot; their data is a root tarball."""
        return tuple(
            ProvidedImage(
                name=name,
                ref=builtin_ref(name),
                disk_format=TARBALL_FORMATS[0],
                container_format=TARBALL_FORMATS[1],
                properties={"os_distro": "debian", "os_version": name.rsplit("-", 1)[-1]},
            )
            for name in sorted(BUILT_IMAGES)
        )

    def open_image(self, ref: NativeRef) -> ByteStream:
        if ref.startswith(BUILTIN_PREFIX):
            name = ref.removeprefix(BUILTIN_PREFIX)
            if name not in BUILT_IMAGES:
                raise NotFound(f"no image {ref}")
            return self._built_tarball(name)
        try:
            return open_stream(self._dir(ref) / "data", CHUNK)
        except FileNotFoundError:
            raise NotFound(f"no image {ref}") from None

    def _built_tarball(self, name: str) -> Generator[bytes, None, None]:
        """A built image as a tarball, built first if it is not yet (on the first read, so
        that opening it only to see that it exists builds nothing)."""
        yield from tar_stream(ensure_built(self.cache_dir, name, apt_sources=self.apt_sources))

    def delete_image(self, ref: NativeRef) -> None:
        """The data goes; its root stays while an instance may boot from it
        (:meth:`release_unused`)."""
        if ref.startswith(BUILTIN_PREFIX):
            return  # built images are a cache shared by regions; `image build` manages them
        directory = self._dir(ref)
        with self._lock(ref):
            (directory / "data").unlink(missing_ok=True)
            if not (directory / "root").exists():
                shutil.rmtree(directory, ignore_errors=True)
                return
        self.release_unused([ref])

    # -- boot roots ---------------------------------------------------------------------------

    def root_for(self, ref: NativeRef | None, progress: BuildProgress | None = None) -> Path:
        """The read-only root an instance of ``ref`` boots from, prepared on first use.

        Raises ``ImageUnusable`` (one line, for the server's fault) or ``NotFound``.
        """
        if ref is None:
            ref = builtin_ref()
        if ref.startswith(BUILTIN_PREFIX):
            name = ref.removeprefix(BUILTIN_PREFIX)
            if name not in BUILT_IMAGES:
                raise NotFound(f"no image {ref}")
            return ensure_built(
                self.cache_dir, name, progress=progress, apt_sources=self.apt_sources
            )
        directory = self._dir(ref)
        root = directory / "root"
        with self._lock(ref):
            fault = directory / "fault"
            if fault.exists():
                raise ImageUnusable(fault.read_text().strip())
            if root.is_dir():
                return root
            data = directory / "data"
            if not data.exists():
                raise NotFound(f"image {ref} has no data")
            _remove_leftovers(directory)
            staging = Path(tempfile.mkdtemp(dir=directory, prefix=STAGING_PREFIX))
            staging.chmod(0o755)
            try:
                unpack(data, staging)
            except ImageUnusable as exc:
                fault.write_text(exc.message + "\n")
                shutil.rmtree(staging, ignore_errors=True)
                raise
            except BaseException:
                shutil.rmtree(staging, ignore_errors=True)
                raise
            (directory / ROOT_MB_FILE).write_text(f"{mb_of(blocks_under(staging))}\n")
            os.replace(staging, root)
            return root

    def login_plan(self, ref: NativeRef | None) -> Path | None:
        """The login plan of the built image ``ref`` (:mod:`.loginplan`), beside its root in the
        cache. Any other image has none, whatever lies beside its root: a plan is the record of
        a built image's own accounts, which another image's disk does not have."""
        ref = ref or builtin_ref()
        if not ref.startswith(BUILTIN_PREFIX):
            return None
        name = ref.removeprefix(BUILTIN_PREFIX)
        return plan_path(image_root(self.cache_dir, name)) if name in BUILT_IMAGES else None

    @contextmanager
    def root_held(self, ref: NativeRef) -> Iterator[Path]:
        """:meth:`root_for` ``ref``, kept while the block runs by a user that is no instance
        (a volume filled from it): a deletion of the image meanwhile, by this process or
        another, leaves it (:data:`HELD_FILE`, held shared before the root is asked for)."""
        if ref.startswith(BUILTIN_PREFIX):  # built images are never released here
            yield self.root_for(ref)
            return
        with hostlock.held_shared(self._dir(ref), HELD_FILE) as holding:
            if not holding:
                raise NotFound(f"no image {ref}")
            yield self.root_for(ref)

    def release_unused(
        self, refs: Iterable[NativeRef] | None = None, *, wait: bool = True
    ) -> list[NativeRef]:
        """Remove what deleted images (of ``refs``, or all) left, their roots and any unpack
        cut short, once nothing uses it: no instance's record names the image (a stopped
        server boots from its root again), no mount names it (a running instance's overlay,
        whatever the records say) and no volume is being filled from it. Called at an image's
        deletion, a server's deletion and the backend's start; when unsure (the instances or
        the mount tables cannot be read) it keeps everything. Without ``wait`` an image whose
        lock is held now is passed over (its data is on its way, or its root). The images
        removed."""
        if self.images_in_use is None or not self.directory.is_dir():
            return []
        found = (self.directory / r for r in refs) if refs is not None else self.directory.iterdir()
        deleted = [
            d
            for d in found
            if d.name.startswith(STORED_PREFIX) and d.is_dir() and not (d / "data").exists()
        ]
        released = []
        for directory in deleted:
            ref = NativeRef(directory.name)
            lock = self._lock(ref)
            # held: False when passed over (held by another now, not waited for) or gone
            with lock if wait else lock.held_if_free() as held:
                # read under the lock: a boot records its image before it asks root_for, which
                # takes this lock, so a record not read here is one whose boot finds no root
                if held and self._unused(directory, ref):
                    log.info("removing the root of deleted image %s: nothing uses it", ref)
                    shutil.rmtree(directory, ignore_errors=True)
                    released.append(ref)
        return released

    def _unused(self, directory: Path, ref: NativeRef) -> bool:
        """Whether nothing uses the deleted image ``ref``'s root (called with its lock held);
        False when unsure."""
        if hostlock.taken(directory, HELD_FILE):  # one held after this waits for the lock
            return False
        if (directory / "data").exists() or self.images_in_use is None:
            return False
        try:
            if ref in self.images_in_use():
                return False
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("kept the root of deleted image %s: the instances' images: %s", ref, exc)
            return False
        mounts = host_mounts()
        return mounts is not None and not mounts_name(directory, mounts)

    def start(self) -> None:
        """At the backend's start: unpacks and writes of image data cut short by a gateway's
        end go (an image's whose lock another gateway process on the data dir holds now is
        passed over: that one's are under way), then what deleted images left that nothing
        uses any more (:meth:`release_unused`)."""
        if not self.directory.is_dir():
            return
        for directory in self.directory.iterdir():
            if directory.name.startswith(STORED_PREFIX) and directory.is_dir():
                with self._lock(NativeRef(directory.name)).held_if_free() as free:
                    if free:
                        _remove_leftovers(directory)
        self.release_unused(wait=False)


def _covered(data: Iterable[bytes], room: Reservation | None) -> Iterator[bytes]:
    """``data``, each chunk placed in ``room`` before it is passed on to be written."""
    written = 0
    for chunk in data:
        written += len(chunk)
        if room is not None:
            room.cover(written)
        yield chunk


def blocks_under(root: Path) -> int:
    """The bytes of the blocks the files under ``root`` take (each hard-linked file once)."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for directory, dirs, files in os.walk(root):
        for name in (*dirs, *files):
            with contextlib.suppress(FileNotFoundError):
                found = os.lstat(os.path.join(directory, name))
                if (found.st_dev, found.st_ino) not in seen:
                    seen.add((found.st_dev, found.st_ino))
                    total += found.st_blocks * 512
    return total


def release_unpacks(data_dir: Path) -> None:
    """``interstack cleanup``: unmount the raw disks whose copy into a root a stopped gateway
    cut short (their loop devices go with them); the next start removes what is left. Each
    under its image's lock: the disk of an unpack under way is no leftover (it is unmounted
    by its unpack, which this waits for)."""
    for mount_point in sorted((data_dir / "images").glob(f"{STORED_PREFIX}*/{MOUNT_PREFIX}*")):
        with DirectoryLock(mount_point.parent):
            unmount(mount_point)


def _remove_leftovers(directory: Path) -> None:
    """Remove from an image's directory what unpacks and writes of its data cut short left
    (called with the image's lock held: no unpack or write of it runs), except what a mount
    names (a disk image's copy killed midway leaves it mounted)."""
    patterns = (*UNPACK_LEFTOVERS, *WRITE_LEFTOVERS)
    leftovers = [path for pattern in patterns for path in directory.glob(pattern)]
    if not leftovers:
        return
    mounts = host_mounts()
    for path in leftovers:
        if mounts is None or mounts_name(path, mounts):
            continue
        log.info("removing %s: left by an unpack or a write cut short", path)
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
