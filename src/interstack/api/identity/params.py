"""Query parameters of Keystone listings: filters by value and boolean flags."""

from __future__ import annotations

from starlette.datastructures import QueryParams

from interstack.errors import BadRequest

_FALSE = frozenset({"0", "false", "no", "off"})
_TRUE = frozenset({"1", "true", "yes", "on", ""})


def flag(query: QueryParams, name: str) -> bool:
    """A Keystone flag (``?effective``, ``?include_names=True``): present and not false."""
    value = query.get(name)
    return value is not None and value.strip().lower() not in _FALSE


def optional_bool(query: QueryParams, name: str) -> bool | None:
    """A boolean filter such as ``?enabled=false``; None when absent."""
    value = query.get(name)
    if value is None:
        return None
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise BadRequest(f"Invalid value for query parameter {name}: expected true or false.")
