"""Reading JSON request bodies: bounded in size, parsed strictly, validated by a schema.

Used instead of FastAPI's implicit body parsing so that every malformed, oversized or invalid body
gets the service's own 400/413 fault with a message a person can act on.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import orjson
from fastapi import Request
from pydantic import BaseModel, ValidationError

from interstack.errors import BadRequest, PayloadTooLarge

Model = TypeVar("Model", bound=BaseModel)


def body_limit(request: Request) -> int:
    limit: int = request.app.state.services.settings.max_request_body_bytes
    return limit


async def read_limited(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"Request is too large: the body may hold at most {limit} bytes.")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"Request is too large: the body may hold at most {limit} bytes.")
        chunks.append(chunk)
    return b"".join(chunks)


async def read_json(request: Request) -> Any:
    raw = await read_limited(request, body_limit(request))
    if not raw.strip():
        raise BadRequest("The request body is empty; a JSON object was expected.")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"Malformed JSON in request body: {exc.args[0]}.") from exc


def validation_message(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "body"
    return f"Invalid input for field '{where}': {first['msg']}."


def parse(model: type[Model], data: Any) -> Model:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise BadRequest(validation_message(exc)) from exc


def json_body(model: type[Model]) -> Callable[[Request], Awaitable[Model]]:
    """A dependency that yields the request body parsed and validated as ``model``."""

    async def dependency(request: Request) -> Model:
        return parse(model, await read_json(request))

    return dependency
