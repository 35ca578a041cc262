"""What listing volumes and snapshots shares: the rows a caller may list with Cinder's common
filters, and one page of them after the marker, at most ``MAX_LIMIT`` long."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, TypeVar

from sqlalchemy import Select, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from interstack.errors import NotFound
from interstack.services.context import RequestContext
from interstack.services.listing import Page, SortDir, paginate
from interstack.store.models import Volume as VolumeRow
from interstack.store.models import VolumeSnapshot as SnapshotRow

#: Cinder's ``osapi_max_limit``
MAX_LIMIT = 1000
#: newest first, as Cinder lists
DEFAULT_SORT: list[tuple[str, SortDir]] = [("created_at", "desc"), ("id", "desc")]

Row = TypeVar("Row", VolumeRow, SnapshotRow)


class CommonFilters(Protocol):
    """The filters every Cinder list takes: name, status, and whose rows (admins only)."""

    @property
    def name(self) -> str | None: ...

    @property
    def status(self) -> str | None: ...

    @property
    def all_tenants(self) -> bool: ...

    @property
    def project_id(self) -> str | None: ...


def scoped(
    model: type[Row], ctx: RequestContext, region: str, filters: CommonFilters
) -> Select[Any]:
    """The region's rows of the caller's project, or of any (or one named) project for an
    admin who asks, narrowed by name and status."""
    stmt = select(model).where(model.region == region)
    if ctx.is_admin and (filters.all_tenants or filters.project_id):
        if filters.project_id:
            stmt = stmt.where(model.project_id == filters.project_id)
    else:
        stmt = stmt.where(model.project_id == (ctx.project_id or ""))
    if filters.name is not None:
        stmt = stmt.where(model.name == filters.name)
    if filters.status is not None:
        stmt = stmt.where(model.status == filters.status)
    return stmt


def page_limit(page: Page) -> int:
    """The page's length: what the caller asked for, at most ``MAX_LIMIT``."""
    return min(page.limit, MAX_LIMIT) if page.limit is not None else MAX_LIMIT


def marker_row(session: Session, model: type[Row], region: str, marker: str | None) -> Row | None:
    """The row the marker names; 404 for a marker that names none in the region."""
    if marker is None:
        return None
    row = session.get(model, marker)
    if row is None or row.region != region:
        raise NotFound(f"Marker {marker} could not be found.")
    return row


def page_rows(
    session: Session,
    stmt: Select[Any],
    model: type[Row],
    region: str,
    page: Page,
    columns: Mapping[str, InstrumentedAttribute[Any]],
) -> list[Row]:
    """One page of ``stmt``'s rows, sorted as asked (newest first by default)."""
    after = marker_row(session, model, region, page.marker)
    paged = Page(limit=page_limit(page), marker=page.marker, sort=page.sort)
    return list(session.scalars(paginate(stmt, paged, columns, model.id, after, DEFAULT_SORT)))
