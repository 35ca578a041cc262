"""Query parameters and bodies of Nova requests: paging, integers, booleans, versioned schemas."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from fastapi import Request
from pydantic import BaseModel
from starlette.datastructures import QueryParams

from interstack.api.body import nova_validation_message, parse, read_json
from interstack.api.compute.versions import VERSIONS
from interstack.api.microversions import APIVersion
from interstack.errors import BadRequest, NotFound
from interstack.services.listing import Page, SortDir

#: Nova's ``[api] max_limit``: the most items one page holds, whatever ``limit`` asks
MAX_LIMIT = 1000

_TRUE = frozenset({"1", "t", "true", "on", "y", "yes"})
_FALSE = frozenset({"0", "f", "false", "off", "n", "no"})

Model = TypeVar("Model", bound=BaseModel)


def integer(query: QueryParams, name: str, minimum: int = 0) -> int | None:
    """An integer query parameter, None when absent; 400 if it is not one or below ``minimum``."""
    value = query.get(name)
    if value is None:
        return None
    try:
        number = int(value.strip())
    except ValueError as exc:
        raise BadRequest(
            f"Invalid input for query parameters {name}: {value!r} is not an integer."
        ) from exc
    if number < minimum:
        raise BadRequest(
            f"Invalid input for query parameters {name}: {number} is less than {minimum}."
        )
    return number


def boolean(value: str, name: str) -> bool:
    """A boolean as oslo's ``bool_from_string(strict=True)`` reads it."""
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise BadRequest(f"Invalid value {value!r} for {name}: expected a boolean.")


def effective_limit(query: QueryParams) -> int:
    requested = integer(query, "limit")
    return MAX_LIMIT if requested is None else min(requested, MAX_LIMIT)


def page(query: QueryParams, default_sort: str | None = None) -> Page:
    """``limit`` (capped at :data:`MAX_LIMIT`), ``marker``, one ``sort_key``/``sort_dir``."""
    sort: list[tuple[str, SortDir]] = []
    key = query.get("sort_key", default_sort)
    if key is not None:
        direction = query.get("sort_dir", "asc")
        if direction not in ("asc", "desc"):
            raise BadRequest(f"Invalid sort direction {direction!r}; use 'asc' or 'desc'.")
        sort.append((key, "asc" if direction == "asc" else "desc"))
    return Page(limit=effective_limit(query), marker=query.get("marker"), sort=tuple(sort))


def since(first: APIVersion) -> Callable[[Request], Awaitable[None]]:
    """A dependency: the route exists from microversion ``first`` on; before it, Nova's 404."""

    async def dependency(request: Request) -> None:
        if VERSIONS.negotiate(request.headers) < first:
            raise NotFound("The resource could not be found.")

    return dependency


def versioned_body(
    *choices: tuple[APIVersion, type[Model]],
) -> Callable[[Request], Awaitable[Model]]:
    """A dependency parsing the body with the schema of the request's microversion range.

    ``choices`` pairs the first version of each schema with it, oldest first.
    """

    async def dependency(request: Request) -> Model:
        version = VERSIONS.negotiate(request.headers)
        chosen = choices[0][1]
        for since, model in choices:
            if version >= since:
                chosen = model
        return parse(chosen, await read_json(request), nova_validation_message)

    return dependency
