"""Who may see and who may change an image, as Glance decides it.

Seeing: admins see every image; a project sees its own, the public and community ones, and shared
ones it is a member of (any member status for a single image; ``accepted`` by default in lists).
Changing: the owner and admins; anyone else who can see the image gets 403, others 404.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.orm import Session

from interstack.errors import Forbidden, NotFound
from interstack.services.context import RequestContext
from interstack.services.image.model import ImageFilters, MemberStatus, Visibility
from interstack.store.models import Image, ImageMember


def _is_member(session: Session, image_id: str, project_id: str | None) -> bool:
    if project_id is None:
        return False
    found = session.scalar(
        select(ImageMember.id).where(
            ImageMember.image_id == image_id, ImageMember.member_id == project_id
        )
    )
    return found is not None


def can_see(session: Session, ctx: RequestContext, row: Image) -> bool:
    if ctx.is_admin or (row.owner is not None and row.owner == ctx.project_id):
        return True
    if row.visibility in (Visibility.PUBLIC, Visibility.COMMUNITY):
        return True
    return row.visibility == Visibility.SHARED and _is_member(session, row.id, ctx.project_id)


def load(session: Session, ctx: RequestContext, region: str, image_id: str) -> Image:
    """The image if the caller may see it, else 404 (existence is not revealed)."""
    row = session.get(Image, image_id)
    if row is None or row.region != region or not can_see(session, ctx, row):
        raise NotFound(f"No image found with ID {image_id}")
    return row


def owns(ctx: RequestContext, row: Image) -> bool:
    return ctx.is_admin or (row.owner is not None and row.owner == ctx.project_id)


def load_owned(
    session: Session, ctx: RequestContext, region: str, image_id: str, action: str
) -> Image:
    """The image if the caller may change it: 404 if invisible, 403 if visible but not its own."""
    row = load(session, ctx, region, image_id)
    if not owns(ctx, row):
        raise Forbidden(f"You are not permitted to {action} image {image_id}.")
    if not ctx.is_admin and not ctx.is_member:
        raise Forbidden(f"You are not permitted to {action} image {image_id}.")
    return row


def list_condition(ctx: RequestContext, filters: ImageFilters) -> Any:
    """The WHERE clause of what a list shows the caller, before the user's own filters."""
    conditions: list[Any] = []
    if filters.visibility is not None and filters.visibility != "all":
        conditions.append(Image.visibility == filters.visibility)
    elif filters.visibility is None:
        # community images of other projects are listed only when asked for
        conditions.append(
            or_(Image.visibility != Visibility.COMMUNITY, Image.owner == ctx.project_id)
        )
    if ctx.is_admin:
        return and_(*conditions)
    membership = [ImageMember.image_id == Image.id, ImageMember.member_id == ctx.project_id]
    if filters.member_status != "all":
        membership.append(ImageMember.status == filters.member_status)
    seen = or_(
        Image.visibility.in_((Visibility.PUBLIC, Visibility.COMMUNITY)),
        and_(Image.visibility == Visibility.SHARED, exists().where(*membership)),
    )
    if ctx.project_id is not None:
        seen = or_(Image.owner == ctx.project_id, seen)
    return and_(*conditions, seen)


MEMBER_STATUSES = (*(s.value for s in MemberStatus), "all")
