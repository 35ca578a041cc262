"""Server snapshots (Nova's ``createImage``): a server's root captured as image data that boots.

An image-backed server's root is the overlay of its image's read-only root and its own writable
layer. The layer is copied while the instance is frozen (the freezer cgroup holds every process,
so no file is caught half-written; the layer is usually a few MB), the instance thaws, and the
copy stacked on the image's root in a read-only overlay is streamed into a root filesystem
tarball: the format Glance uploads take too, so the image boots (and downloads, and uploads
again) like any other. The image is labelled as the local backend labels its tarballs (raw in
bare, as ``debian-12``), whatever its server's image was: a snapshot of a server booted from a
qcow2 disk is no qcow2 disk. Whiteouts and opaque directories in the layer hide what the server
deleted from its image.

A volume-backed server's root is its volume: its filesystem is frozen (``fsfreeze``, which
flushes it and its journal) while the volume's file is copied, giving a raw disk image (so
labelled); the copy is hashed after the server thaws. (The gateway takes this path only where
block storage has no snapshots: elsewhere a volume-backed server's image maps a snapshot of its
volume, as Nova's does.)

A capture runs in the background: :meth:`ServerCaptures.snapshot` answers ``ready=False`` until
it is done, then the stored image; a failed capture raises on the next look and leaves nothing.
A stopped server is captured as it is; a paused or suspended one stays so; a running one is
always thawed again, whether the copy worked or not.
"""

from __future__ import annotations

import logging
import shutil
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import replace
from pathlib import Path
from typing import Protocol

from interstack.backends.contract import ImageInfo, NativeRef
from interstack.backends.local.host import run, unmount
from interstack.backends.local.hostlock import DirectoryLock
from interstack.backends.local.imageformats import tar_stream
from interstack.backends.local.images import (
    TARBALL_FORMATS,
    LocalImages,
    blocks_under,
    builtin_ref,
)
from interstack.backends.local.instance_record import InstanceRecord, Phase
from interstack.backends.local.instances import Instance, instance_at
from interstack.backends.local.quiesce import frozen, held_still
from interstack.errors import BackendError, Conflict, NotFound

log = logging.getLogger(__name__)

#: the phases a server can be captured from (Nova's createImage: active, shutoff, paused,
#: suspended)
CAPTURABLE = frozenset({Phase.ACTIVE, Phase.STOPPED, Phase.PAUSED, Phase.SUSPENDED})


class RootVolumes(Protocol):
    """The block storage seam: a volume's data as image data (``copy_volume_to_image``), with
    what to hold while the data is copied."""

    def copy_volume_to_image(
        self,
        ref: NativeRef,
        image_gateway_id: str,
        while_copying: AbstractContextManager[object] | None = None,
    ) -> ImageInfo: ...


class ServerCaptures:
    """The captures in progress of one local region, under ``<data>/captures/<image id>/``."""

    def __init__(
        self,
        directory: Path,
        images: LocalImages,
        instances_dir: Path,
        runc_root: Path,
        instance_lock: Callable[[str], DirectoryLock],
    ) -> None:
        self.directory = directory
        self.images = images
        self.instances_dir = instances_dir
        self.runc_root = runc_root
        self.instance_lock = instance_lock
        #: set by the backend once its block storage exists (volume-backed servers)
        self.volumes: RootVolumes | None = None
        self._running: dict[str, Future[ImageInfo]] = {}
        self._guard = threading.Lock()
        self._jobs: ThreadPoolExecutor | None = None

    def start(self) -> None:
        """Remove what captures cut short by a stopped gateway left (their task asks again)."""
        if self.directory.is_dir():
            for staging in self.directory.iterdir():
                self._discard(staging)
        self._jobs = ThreadPoolExecutor(1, thread_name_prefix="local-capture")

    def close(self) -> None:
        if self._jobs is not None:
            self._jobs.shutdown(wait=True, cancel_futures=True)
            self._jobs = None

    def snapshot(self, ref: NativeRef, image_gateway_id: str) -> ImageInfo:
        """The contract's ``snapshot_server``: start the capture, or look at it. A finished
        capture answers with what it measured; the stored data is measured again (read in full)
        only when no capture of it runs here (a gateway restarted after it finished)."""
        with self._guard:
            running = self._running.get(image_gateway_id)
            if running is None:
                stored = self.images.stored(image_gateway_id)
                if stored is not None:
                    return stored
                self._check(ref)
                running = self._submit(lambda: self._capture(ref, image_gateway_id))
                self._running[image_gateway_id] = running
            if not running.done():
                return ImageInfo(
                    ref=NativeRef(""), gateway_id=image_gateway_id, size=0, sha256="", ready=False
                )
            del self._running[image_gateway_id]
        error = running.exception()
        if error is not None:  # raised here, once; the gateway's log keeps why
            log.warning("capture of %s as image %s failed: %s", ref, image_gateway_id, error)
            raise error
        return running.result()

    def _submit(self, job: Callable[[], ImageInfo]) -> Future[ImageInfo]:
        if self._jobs is None:
            raise BackendError("the local backend is not started")
        return self._jobs.submit(job)

    def _instance(self, ref: str) -> Instance:
        return instance_at(self.instances_dir, self.runc_root, ref)

    def _check(self, ref: NativeRef) -> InstanceRecord:
        record = self._instance(ref).load()
        if record is None:
            raise NotFound(f"no server {ref}")
        if record.phase not in CAPTURABLE:
            raise Conflict(
                f"cannot capture server {record.gateway_id} while it is {record.phase} "
                "(it must be active, stopped, paused or suspended)"
            )
        return record

    def _capture(self, ref: NativeRef, image_gateway_id: str) -> ImageInfo:
        record = self._check(ref)
        if record.root_volume is not None:
            return self._capture_volume(ref, NativeRef(record.root_volume), image_gateway_id)
        image = NativeRef(record.image) if record.image else builtin_ref()
        staging = self.directory / image_gateway_id
        self._discard(staging)
        # held: the server deleted meanwhile may leave its deleted image unused, and a root
        # removed under the capture's overlay would be stored as an image missing its files
        with self.images.root_held(image) as image_root:
            return self._capture_over(ref, image_gateway_id, image_root, staging)

    def _capture_over(
        self, ref: NativeRef, image_gateway_id: str, image_root: Path, staging: Path
    ) -> ImageInfo:
        """The server's layer over ``image_root``, stored as the image ``image_gateway_id``.
        The layer's copy is placed on the host's disk first, as large as the layer is now
        (``PayloadTooLarge`` before any of it is copied where it does not fit), and held
        until the copy is gone; the image's bytes are placed as they are written."""
        upper = self._instance(ref).upper
        with self.images.room(f"the layer of server {ref}, captured") as room:
            try:
                if room is not None and upper.is_dir():
                    room.cover(blocks_under(upper))
                self._copy_layer(ref, staging / "layer")
                merged = staging / "root"
                merged.mkdir()
                options = f"ro,lowerdir={staging / 'layer'}:{image_root}"
                run(
                    ["mount", "-t", "overlay", "overlay", "-o", options, str(merged)],
                    what="mount the server's captured root",
                )
                stored = replace(
                    self.images.store_image(image_gateway_id, tar_stream(merged)),
                    disk_format=TARBALL_FORMATS[0],
                    container_format=TARBALL_FORMATS[1],
                )
            finally:
                self._discard(staging)
        log.info("server %s captured as image %s (%d bytes)", ref, image_gateway_id, stored.size)
        return stored

    def _copy_layer(self, ref: NativeRef, target: Path) -> None:
        """Copy the server's writable layer (whiteouts and overlay xattrs too) while it is
        frozen and no power action can start."""
        instance = self._instance(ref)
        with self.instance_lock(ref):
            self._check(ref)
            target.parent.mkdir(parents=True, exist_ok=True)
            with frozen(instance):
                if instance.upper.is_dir():
                    run(["cp", "-a", str(instance.upper), str(target)], what="copy the disk layer")
                else:  # a server that never wrote anything
                    target.mkdir()

    def _capture_volume(
        self, ref: NativeRef, volume: NativeRef, image_gateway_id: str
    ) -> ImageInfo:
        instance = self._instance(ref)
        volumes = self.volumes
        if volumes is None:
            raise BackendError("this local backend has no block storage")
        with self.instance_lock(ref):
            self._check(ref)
            # frozen for the copy only; the copy is measured once the server runs again
            stored = volumes.copy_volume_to_image(volume, image_gateway_id, held_still(instance))
        return replace(stored, disk_format="raw", container_format="bare")

    def _discard(self, staging: Path) -> None:
        try:
            unmount(staging / "root")
        except BackendError as exc:
            log.warning("capture %s: %s", staging.name, exc.message)
            return  # never remove files under a mount
        shutil.rmtree(staging, ignore_errors=True)


def release_captures(data_dir: Path) -> None:
    """``interstack cleanup``: unmount the roots of captures a stopped gateway left behind."""
    captures = data_dir / "captures"
    for staging in sorted(captures.iterdir()) if captures.is_dir() else []:
        unmount(staging / "root")
