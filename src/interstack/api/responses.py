"""JSON responses rendered with orjson (fast for large listings)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from starlette.responses import Response


class OrjsonResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def json_response(
    body: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> OrjsonResponse:
    return OrjsonResponse(body, status_code=status, headers=dict(headers or {}))


def empty_response(status: int = 204, headers: Mapping[str, str] | None = None) -> Response:
    return Response(status_code=status, headers=dict(headers or {}))
