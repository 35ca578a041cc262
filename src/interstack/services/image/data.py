"""Image data: streamed into the region's ImageDriver and out of it, never held whole.

An upload moves the image ``queued`` -> ``saving`` -> ``active``. The checksums Glance shows
(md5 ``checksum``, sha512 ``os_hash_value``) and the size are computed while the chunks pass
through. If the upload fails or is interrupted, the backend removes its partial copy (its
contract) and the image returns to ``queued`` with no data.

A backend whose cloud makes its own image of the bytes (an AMI) may answer once the bytes are
in the cloud, not ready: the image then stays ``saving`` and a task finishes it
(:mod:`interstack.services.image.upload_tasks`), as Glance's own upload answers before the
image is ``active``.

A running upload refreshes the image's ``updated_at`` every minute. An image left ``saving`` by a
gateway that died mid-upload stops being refreshed; after ``STALE_UPLOAD`` a new upload may
claim it as if it were ``queued`` (where Glance would leave it stuck), unless a task still
finishes its upload: that task owns the image until it ends (a gateway that was down longer than
``STALE_UPLOAD`` resumes it), and a new upload would mix its data with the old one's.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import and_, exists, or_, update

from interstack.backends.contract import ByteStream, NativeRef
from interstack.backends.contract import ImageInfo as StoredImage
from interstack.errors import (
    BackendError,
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    PayloadTooLarge,
)
from interstack.services.context import RequestContext
from interstack.services.image import access
from interstack.services.image.images import ImageService
from interstack.services.image.model import HASH_ALGO, ImageInfo, ImageStatus
from interstack.services.image.records import info_of, now
from interstack.services.tasks import TaskQueue, TaskStatus
from interstack.store.models import Image
from interstack.store.models import Task as TaskRow

log = logging.getLogger(__name__)

#: how often a running upload shows it is alive, and when an upload counts as abandoned
HEARTBEAT_SECONDS = 60.0
STALE_UPLOAD = timedelta(minutes=10)
#: the task kind finishing an upload the backend answered not ready
FINISH_UPLOAD = "image.upload.finish"


class HashingStream:
    """Passes chunks through while counting them and hashing them as Glance does."""

    def __init__(
        self,
        data: Iterable[bytes],
        size_cap: int | None = None,
        heartbeat: Callable[[], None] | None = None,
    ) -> None:
        self._data = data
        self._cap = size_cap
        self._heartbeat = heartbeat
        self.size = 0
        self.md5 = hashlib.md5(usedforsecurity=False)
        self.multihash = hashlib.new(HASH_ALGO)

    def __iter__(self) -> Iterator[bytes]:
        beat = time.monotonic()
        for chunk in self._data:
            if self._heartbeat is not None and time.monotonic() - beat >= HEARTBEAT_SECONDS:
                self._heartbeat()
                beat = time.monotonic()
            self.size += len(chunk)
            if self._cap is not None and self.size > self._cap:
                raise PayloadTooLarge(
                    f"Image exceeds the storage limit: at most {self._cap} bytes may be uploaded."
                )
            self.md5.update(chunk)
            self.multihash.update(chunk)
            yield chunk


@dataclass(frozen=True)
class ImageData:
    """What a download sends: the image (for its size and checksum) and its bytes."""

    image: ImageInfo
    chunks: ByteStream


class ImageDataService:
    def __init__(
        self, images: ImageService, size_cap: int | None = None, tasks: TaskQueue | None = None
    ) -> None:
        self.images = images
        self.db = images.db
        self.regions = images.regions
        self.size_cap = size_cap
        #: where uploads the backend finishes later are queued
        self.tasks = tasks

    def upload(
        self,
        ctx: RequestContext,
        region: str,
        image_id: str,
        data: Iterable[bytes],
        size: int | None = None,
    ) -> ImageInfo:
        """Store the image's data (``size`` bytes where the client declared them); call from
        a worker thread (``data`` may block)."""
        with self.db.session() as session:
            row = access.load_owned(session, ctx, region, image_id, "upload data to")
            if row.container_format is None or row.disk_format is None:
                raise BadRequest(
                    "Properties disk_format and container_format must be set prior to saving data."
                )
        if not self.regions.backend(region).capabilities.image_upload:
            self.regions.require(region, "images")
        self._claim(image_id)
        return self.store(region, image_id, data, size)

    def _claim(self, image_id: str) -> None:
        """queued (or abandoned saving) -> saving, atomically: one upload per image wins, the
        others get 409. An upload a task still finishes is not abandoned, however long ago
        the image was refreshed."""
        stamp = now()
        finishing = exists().where(
            TaskRow.kind == FINISH_UPLOAD,
            TaskRow.resource_id == Image.id,
            TaskRow.status.in_((TaskStatus.PENDING, TaskStatus.RUNNING)),
        )
        abandoned = and_(
            Image.status == ImageStatus.SAVING,
            Image.native_ref.is_(None),
            Image.updated_at < stamp - STALE_UPLOAD,
            ~finishing,
        )
        with self.db.session() as session:
            claimed = session.execute(
                update(Image)
                .where(Image.id == image_id, or_(Image.status == ImageStatus.QUEUED, abandoned))
                .values(status=ImageStatus.SAVING, updated_at=stamp)
            )
            if claimed.rowcount:  # type: ignore[attr-defined]
                return
            row = session.get(Image, image_id)
            status = row.status if row is not None else ImageStatus.DELETED
        raise Conflict(f"Image status transition from {status} to saving is not allowed.")

    def store(
        self, region: str, image_id: str, data: Iterable[bytes], size: int | None = None
    ) -> ImageInfo:
        """Stream ``data`` of a ``saving`` image (``size`` bytes, where known) into the backend
        and activate the image."""
        with self.db.session() as session:
            row = session.get(Image, image_id)
            formats = (row.disk_format or "raw", row.container_format or "bare") if row else None
            properties = dict(row.properties) if row else {}
        if formats is None:
            raise Conflict(f"Image {image_id} was deleted before its data could be stored.")
        hashed = HashingStream(data, self.size_cap, heartbeat=lambda: self._touch(image_id))
        images = self.regions.backend(region).image
        try:
            stored = images.store_uploaded_image(image_id, hashed, *formats, properties, size=size)
        except BaseException:
            self._requeue(image_id)
            raise
        if not stored.ready:
            return self._finish_later(region, image_id, stored, hashed)
        return self.activate(
            region,
            image_id,
            stored,
            checksum=hashed.md5.hexdigest(),
            hash_algo=HASH_ALGO,
            hash_value=hashed.multihash.hexdigest(),
        )

    def _finish_later(
        self, region: str, image_id: str, stored: StoredImage, hashed: HashingStream
    ) -> ImageInfo:
        """The backend has the bytes and is still making its image: the image stays
        ``saving`` and a task asks the backend until it is ready."""
        payload = {
            "ref": str(stored.ref),
            "size": stored.size,
            "sha256": stored.sha256,
            "checksum": hashed.md5.hexdigest(),
            "hash_algo": HASH_ALGO,
            "hash_value": hashed.multihash.hexdigest(),
            "stored_at": now().isoformat(),
        }
        with self.db.session() as session:
            row = session.get(Image, image_id)
            if row is not None and row.status == ImageStatus.SAVING and self.tasks is not None:
                self.tasks.enqueue(FINISH_UPLOAD, region, image_id, payload, session=session)
                return info_of(session, row)
        self.regions.backend(region).image.abandon_uploaded_image(image_id, stored.ref)
        self._requeue(image_id)
        if self.tasks is None:
            raise BackendError(f"region {region}: nothing finishes uploads in this process")
        raise Conflict(f"Image {image_id} was deleted during the upload; its data was discarded.")

    def _touch(self, image_id: str) -> None:
        """Show that the image's upload is alive (it never counts as abandoned)."""
        with self.db.session() as session:
            session.execute(
                update(Image)
                .where(Image.id == image_id, Image.status == ImageStatus.SAVING)
                .values(updated_at=now())
            )

    def _requeue(self, image_id: str) -> None:
        with self.db.session() as session:
            session.execute(
                update(Image)
                .where(Image.id == image_id, Image.status == ImageStatus.SAVING)
                .values(status=ImageStatus.QUEUED, updated_at=now())
            )

    def activate(
        self,
        region: str,
        image_id: str,
        stored: StoredImage,
        *,
        checksum: str | None,
        hash_algo: str | None,
        hash_value: str | None,
    ) -> ImageInfo:
        """saving -> active with the stored data (labelled with its formats where the backend
        names them); if the image went meanwhile, drop the data."""
        formats = {
            name: value
            for name, value in (
                ("disk_format", stored.disk_format),
                ("container_format", stored.container_format),
            )
            if value is not None
        }
        with self.db.session() as session:
            done = session.execute(
                update(Image)
                .where(Image.id == image_id, Image.status == ImageStatus.SAVING)
                .values(
                    status=ImageStatus.ACTIVE,
                    native_ref=stored.ref,
                    size=stored.size,
                    checksum=checksum,
                    os_hash_algo=hash_algo,
                    os_hash_value=hash_value,
                    updated_at=now(),
                    **formats,
                )
            )
            row = session.get(Image, image_id) if done.rowcount else None  # type: ignore[attr-defined]
            if row is not None:
                return info_of(session, row)
        self.images.discard_data(region, stored.ref)
        raise Conflict(f"Image {image_id} was deleted during the upload; its data was discarded.")

    def download(self, ctx: RequestContext, region: str, image_id: str) -> ImageData | None:
        """The image's bytes, or None while it has no data."""
        with self.db.session() as session:
            row = access.load(session, ctx, region, image_id)
            if row.status == ImageStatus.DEACTIVATED and not ctx.is_admin:
                raise Forbidden(
                    "The requested image has been deactivated. Image data download is forbidden."
                )
            info = info_of(session, row)
            ref = row.native_ref
        if ref is None:
            return None
        try:
            backend = self.regions.backend(region)
            if not backend.capabilities.image_upload:
                self.regions.require(region, "images")
            chunks = backend.image.open_image(NativeRef(ref))
        except NotFound as exc:
            raise NotFound(f"The data of image {image_id} is not in the store.") from exc
        return ImageData(image=info, chunks=chunks)
