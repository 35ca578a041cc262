"""Explicit route tables: one line per (method, path, handler), read top to bottom."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter
from fastapi.params import Depends


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    handler: Callable[..., Any]
    status: int = 200


def add_routes(
    router: APIRouter,
    table: Sequence[Route],
    prefix: str = "",
    dependencies: Sequence[Depends] = (),
) -> None:
    """Each route of ``table`` under ``prefix``, added to ``router`` itself.

    Services add their routes straight to the app's router rather than including routers of their
    own: FastAPI analyses a route's handler where it is added and again for every router it is
    included through, which made that analysis most of a gateway's start-up.
    """
    for route in table:
        router.add_api_route(
            f"{prefix}{route.path}",
            route.handler,
            methods=[route.method],
            status_code=route.status,
            name=f"{route.method} {prefix}{route.path}",
            dependencies=list(dependencies),
        )
