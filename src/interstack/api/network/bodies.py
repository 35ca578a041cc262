"""Neutron request bodies are wrapped: ``{"network": {...}}``, or ``{"ports": [...]}`` in bulk."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from fastapi import Request
from pydantic import BaseModel

from interstack.api.body import parse, read_json
from interstack.errors import BadRequest

Model = TypeVar("Model", bound=BaseModel)


def _member(data: Any, key: str) -> Any:
    if not isinstance(data, dict) or key not in data:
        raise BadRequest(f"Bad request: unable to find '{key}' in request body.")
    return data[key]


def wrapped(key: str, model: type[Model]) -> Callable[[Request], Awaitable[Model]]:
    """A dependency: the object under ``key``, validated as ``model``."""

    async def dependency(request: Request) -> Model:
        value = _member(await read_json(request), key)
        if not isinstance(value, dict):
            raise BadRequest(f"Bad request: '{key}' must be an object.")
        return parse(model, value)

    return dependency


def one_or_bulk(
    singular: str, plural: str, model: type[Model]
) -> Callable[[Request], Awaitable[tuple[list[Model], bool]]]:
    """A dependency: ``([item], False)`` for ``{singular: {...}}``, ``(items, True)`` for
    ``{plural: [...]}``."""

    async def dependency(request: Request) -> tuple[list[Model], bool]:
        data = await read_json(request)
        if isinstance(data, dict) and plural in data:
            items = data[plural]
            if not isinstance(items, list) or not items:
                raise BadRequest(f"Bad request: '{plural}' must be a non-empty list.")
            return [parse(model, item) for item in items], True
        value = _member(data, singular)
        if not isinstance(value, dict):
            raise BadRequest(f"Bad request: '{singular}' must be an object.")
        return [parse(model, value)], False

    return dependency


def changes(body: BaseModel) -> dict[str, Any]:
    """The attributes an update names, by field name (an explicit null included)."""
    return {name: getattr(body, name) for name in body.model_fields_set}
