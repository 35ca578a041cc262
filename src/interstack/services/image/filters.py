"""The query behind ``GET /v2/images``: who sees what, the user's filters, sorting and paging."""

from __future__ import annotations

import operator
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import Select, exists, select
from sqlalchemy.orm import InstrumentedAttribute

from interstack.services.context import RequestContext
from interstack.services.image import access
from interstack.services.image.model import ImageFilters
from interstack.services.listing import Page, paginate
from interstack.store.models import Image, ImageTag

#: Glance's sort keys (``SUPPORTED_SORT_KEYS``), by API name
SORT_COLUMNS: dict[str, InstrumentedAttribute[Any]] = {
    "name": Image.name,
    "status": Image.status,
    "container_format": Image.container_format,
    "disk_format": Image.disk_format,
    "size": Image.size,
    "id": Image.id,
    "created_at": Image.created_at,
    "updated_at": Image.updated_at,
}

TIME_OPERATORS: dict[str, Callable[[Any, datetime], Any]] = {
    "eq": operator.eq,
    "neq": operator.ne,
    "gt": operator.gt,
    "gte": operator.ge,
    "lt": operator.lt,
    "lte": operator.le,
}

#: core properties a list filters on by exact value (Glance filters on any image column)
EXACT_COLUMNS: dict[str, InstrumentedAttribute[Any]] = {
    "size": Image.size,
    "virtual_size": Image.virtual_size,
    "min_disk": Image.min_disk,
    "min_ram": Image.min_ram,
    "checksum": Image.checksum,
    "os_hash_algo": Image.os_hash_algo,
    "os_hash_value": Image.os_hash_value,
}
INTEGER_COLUMNS = frozenset({"size", "virtual_size", "min_disk", "min_ram"})

_ONE_OF: tuple[tuple[str, InstrumentedAttribute[Any]], ...] = (
    ("ids", Image.id),
    ("names", Image.name),
    ("statuses", Image.status),
    ("container_formats", Image.container_format),
    ("disk_formats", Image.disk_format),
)


def _where(filters: ImageFilters) -> list[Any]:
    conditions: list[Any] = []
    for attribute, column in _ONE_OF:
        values: tuple[str, ...] = getattr(filters, attribute)
        if values:
            conditions.append(column.in_(values))
    if filters.owner is not None:
        conditions.append(Image.owner == filters.owner)
    if filters.size_min is not None:
        conditions.append(Image.size >= filters.size_min)
    if filters.size_max is not None:
        conditions.append(Image.size <= filters.size_max)
    if filters.protected is not None:
        conditions.append(Image.protected.is_(filters.protected))
    conditions.append(Image.os_hidden.is_(filters.os_hidden))
    for tag in filters.tags:
        conditions.append(exists().where(ImageTag.image_id == Image.id, ImageTag.value == tag))
    for op, instant in filters.created_at:
        conditions.append(TIME_OPERATORS[op](Image.created_at, instant))
    for op, instant in filters.updated_at:
        conditions.append(TIME_OPERATORS[op](Image.updated_at, instant))
    for key, wanted in filters.exact.items():
        conditions.append(EXACT_COLUMNS[key] == wanted)
    for key, value in filters.properties.items():
        conditions.append(Image.properties[key].as_string() == value)
    return conditions


def list_statement(
    ctx: RequestContext, region: str, filters: ImageFilters, page: Page, marker: Image | None
) -> Select[Any]:
    stmt = select(Image).where(
        Image.region == region, access.list_condition(ctx, filters), *_where(filters)
    )
    return paginate(
        stmt, page, SORT_COLUMNS, Image.id, marker, default_sort=(("created_at", "desc"),)
    )
