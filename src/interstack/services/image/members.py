"""Image members: the projects a ``shared`` image is offered to, and their answers.

The owner adds and removes members; each member accepts or rejects for itself. A member sees
only its own membership; the owner (and admins) see all of them.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from interstack.errors import Conflict, Forbidden, NotFound, QuotaExceeded
from interstack.services.context import RequestContext
from interstack.services.image import access
from interstack.services.image.model import MemberInfo, MemberStatus, Visibility
from interstack.services.image.records import member_info, now
from interstack.store import Database
from interstack.store.models import Image, ImageMember

#: Glance's ``image_member_quota`` default
MEMBER_QUOTA = 128


def _member(session: Session, image_id: str, member_id: str) -> ImageMember:
    row = session.scalar(
        select(ImageMember).where(
            ImageMember.image_id == image_id, ImageMember.member_id == member_id
        )
    )
    if row is None:
        raise NotFound(f"{member_id} is not a member of image {image_id}.")
    return row


def _shared(row: Image) -> None:
    if row.visibility != Visibility.SHARED:
        raise Forbidden(
            f"Only shared images have members; image {row.id} is {row.visibility}. "
            "Set its visibility to 'shared' first."
        )


def pending_member(image_id: str, member_id: str) -> ImageMember:
    """A new member of the image, whose answer is pending (as Glance adds one)."""
    stamp = now()
    return ImageMember(
        image_id=image_id,
        member_id=member_id,
        status=MemberStatus.PENDING,
        created_at=stamp,
        updated_at=stamp,
    )


class MemberService:
    def __init__(self, db: Database) -> None:
        self.db = db

    def add(self, ctx: RequestContext, region: str, image_id: str, member_id: str) -> MemberInfo:
        with self.db.session() as session:
            image = access.load_owned(session, ctx, region, image_id, "share")
            _shared(image)
            existing = session.scalar(
                select(ImageMember.id).where(
                    ImageMember.image_id == image_id, ImageMember.member_id == member_id
                )
            )
            if existing is not None:
                raise Conflict(f"Member {member_id} already exists for image {image_id}.")
            count = session.scalar(
                select(func.count(ImageMember.id)).where(ImageMember.image_id == image_id)
            )
            if (count or 0) >= MEMBER_QUOTA:
                raise QuotaExceeded(
                    f"Maximum number of members exceeded: an image may have {MEMBER_QUOTA}."
                )
            row = pending_member(image_id, member_id)
            session.add(row)
            session.flush()
            return member_info(row)

    def list(self, ctx: RequestContext, region: str, image_id: str) -> list[MemberInfo]:
        with self.db.session() as session:
            image = access.load(session, ctx, region, image_id)
            _shared(image)
            stmt = select(ImageMember).where(ImageMember.image_id == image_id)
            if not access.owns(ctx, image):
                stmt = stmt.where(ImageMember.member_id == ctx.project_id)
            return [member_info(r) for r in session.scalars(stmt.order_by(ImageMember.id))]

    def get(self, ctx: RequestContext, region: str, image_id: str, member_id: str) -> MemberInfo:
        with self.db.session() as session:
            image = access.load(session, ctx, region, image_id)
            _shared(image)
            if not access.owns(ctx, image) and member_id != ctx.project_id:
                raise NotFound(f"{member_id} is not a member of image {image_id}.")
            return member_info(_member(session, image_id, member_id))

    def update(
        self,
        ctx: RequestContext,
        region: str,
        image_id: str,
        member_id: str,
        status: MemberStatus,
    ) -> MemberInfo:
        """Only the member itself answers (accepted/rejected/pending), not the owner."""
        with self.db.session() as session:
            image = access.load(session, ctx, region, image_id)
            _shared(image)
            row = _member(session, image_id, member_id)
            if member_id != ctx.project_id:
                raise Forbidden(
                    f"Only the member {member_id} itself may change the status of its membership."
                )
            row.status = status
            row.updated_at = now()
            return member_info(row)

    def delete(self, ctx: RequestContext, region: str, image_id: str, member_id: str) -> None:
        with self.db.session() as session:
            image = access.load_owned(session, ctx, region, image_id, "unshare")
            _shared(image)
            session.delete(_member(session, image_id, member_id))
