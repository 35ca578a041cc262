"""Image records of each region: create, list, show, update, delete, (de)activate, tags.

The image data lives in the region's backend (see ``data.py``); this module keeps the records
and removes the data when an image is deleted.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from interstack.backends.contract import NativeRef
from interstack.errors import BadRequest, Conflict, Forbidden, NotFound, QuotaExceeded
from interstack.services.context import RequestContext
from interstack.services.image import access, patch
from interstack.services.image.filters import list_statement
from interstack.services.image.model import (
    ImageFilters,
    ImageInfo,
    ImageStatus,
    NewImage,
    PatchOp,
    Visibility,
)
from interstack.services.image.provided import ProvidedImages
from interstack.services.image.records import image_info, info_of, now, tags_of
from interstack.services.listing import Page
from interstack.services.regions import Regions
from interstack.store import Database
from interstack.store.models import Image, ImageTag

log = logging.getLogger(__name__)

#: Glance's ``image_tag_quota`` default: tags one image may carry
TAG_QUOTA = 128


def _tag_quota(count: int) -> None:
    if count > TAG_QUOTA:
        raise QuotaExceeded(f"Maximum number of tags exceeded: an image may have {TAG_QUOTA}.")


def _replace_tags(session: Session, image_id: str, tags: Sequence[str]) -> None:
    _tag_quota(len(tags))
    session.execute(delete(ImageTag).where(ImageTag.image_id == image_id))
    session.add_all(ImageTag(image_id=image_id, value=tag) for tag in dict.fromkeys(tags))


class ImageService:
    def __init__(
        self, db: Database, regions: Regions, provided: ProvidedImages | None = None
    ) -> None:
        self.db = db
        self.regions = regions
        #: a listing first brings in what a changing cloud catalogue added or removed
        self.provided = provided

    def create(
        self,
        ctx: RequestContext,
        region: str,
        new: NewImage,
        *,
        status: ImageStatus = ImageStatus.QUEUED,
    ) -> ImageInfo:
        """A ``queued`` image without data; visibility ``shared`` unless given (as Glance).
        A server snapshot's image is written ``saving`` at once (``status``)."""
        if not ctx.is_member:
            raise Forbidden("You are not authorized to create images.")
        for name in new.properties:
            patch.check_settable(name)
        patch.check_visibility(ctx, new.visibility)
        patch.check_owner(ctx, new.owner)
        stamp = now()
        row = Image(
            id=new.id or str(uuid.uuid4()),
            region=region,
            name=new.name,
            owner=new.owner or ctx.project_id,
            status=status,
            visibility=new.visibility or Visibility.SHARED,
            protected=new.protected,
            os_hidden=new.os_hidden,
            container_format=new.container_format,
            disk_format=new.disk_format,
            min_disk=new.min_disk,
            min_ram=new.min_ram,
            properties=dict(new.properties),
            created_at=stamp,
            updated_at=stamp,
        )
        try:
            with self.db.session() as session:
                if new.id is not None and session.get(Image, new.id) is not None:
                    raise Conflict(f"An image with identifier {new.id} already exists.")
                session.add(row)
                session.flush()
                _replace_tags(session, row.id, new.tags)
                return info_of(session, row)
        except IntegrityError as exc:
            raise Conflict(f"An image with identifier {row.id} already exists.") from exc

    def list(
        self, ctx: RequestContext, region: str, filters: ImageFilters, page: Page
    ) -> list[ImageInfo]:
        """The images the caller may see that match ``filters``, one page of them."""
        if self.provided is not None and page.marker is None:
            self.provided.refresh(region)
        with self.db.session() as session:
            marker = None
            if page.marker is not None:
                try:
                    marker = access.load(session, ctx, region, page.marker)
                except NotFound:
                    raise BadRequest(f"Marker {page.marker} could not be found.") from None
            stmt = list_statement(ctx, region, filters, page, marker)
            rows = list(session.scalars(stmt))
            tags = tags_of(session, [r.id for r in rows])
            return [image_info(r, tags[r.id]) for r in rows]

    def get(self, ctx: RequestContext, region: str, image_id: str) -> ImageInfo:
        with self.db.session() as session:
            return info_of(session, access.load(session, ctx, region, image_id))

    def update(
        self, ctx: RequestContext, region: str, image_id: str, ops: Sequence[PatchOp]
    ) -> ImageInfo:
        """Apply a JSON patch: all of it or, if any change is refused, none of it."""
        with self.db.session() as session:
            row = access.load_owned(session, ctx, region, image_id, "modify")
            tags = tags_of(session, [row.id])[row.id]
            new_tags = patch.apply(session, ctx, row, tags, ops)
            if new_tags != tags:
                _replace_tags(session, row.id, new_tags)
            return info_of(session, row)

    def delete(self, ctx: RequestContext, region: str, image_id: str) -> None:
        """Remove the record, then the data; data that cannot be removed is only logged."""
        with self.db.session() as session:
            row = access.load_owned(session, ctx, region, image_id, "delete")
            if row.protected:
                raise Forbidden(f"Image {image_id} is protected and cannot be deleted.")
            ref = row.native_ref
            session.delete(row)
        if ref is not None:
            self.discard_data(region, NativeRef(ref))

    def discard_data(self, region: str, ref: NativeRef) -> None:
        try:
            self.regions.backend(region).image.delete_image(ref)
        except Exception:
            log.exception("removing image data %s in region %s failed; it is orphaned", ref, region)

    def deactivate(self, ctx: RequestContext, region: str, image_id: str) -> None:
        self._set_active(ctx, region, image_id, active=False)

    def reactivate(self, ctx: RequestContext, region: str, image_id: str) -> None:
        self._set_active(ctx, region, image_id, active=True)

    def _set_active(self, ctx: RequestContext, region: str, image_id: str, *, active: bool) -> None:
        action = "reactivate" if active else "deactivate"
        with self.db.session() as session:
            row = access.load(session, ctx, region, image_id)
            if not ctx.is_admin:
                raise Forbidden(f"You are not authorized to {action} image {image_id}.")
            target = ImageStatus.ACTIVE if active else ImageStatus.DEACTIVATED
            if row.status == target:
                return
            source = ImageStatus.DEACTIVATED if active else ImageStatus.ACTIVE
            if row.status != source:
                raise Forbidden(f"Not allowed to {action} image in status '{row.status}'.")
            row.status = target
            row.updated_at = now()

    def add_tag(self, ctx: RequestContext, region: str, image_id: str, tag: str) -> None:
        with self.db.session() as session:
            row = access.load_owned(session, ctx, region, image_id, "modify")
            tags = tags_of(session, [row.id])[row.id]
            if tag in tags:
                return
            _tag_quota(len(tags) + 1)
            session.add(ImageTag(image_id=row.id, value=tag))
            row.updated_at = now()

    def remove_tag(self, ctx: RequestContext, region: str, image_id: str, tag: str) -> None:
        with self.db.session() as session:
            row = access.load_owned(session, ctx, region, image_id, "modify")
            removed = session.execute(
                delete(ImageTag).where(ImageTag.image_id == row.id, ImageTag.value == tag)
            )
            if not removed.rowcount:  # type: ignore[attr-defined]
                raise NotFound(f"Tag {tag} not found on image {image_id}.")
            row.updated_at = now()
