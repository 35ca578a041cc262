"""Query parameters of ``GET /v2/images``: filters, ``in:`` lists, time comparisons, sorting.

Any parameter that is not one of Glance's own names filters on a custom property, as in Glance.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from datetime import UTC, datetime

from starlette.datastructures import QueryParams

from interstack.errors import BadRequest
from interstack.services.image.filters import EXACT_COLUMNS, INTEGER_COLUMNS, TIME_OPERATORS
from interstack.services.image.model import ImageFilters, MemberStatus, Visibility
from interstack.services.listing import Page, SortDir

DEFAULT_LIMIT = 25
MAX_LIMIT = 1000

_PAGING = frozenset({"limit", "marker", "sort", "sort_key", "sort_dir"})
_LISTS = {
    "id": "ids",
    "name": "names",
    "status": "statuses",
    "container_format": "container_formats",
    "disk_format": "disk_formats",
}
_OTHERS = frozenset(
    {
        "visibility",
        "owner",
        "member_status",
        "tag",
        "size_min",
        "size_max",
        "protected",
        "os_hidden",
        "created_at",
        "updated_at",
    }
)


def _values(raw: str) -> tuple[str, ...]:
    """``in:a,"b,c"`` -> ("a", "b,c"); anything else is one value."""
    if not raw.startswith("in:"):
        return (raw,)
    try:
        row = next(csv.reader([raw[3:]], skipinitialspace=True))
    except (csv.Error, StopIteration):
        raise BadRequest(f"Invalid 'in:' list {raw!r}.") from None
    return tuple(row)


def _integer(query: QueryParams, name: str) -> int | None:
    raw = query.get(name)
    if raw is None:
        return None
    if not raw.isdigit():
        raise BadRequest(f"Invalid value {raw!r} for {name}: a non-negative integer is expected.")
    return int(raw)


def _boolean(query: QueryParams, name: str) -> bool | None:
    raw = query.get(name)
    if raw is None:
        return None
    if raw.lower() in ("true", "1", "yes", "on"):
        return True
    if raw.lower() in ("false", "0", "no", "off"):
        return False
    raise BadRequest(f"Invalid value {raw!r} for {name}: 'true' or 'false' is expected.")


def _instants(query: QueryParams, name: str) -> tuple[tuple[str, datetime], ...]:
    """``created_at=gte:2016-04-18T21:38:54Z`` (operator optional, ``eq`` by default)."""
    found: list[tuple[str, datetime]] = []
    for raw in query.getlist(name):
        head, sep, rest = raw.partition(":")
        op, text = (head, rest) if sep and head in TIME_OPERATORS else ("eq", raw)
        try:
            instant = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise BadRequest(
                f"Invalid {name} filter {raw!r}: use <op>:<ISO 8601 time>, "
                f"op one of {', '.join(TIME_OPERATORS)}."
            ) from None
        if instant.tzinfo is not None:
            instant = instant.astimezone(UTC).replace(tzinfo=None)
        found.append((op, instant))
    return tuple(found)


def filters(query: QueryParams) -> ImageFilters:
    visibility = query.get("visibility")
    if visibility is not None and visibility not in (*(v.value for v in Visibility), "all"):
        raise BadRequest(
            f"Invalid visibility value {visibility!r}: use public, private, shared, community "
            "or all."
        )
    member_status = query.get("member_status", MemberStatus.ACCEPTED.value)
    if member_status not in (*(s.value for s in MemberStatus), "all"):
        raise BadRequest(
            f"Invalid member_status {member_status!r}: use accepted, pending, rejected or all."
        )
    lists = {attr: _values(query[key]) for key, attr in _LISTS.items() if key in query}
    exact: dict[str, str | int] = {}
    for key in EXACT_COLUMNS.keys() & query.keys():
        number = _integer(query, key) if key in INTEGER_COLUMNS else None
        exact[key] = number if number is not None else query[key]
    custom = {
        key: value
        for key, value in query.items()
        if key not in _PAGING
        and key not in _LISTS
        and key not in _OTHERS
        and key not in EXACT_COLUMNS
    }
    return ImageFilters(
        **lists,
        visibility=visibility,
        owner=query.get("owner"),
        size_min=_integer(query, "size_min"),
        size_max=_integer(query, "size_max"),
        tags=tuple(query.getlist("tag")),
        protected=_boolean(query, "protected"),
        os_hidden=bool(_boolean(query, "os_hidden")),
        member_status=member_status,
        created_at=_instants(query, "created_at"),
        updated_at=_instants(query, "updated_at"),
        exact=exact,
        properties=custom,
    )


def _direction(raw: str) -> SortDir:
    if raw not in ("asc", "desc"):
        raise BadRequest(f"Invalid sort direction {raw!r}; use 'asc' or 'desc'.")
    return "asc" if raw == "asc" else "desc"


def _sort(query: QueryParams) -> Sequence[tuple[str, SortDir]]:
    keys, dirs = query.getlist("sort_key"), query.getlist("sort_dir")
    if "sort" in query:
        if keys or dirs:
            raise BadRequest("The 'sort_key' and 'sort_dir' parameters cannot be used with 'sort'.")
        result: list[tuple[str, SortDir]] = []
        for item in query["sort"].split(","):
            key, _, direction = item.strip().partition(":")
            result.append((key, _direction(direction or "desc")))
        return result
    if len(dirs) > 1 and len(dirs) != len(keys):
        raise BadRequest("Give one sort_dir for all sort_key values, or one per sort_key.")
    return [
        (key, _direction(dirs[i] if len(dirs) > 1 else (dirs[0] if dirs else "desc")))
        for i, key in enumerate(keys)
    ]


def page(query: QueryParams) -> Page:
    """Limit (default 25, at most 1000, as Glance), marker and sort."""
    limit = _integer(query, "limit")
    return Page(
        limit=min(limit if limit is not None else DEFAULT_LIMIT, MAX_LIMIT),
        marker=query.get("marker"),
        sort=_sort(query),
    )
