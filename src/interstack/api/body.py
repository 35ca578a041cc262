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
from pydantic_core import ErrorDetails

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


#: what pydantic puts before the message of a validator's own ValueError or assertion
_PYDANTIC_PREFIXES = ("Value error, ", "Assertion failed, ")


def _reason(error: ErrorDetails) -> str:
    """The error's message as the validator wrote it, without pydantic's prefix."""
    message = error["msg"]
    for prefix in _PYDANTIC_PREFIXES:
        message = message.removeprefix(prefix)
    return message


def validation_message(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "body"
    return f"Invalid input for field '{where}': {_reason(first)}."


def nova_validation_message(exc: ValidationError) -> str:
    """Nova's (and Cinder's) wording of a body its schema refuses: the field by its own name,
    the value given, then why — ``Invalid input for field/attribute force. Value: y. ...``."""
    first = exc.errors()[0]
    loc = [str(p) for p in first["loc"]]
    if first["type"] == "missing" and loc:
        # Nova names the object that lacks the property, and the property in the reason
        name, loc = loc[-1], loc[:-1]
        reason = f"'{name}' is a required property"
    elif first["type"] == "extra_forbidden" and loc:
        return f"Additional properties are not allowed ('{loc[-1]}' was unexpected)."
    else:
        reason = _reason(first)
    if not loc:
        return f"{reason}."
    return f"Invalid input for field/attribute {loc[-1]}. Value: {first['input']}. {reason}."


def parse(
    model: type[Model],
    data: Any,
    message: Callable[[ValidationError], str] = validation_message,
) -> Model:
    """``data`` validated as ``model``; a refusal is the 400 ``message`` words."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise BadRequest(message(exc)) from exc


def json_body(
    model: type[Model], message: Callable[[ValidationError], str] = validation_message
) -> Callable[[Request], Awaitable[Model]]:
    """A dependency that yields the request body parsed and validated as ``model``."""

    async def dependency(request: Request) -> Model:
        return parse(model, await read_json(request), message)

    return dependency
