"""What compute needs of images: the image a server boots from, and server snapshots.

``ComputeImages`` implements ``services.interfaces.BootImages`` and registers the image of a
server's ``createImage`` in two steps, as Nova does with Glance: a ``queued`` record at once
(its id goes back to the caller), then the data when the snapshot is done, or the record is
dropped when the snapshot fails.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import replace

from sqlalchemy.orm import Session

from interstack.backends.contract import ImageInfo as StoredImage
from interstack.backends.contract import NativeRef
from interstack.errors import BadRequest, Conflict, NotFound
from interstack.services.context import RequestContext
from interstack.services.image import access
from interstack.services.image.data import ImageDataService
from interstack.services.image.members import pending_member
from interstack.services.image.model import (
    HASH_ALGO,
    ImageInfo,
    ImageStatus,
    NewImage,
    Visibility,
)
from interstack.services.image.records import now
from interstack.services.interfaces import BootImage
from interstack.store.models import Image


def snapshot_min_disk(base: BootImage | None, root_gb: int) -> int:
    """Nova's ``image_min_disk`` of an instance, which its snapshot takes: the flavor's root
    disk if that is larger than the image's ``min_disk`` (a disk grown to the flavor's size is
    not smaller than that), and the flavor's alone for a ``vhd`` image."""
    if base is not None and base.disk_format == "vhd":
        return root_gb
    return max(base.min_disk_gb if base is not None else 0, root_gb)


class ComputeImages:
    def __init__(self, data: ImageDataService) -> None:
        self.data = data
        self.images = data.images
        self.db = data.db

    def image_for_boot(
        self, ctx: RequestContext, region: str, image_id: str, session: Session | None = None
    ) -> BootImage:
        """Visible to the caller and ``active``: NotFound / BadRequest otherwise; read in
        ``session`` when the caller has one open (a boot's)."""
        if session is None:
            with self.db.session() as own:
                return self.image_for_boot(ctx, region, image_id, own)
        try:
            row = access.load(session, ctx, region, image_id)
        except NotFound:
            raise NotFound(f"Image {image_id} could not be found.") from None
        if row.status != ImageStatus.ACTIVE:
            raise BadRequest(f"Image {image_id} is not active (its status is {row.status}).")
        return BootImage(
            id=row.id,
            name=row.name or "",
            min_disk_gb=row.min_disk,
            min_ram_mb=row.min_ram,
            size_bytes=row.size,
            disk_format=row.disk_format,
            container_format=row.container_format,
            native_ref=NativeRef(row.native_ref) if row.native_ref else None,
            properties={key: str(value) for key, value in row.properties.items()},
            checksum=row.checksum,
        )

    def begin_snapshot(
        self,
        ctx: RequestContext,
        region: str,
        name: str,
        *,
        server_id: str,
        base: BootImage | None = None,
        inherited: Mapping[str, str] | None = None,
        metadata: Mapping[str, str] | None = None,
        root_gb: int = 0,
        instance_project: str | None = None,
    ) -> ImageInfo:
        """A ``saving`` image owned by the caller's project, for a server snapshot: private,
        or offered to the server's project (``instance_project``) if that is another
        (:meth:`_snapshot_image`).

        Formats and ``min_ram`` come from the server's image when known (Nova copies them);
        ``min_disk`` is :func:`snapshot_min_disk` of it and the flavor's root disk
        (``root_gb``). Its properties are ``inherited`` (those of the server's image compute
        keeps), then ``base_image_ref`` (the image, unless ``inherited`` names an older base),
        ``image_type=snapshot`` and ``user_id`` as Nova sets them, then the caller's
        ``metadata`` over them all (as Nova lets it), and ``instance_uuid`` last. Follow with
        :meth:`finish_snapshot` or :meth:`stream_snapshot`, or :meth:`abandon_snapshot`.
        """
        properties = {
            **({"base_image_ref": base.id} if base is not None else {}),
            **(inherited or {}),
            "image_type": "snapshot",
            "user_id": ctx.user_id,
            **(metadata or {}),
            "instance_uuid": server_id,
        }
        new = NewImage(
            name=name,
            container_format=base.container_format if base else "bare",
            disk_format=base.disk_format if base else "raw",
            min_disk=snapshot_min_disk(base, root_gb),
            min_ram=base.min_ram_mb if base else 0,
            properties=properties,
        )
        return self._snapshot_image(ctx, region, new, instance_project)

    def _snapshot_image(
        self, ctx: RequestContext, region: str, new: NewImage, instance_project: str | None
    ) -> ImageInfo:
        """The ``saving`` image of a snapshot, the caller's project's. As Nova has it, one of
        another project's server (an admin's snapshot) is ``shared`` with that project, a
        member of it (Glance's pending answer): its owners see the image of their server and
        may boot from it, which a private image of the admin's project kept from them."""
        offered = instance_project is not None and instance_project != ctx.project_id
        visibility = Visibility.SHARED if offered else Visibility.PRIVATE
        image = self.images.create(
            ctx, region, replace(new, visibility=visibility), status=ImageStatus.SAVING
        )
        if offered and instance_project is not None:
            try:
                with self.db.session() as session:
                    session.add(pending_member(image.id, instance_project))
            except BaseException:
                self.abandon_snapshot(region, image.id)
                raise
        return image

    def begin_volume_backed(
        self,
        ctx: RequestContext,
        region: str,
        name: str,
        *,
        metadata: Mapping[str, str] | None = None,
        instance_project: str | None = None,
    ) -> ImageInfo:
        """A ``saving`` image for a volume-backed server's snapshot, private or offered to the
        server's project as :meth:`_snapshot_image` has it: ``metadata`` (the
        properties compute says it inherits, and the caller's) only — Nova sets neither
        ``image_type`` nor ``instance_uuid`` on these — and
        the formats Nova's zero-byte upload gets from Glance (``qcow2``, the first of its
        preferred disk formats, in ``bare``). Follow with :meth:`finish_volume_backed` or
        :meth:`abandon_snapshot`."""
        new = NewImage(
            name=name,
            container_format="bare",
            disk_format="qcow2",
            properties=dict(metadata or {}),
        )
        return self._snapshot_image(ctx, region, new, instance_project)

    def finish_volume_backed(
        self, region: str, image_id: str, properties: Mapping[str, str]
    ) -> None:
        """Activate the image as the bucket of properties Nova makes it: ``properties`` (the
        block device mapping naming the volume snapshots) added, no data, size 0 and the
        checksums of zero bytes, as Glance computes them for Nova's empty upload."""
        with self.db.session() as session:
            row = session.get(Image, image_id)
            if row is None or row.region != region or row.status != ImageStatus.SAVING:
                raise Conflict(f"Image {image_id} was deleted before its snapshot was registered.")
            row.properties = {**row.properties, **properties}
            row.status = ImageStatus.ACTIVE
            row.size = 0
            row.checksum = hashlib.md5(b"", usedforsecurity=False).hexdigest()
            row.os_hash_algo = HASH_ALGO
            row.os_hash_value = hashlib.new(HASH_ALGO, b"").hexdigest()
            row.updated_at = now()

    def finish_snapshot(self, region: str, image_id: str, stored: StoredImage) -> ImageInfo:
        """Activate the image with data the backend already stored (``ImageDriver`` output),
        in the formats the backend says the data is in (a capture need not be in its server's
        image's: a local server booted from a qcow2 disk is captured as a tarball).

        The backend reports a sha256 only, so that is the image's ``os_hash_algo``; its md5
        ``checksum`` stays empty, and so do both hashes when the backend cannot read the data
        (an AMI). If the image was deleted meanwhile, the data is removed.
        """
        return self.data.activate(
            region,
            image_id,
            stored,
            checksum=None,
            hash_algo="sha256" if stored.sha256 else None,
            hash_value=stored.sha256 or None,
        )

    def stream_snapshot(self, region: str, image_id: str, data: Iterable[bytes]) -> ImageInfo:
        """Store the snapshot's bytes through the region's ImageDriver and activate the image."""
        return self.data.store(region, image_id, data)

    def abandon_snapshot(self, region: str, image_id: str) -> None:
        """The snapshot failed: remove the image record (and any data it got)."""
        with self.db.session() as session:
            row = session.get(Image, image_id)
            if row is None or row.region != region:
                return
            ref = row.native_ref
            session.delete(row)
        if ref is not None:
            self.images.discard_data(region, NativeRef(ref))
