"""Explicit route tables: one line per (method, path, handler), read top to bottom."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    handler: Callable[..., Any]
    status: int = 200


def build_router(table: Sequence[Route], prefix: str = "") -> APIRouter:
    router = APIRouter(prefix=prefix)
    for route in table:
        router.add_api_route(
            route.path,
            route.handler,
            methods=[route.method],
            status_code=route.status,
            name=f"{route.method} {prefix}{route.path}",
        )
    return router
