"""Nova's links: ``self`` (versioned) and ``bookmark`` (unversioned), and ``next`` for paging."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import urlencode

from starlette.datastructures import QueryParams


def resource_links(root: str, collection: str, item_id: str) -> list[dict[str, str]]:
    """``root`` is the unversioned compute endpoint of the region (``.../<region>/compute``)."""
    return [
        {"rel": "self", "href": f"{root}/v2.1/{collection}/{item_id}"},
        {"rel": "bookmark", "href": f"{root}/{collection}/{item_id}"},
    ]


def next_links(
    href: str, query: QueryParams, ids: Sequence[str], limit: int
) -> list[dict[str, Any]]:
    """A ``next`` link to ``href`` when the page is full: the same query, the last id as marker."""
    if not ids or len(ids) < limit:
        return []
    params = [(k, v) for k, v in query.multi_items() if k != "marker"]
    params.append(("marker", ids[-1]))
    return [{"rel": "next", "href": f"{href}?{urlencode(params)}"}]
