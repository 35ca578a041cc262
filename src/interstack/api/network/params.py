"""Neutron's list query: attribute filters, ``fields``, ``sort_key``/``sort_dir``, marker/limit
paging with ``<collection>_links``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from fastapi import Request
from starlette.datastructures import URL, QueryParams

from interstack.api.responses import OrjsonResponse, json_response
from interstack.errors import BadRequest
from interstack.services.listing import Page, parse_sort
from interstack.services.network.common import Filters

T = TypeVar("T")
_CONTROL = {"fields", "sort_key", "sort_dir", "limit", "marker", "page_reverse"}


@dataclass(frozen=True)
class ListQuery:
    filters: Filters
    page: Page
    fields: tuple[str, ...]


def fields_of(query: QueryParams) -> tuple[str, ...]:
    return tuple(f for value in query.getlist("fields") for f in value.split(",") if f)


def list_query(query: QueryParams) -> ListQuery:
    limit_text = query.get("limit")
    limit = None
    if limit_text is not None:
        try:
            limit = int(limit_text)
        except ValueError as exc:
            raise BadRequest(f"Bad limit request: '{limit_text}' is not an integer.") from exc
        if limit < 0:
            raise BadRequest(f"Bad limit request: limit {limit} must be an integer 0 or greater.")
        limit = limit or None  # Neutron: 0 means no limit
    sort = parse_sort(query.getlist("sort_key"), query.getlist("sort_dir"))
    filters = {k: query.getlist(k) for k in query if k not in _CONTROL}
    return ListQuery(
        filters=filters,
        page=Page(limit=limit, marker=query.get("marker"), sort=sort),
        fields=fields_of(query),
    )


def select_fields(body: dict[str, Any], fields: Sequence[str]) -> dict[str, Any]:
    """Only the asked-for attributes (all of them when ``fields`` is empty)."""
    if not fields:
        return body
    return {k: v for k, v in body.items() if k in fields}


def single(key: str, body: dict[str, Any], request: Request, status: int = 200) -> OrjsonResponse:
    """``{key: body}``, cut down to the ``fields`` the request asks for."""
    return json_response({key: select_fields(body, fields_of(request.query_params))}, status)


def collection(
    name: str,
    items: Sequence[T],
    view: Callable[[T], dict[str, Any]],
    query: ListQuery,
    url: URL,
) -> dict[str, Any]:
    """``{name: [...], name_links: [...]}``; a ``next`` link when the page is full (reverse
    paging is not offered, so there is no ``previous`` link)."""
    body: dict[str, Any] = {name: [select_fields(view(i), query.fields) for i in items]}
    limit = query.page.limit
    if limit is not None:
        links = []
        if len(items) == limit and items:
            last = view(items[-1])["id"]
            links.append(
                {"rel": "next", "href": str(url.include_query_params(limit=limit, marker=last))}
            )
        body[f"{name}_links"] = links
    return body
