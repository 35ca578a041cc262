"""Swift listings: names in byte order after ``marker`` and before ``end_marker``, under a
``prefix``, with everything past the next ``delimiter`` collapsed into one ``subdir``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import Select, func
from sqlalchemy.orm import InstrumentedAttribute, Session

from interstack.services.object.model import ListQuery, Subdir

Row = TypeVar("Row")

#: sorts after every name that starts with a given prefix (the highest code point)
_AFTER_ALL = "\U0010ffff"


def list_names(
    session: Session,
    base: Select[Any],
    name: InstrumentedAttribute[str],
    query: ListQuery,
    name_of: Callable[[Any], str],
) -> list[Any | Subdir]:
    """The page ``query`` asks for: rows of ``base`` (a select of one entity) and subdirs."""
    prefix, delimiter = query.prefix, query.delimiter
    stmt = base
    if prefix:
        stmt = stmt.where(name >= prefix, func.substr(name, 1, len(prefix)) == prefix)
    # forward: (after, before) are the exclusive bounds; reverse walks from ``before`` down
    after = query.end_marker if query.reverse else query.marker
    before = query.marker if query.reverse else query.end_marker
    results: list[Any | Subdir] = []
    while len(results) < query.limit:
        page = stmt
        if after:
            page = page.where(name > after)
        if before:
            page = page.where(name < before)
        page = page.order_by(name.desc() if query.reverse else name.asc())
        want = query.limit - len(results)
        rows = session.scalars(page.limit(want)).all()
        if not rows:
            break
        collapsed = False
        for row in rows:
            row_name = name_of(row)
            cut = row_name.find(delimiter, len(prefix)) if delimiter else -1
            if cut < 0:
                results.append(row)
                if query.reverse:
                    before = row_name
                else:
                    after = row_name
                continue
            subdir = row_name[: cut + len(delimiter)]
            results.append(Subdir(subdir))
            if query.reverse:
                before = subdir
            else:
                after = subdir + _AFTER_ALL
            collapsed = True
            break
        if not collapsed and len(rows) < want:
            break
    return results[: query.limit]
