"""Pieces every network module shares: ids, clocks, visibility, loading and listing the rows a
caller sees, filters, retries, the driver."""

from __future__ import annotations

import functools
import random
import secrets
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Executable,
    Select,
    Table,
    bindparam,
    delete,
    false,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import InstrumentedAttribute, Session
from sqlalchemy.sql.base import ExecutableOption

from interstack.backends.contract import NativeRef, NetworkDriver
from interstack.errors import BadRequest, Conflict, Forbidden, NotFound
from interstack.services.context import RequestContext
from interstack.services.listing import Page, paginate
from interstack.services.network.records import Stamp
from interstack.services.regions import Regions
from interstack.store import Database, run_core, table_of
from interstack.store.models.base import Base

T = TypeVar("T")

#: the device_owner of the gateway's DHCP ports (:mod:`dhcp_ports`)
DHCP_OWNER = "network:dhcp"

#: random choices that need no secrecy but must differ between concurrent workers
_RANDOM = random.SystemRandom()

#: the attempts a unit of work gets when a concurrent one took the same address or lock
ATTEMPTS = 25


def new_id() -> str:
    return str(uuid.uuid4())


def now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


def new_mac() -> str:
    """A MAC address with OpenStack's default prefix ``fa:16:3e``."""
    return "fa:16:3e:" + ":".join(f"{secrets.randbelow(256):02x}" for _ in range(3))


def stamp(row: Any) -> Stamp:
    return Stamp(row.created_at, row.updated_at, tuple(str(t) for t in row.tags or ()))


def ref(value: str | None) -> NativeRef | None:
    return NativeRef(value) if value else None


def driver(regions: Regions, region: str) -> NetworkDriver:
    return regions.require(region, "networks").network


def owned_by(ctx: RequestContext, column: InstrumentedAttribute[str]) -> ColumnElement[bool]:
    """Rows of the caller's project (every row for an admin)."""
    if ctx.is_admin:
        return true()
    if ctx.project_id is None:
        return false()
    return column == ctx.project_id


def check_owner(ctx: RequestContext, project_id: str, what: str, item_id: str) -> None:
    """Changing a resource needs its project (or admin); seeing a shared one is not enough."""
    if not ctx.is_admin and project_id != ctx.project_id:
        raise Forbidden(f"The caller may not change {what} {item_id}.")


def tenant_of(ctx: RequestContext, requested: str | None) -> str:
    """The project a new resource belongs to: the caller's, or any an admin names."""
    if requested and requested != ctx.project_id:
        if not ctx.is_admin:
            raise BadRequest(
                "Specifying 'project_id' or 'tenant_id' other than the authenticated project "
                "in request requires admin privileges"
            )
        return requested
    if ctx.project_id is None:
        raise BadRequest("A project-scoped token is required to create network resources.")
    return ctx.project_id


def retrying(work: Callable[[], T]) -> T:
    """Run a unit of work again when a concurrent one won a unique constraint or the lock."""
    for attempt in range(ATTEMPTS):
        try:
            return work()
        except (IntegrityError, OperationalError) as exc:
            if isinstance(exc, OperationalError) and "locked" not in str(exc).lower():
                raise
            if attempt == ATTEMPTS - 1:
                raise Conflict("Too many concurrent requests; try again.") from exc
            time.sleep(_RANDOM.uniform(0.005, 0.03) * (attempt + 1))
    raise AssertionError("unreachable")


def _truthy(value: str) -> bool:
    lowered = value.lower()
    if lowered in ("true", "1", "yes"):
        return True
    if lowered in ("false", "0", "no"):
        return False
    raise BadRequest(f"Invalid boolean filter value {value!r}.")


Filters = Mapping[str, Sequence[str]]


def apply_filters(
    stmt: Select[Any],
    filters: Filters,
    columns: Mapping[str, InstrumentedAttribute[Any]],
) -> Select[Any]:
    """Neutron's list filters: ``?name=a&name=b`` is ``name IN (a, b)``; unknown keys are ignored.

    Tags: ``tags`` (all of), ``tags-any``, ``not-tags``, ``not-tags-any`` (comma-separated) are
    applied by :func:`tag_match` after the query.
    """
    for key, values in filters.items():
        column = columns.get(key)
        if column is None or not values:
            continue
        python_type = column.type.python_type
        if python_type is bool:
            stmt = stmt.where(column.in_([_truthy(v) for v in values]))
        elif python_type is int:
            try:
                stmt = stmt.where(column.in_([int(v) for v in values]))
            except ValueError as exc:
                raise BadRequest(f"Invalid integer filter value for {key}.") from exc
        elif any(v == "" for v in values) and column.nullable:
            stmt = stmt.where(or_(column.in_(values), column.is_(None)))
        else:
            stmt = stmt.where(column.in_(values))
    return stmt


def tag_match(tags: Sequence[str], filters: Filters) -> bool:
    def split(key: str) -> set[str]:
        return {t for v in filters.get(key, ()) for t in v.split(",") if t}

    have = set(tags)
    all_of, any_of = split("tags"), split("tags-any")
    not_all, not_any = split("not-tags"), split("not-tags-any")
    if all_of and not all_of <= have:
        return False
    if any_of and not any_of & have:
        return False
    if not_all and not_all <= have:
        return False
    return not (not_any and not_any & have)


def has_tag_filters(filters: Filters) -> bool:
    return any(k in filters for k in ("tags", "tags-any", "not-tags", "not-tags-any"))


def list_rows(
    session: Session,
    stmt: Select[Any],
    filters: Filters,
    page: Page,
    columns: Mapping[str, InstrumentedAttribute[Any]],
    model: type[Any],
) -> list[Any]:
    """One page of rows matching Neutron's filters, in the requested order after the marker.

    Tag filters are matched in Python (tags are a JSON list), so with them the limit is applied
    after matching rather than in SQL.
    """
    stmt = apply_filters(stmt, filters, columns)
    marker = session.get(model, page.marker) if page.marker else None
    by_tags = has_tag_filters(filters)
    query_page = Page(limit=None, marker=page.marker, sort=page.sort) if by_tags else page
    stmt = paginate(stmt, query_page, columns, model.id, marker)
    rows = [r for r in session.scalars(stmt) if not by_tags or tag_match(r.tags or [], filters)]
    return rows[: page.limit] if by_tags and page.limit is not None else rows


#: a row of a network resource (a table with ``id`` and ``region`` columns)
Row = TypeVar("Row", bound=Base)


#: the caller's project in a statement built once (:class:`SeenById`): bound at each run
CALLER_PROJECT: BindParameter[str] = bindparam("caller_project")


def owned(column: InstrumentedAttribute[str]) -> ColumnElement[bool]:
    """Rows of the caller's project (:data:`CALLER_PROJECT`): :func:`owned_by`, built once."""
    return column == CALLER_PROJECT


class SeenById(Generic[Row]):
    """The row of ``model`` by id and region if the caller sees it, else ``missing`` of the
    id: a resource of another project is a 404, as Neutron answers, never a 403.

    Two ORM selects built once, not on every call: any row of the region (an admin's look)
    and a row ``seen`` keeps, ``seen`` a clause of the caller's project bound at each run
    (:data:`CALLER_PROJECT`), never of a value built in. A caller with no project sees
    nothing, unless ``projectless_sees`` (the shared rows ``seen`` keeps for a project of
    none, as the list of such rows shows them). ``options``: loader options (such as a
    deferred column the caller needs)."""

    def __init__(
        self,
        model: type[Row],
        seen: ColumnElement[bool],
        missing: Callable[[str], NotFound],
        *,
        projectless_sees: bool = False,
        options: Sequence[ExecutableOption] = (),
    ) -> None:
        table = model.__table__.c
        by_id = select(model).where(
            table.id == bindparam("item_id"), table.region == bindparam("region")
        )
        self._any = by_id.options(*options)
        self._seen = by_id.where(seen).options(*options)
        self._projectless_sees = projectless_sees
        self._missing = missing

    def load(self, session: Session, ctx: RequestContext, region: str, item_id: str) -> Row:
        if ctx.is_admin:
            stmt = self._any
        elif ctx.project_id is not None or self._projectless_sees:
            stmt = self._seen
        else:
            raise self._missing(item_id)
        params = {"item_id": item_id, "region": region, "caller_project": ctx.project_id or ""}
        row: Row | None = session.scalars(stmt, params).first()
        if row is None:
            raise self._missing(item_id)
        return row


def write_native_ref(session: Session, model: type[Row], row_id: str, native: str) -> Row | None:
    """The row ``row_id`` with the backend's ref of it written, as written: one UPDATE …
    RETURNING, not a read, then the write. None if the row was deleted meanwhile: its deletion
    found no backend ref to delete, so the caller deletes what the backend made (nothing would
    name it again) and answers the row's 404."""
    table = model.__table__.c
    return session.scalars(
        update(model).where(table.id == row_id).values(native_ref=native).returning(model),
        execution_options={"populate_existing": True},
    ).one_or_none()


def visible_page(
    session: Session,
    model: type[Row],
    region: str,
    visible: ColumnElement[bool],
    filters: Filters,
    page: Page,
    columns: Mapping[str, InstrumentedAttribute[Any]],
    *where: ColumnElement[bool],
    options: Sequence[ExecutableOption] = (),
) -> list[Row]:
    """One page of the rows of ``region`` the caller sees (and ``where`` keeps), with Neutron's
    filters, order and marker, loaded with ``options``."""
    stmt = select(model).where(model.__table__.c.region == region, visible, *where)
    stmt = stmt.options(*options)
    return list_rows(session, stmt, filters, page, columns, model)


@functools.cache
def _locking(table: Table, postgresql: bool) -> Executable:
    """:func:`lock_for_deletion`'s one statement on ``table``, built once per dialect."""
    this = table.c.id == bindparam("row_id")
    if postgresql:
        return select(table.c.id).where(this).with_for_update()
    return update(table).where(this).values(id=table.c.id)


def lock_for_deletion(session: Session, model: type[Base], row_id: str) -> None:
    """Lock the row before its deletion counts what still uses it: on PostgreSQL the row FOR
    UPDATE, which waits for the transactions adding rows that reference it (they hold it FOR
    KEY SHARE) and makes those after wait until the deletion ends (their reference then
    fails: they run again and find it gone); on SQLite the write lock, by a write that
    changes nothing. A count made after sees every use committed before, and no use comes
    after. One statement, run as Core: the ORM's update would expire the row the session
    holds and read it again at its deletion."""
    postgresql = session.get_bind().dialect.name == "postgresql"
    run_core(session, _locking(table_of(model), postgresql), {"row_id": row_id})


@contextmanager
def removed_on_failure(db: Database, model: type[Base], row_id: str) -> Iterator[None]:
    """What fails inside (the backend realizing a recorded row, most often) takes the row
    ``row_id`` of ``model`` along, so that nothing is left half-created."""
    try:
        yield
    except BaseException:
        with db.session() as session:
            session.execute(delete(model).where(model.__table__.c.id == row_id))
        raise
