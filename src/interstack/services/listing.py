"""Listing with filters, sorting and marker paging, as every OpenStack list call does it.

A page is the rows after the *marker* row (by id) in the requested sort order, at most ``limit`` of
them. Sorting always ends with the primary key so that the order, and so the paging, is total.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy import Select, and_, or_
from sqlalchemy.orm import InstrumentedAttribute

from interstack.errors import BadRequest, NotFound

SortDir = Literal["asc", "desc"]


@dataclass(frozen=True)
class Page:
    """What one list request asks for: sort keys with directions, a marker id, a limit."""

    limit: int | None = None
    marker: str | None = None
    sort: Sequence[tuple[str, SortDir]] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if self.limit is not None and self.limit < 0:
            raise BadRequest(f"limit must be a non-negative integer, not {self.limit}.")


def paginate(
    stmt: Select[Any],
    page: Page,
    columns: Mapping[str, InstrumentedAttribute[Any]],
    id_column: InstrumentedAttribute[Any],
    marker_row: Any | None,
    default_sort: Sequence[tuple[str, SortDir]] = (),
) -> Select[Any]:
    """Add ordering, the marker condition and the limit to ``stmt``.

    ``columns`` names the sortable columns by their API names; an unknown key is a 400.
    ``marker_row`` is the row ``page.marker`` names (the caller loads it, within what the caller
    may see), or None when there is no marker; a marker that names nothing is the caller's 400/404.
    """
    keys: list[tuple[InstrumentedAttribute[Any], SortDir]] = []
    for name, direction in page.sort or default_sort:
        column = columns.get(name)
        if column is None:
            raise BadRequest(
                f"Invalid sort key {name!r}; valid keys: {', '.join(sorted(columns))}."
            )
        if direction not in ("asc", "desc"):
            raise BadRequest(f"Invalid sort direction {direction!r}; use 'asc' or 'desc'.")
        keys.append((column, direction))
    if not any(column is id_column for column, _ in keys):
        keys.append((id_column, keys[-1][1] if keys else "asc"))

    # NULL sorts as the smallest value on every database (SQLite and PostgreSQL differ by default).
    stmt = stmt.order_by(
        *(c.asc().nulls_first() if d == "asc" else c.desc().nulls_last() for c, d in keys)
    )
    if page.marker is not None:
        if marker_row is None:
            raise NotFound(f"Marker {page.marker} could not be found.")
        stmt = stmt.where(_after(marker_row, keys))
    if page.limit is not None:
        stmt = stmt.limit(page.limit)
    return stmt


def _after(marker_row: Any, keys: list[tuple[InstrumentedAttribute[Any], SortDir]]) -> Any:
    """Rows strictly after the marker in lexicographic (key1, key2, ...) order, NULL smallest."""
    alternatives = []
    for position, (column, direction) in enumerate(keys):
        value = getattr(marker_row, column.key)
        ties = [
            c.is_(None) if (v := getattr(marker_row, c.key)) is None else c == v
            for c, _ in keys[:position]
        ]
        if direction == "asc":
            beyond = column.is_not(None) if value is None else column > value
        elif value is None:
            continue  # nothing sorts after NULL when descending
        else:
            beyond = or_(column < value, column.is_(None))
        alternatives.append(and_(*ties, beyond))
    return or_(*alternatives)


def parse_sort(
    sort_keys: Sequence[str], sort_dirs: Sequence[str], default_dir: SortDir = "asc"
) -> list[tuple[str, SortDir]]:
    """Pair Neutron/Nova-style repeated ``sort_key``/``sort_dir`` query parameters."""
    if len(sort_dirs) > len(sort_keys):
        raise BadRequest("There are more sort_dir values than sort_key values.")
    result: list[tuple[str, SortDir]] = []
    for index, key in enumerate(sort_keys):
        direction = sort_dirs[index] if index < len(sort_dirs) else default_dir
        if direction not in ("asc", "desc"):
            raise BadRequest(f"Invalid sort direction {direction!r}; use 'asc' or 'desc'.")
        result.append((key, "asc" if direction == "asc" else "desc"))
    return result
