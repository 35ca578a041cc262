"""Explicit route tables: one line per (method, path, handler), read top to bottom, and the
app's routes gathered by service once every service added its own (``group_routes``) — the router
tries routes one by one, and a request should try only its own service's patterns, not ~300."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter
from fastapi.params import Depends
from fastapi.routing import APIRoute
from starlette._utils import get_route_path
from starlette.datastructures import URLPath
from starlette.routing import BaseRoute, Match, NoMatchFound
from starlette.types import Receive, Scope, Send

#: where a request's path split into its first segments is kept while the router tries routes
_SEGMENTS = "interstack.path_segments"
#: how many leading segments tell the services apart: ``/{region}/<service>/...``, ``/v3/...``
_HEAD = 3


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


def literal_head(path: str) -> tuple[int, str] | None:
    """The first literal segment among a path template's first two, with its index in
    ``path.split("/")``, when only plain ``{name}`` parameters (one segment each) come before it:
    ``/{region}/network/v2.0/ports`` -> ``(2, "network")``, ``/v3/auth/tokens`` -> ``(1, "v3")``.
    None when there is none (``/{region}``, ``/{path:path}``)."""
    segments = path.split("/", _HEAD)
    for index in range(1, min(len(segments), _HEAD)):
        segment = segments[index]
        if "{" not in segment:
            return index, segment
        if not (segment.startswith("{") and segment.endswith("}") and ":" not in segment):
            return None  # a convertor (``{path:path}``) or text around a parameter
    return None


def _segment(scope: Scope, index: int) -> str | None:
    """The ``index``-th segment of the request's route path, split once per path."""
    path = get_route_path(scope)
    kept = scope.get(_SEGMENTS)
    if kept is None or kept[0] != path:
        kept = scope[_SEGMENTS] = (path, path.split("/", _HEAD))
    segments: list[str] = kept[1]
    return segments[index] if index < len(segments) else None


class RouteGroup(BaseRoute):
    """Consecutive routes of one router whose templates share a literal leading segment
    (``network`` in ``/{region}/network/...``), tried as one: a path without that segment is
    no match at once, as none of their patterns could match it.

    The router tries its ~300 routes in order for every request, each a regular expression;
    a Neutron request went through every Keystone, Nova and Glance pattern first. Grouped, it
    tries one segment per service and then its own service's patterns, in the same order as
    before: the route chosen, a 405 for a path with other methods and the trailing-slash
    redirect are the same.
    """

    def __init__(self, head: tuple[int, str], routes: Sequence[BaseRoute]) -> None:
        self.head = head
        self.routes = list(routes)

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        index, text = self.head
        if scope["type"] == "http" and _segment(scope, index) != text:
            return Match.NONE, {}
        partial: Scope | None = None
        for route in self.routes:
            match, child_scope = route.matches(scope)
            if match is Match.FULL:
                return match, child_scope
            if match is Match.PARTIAL and partial is None:
                partial = child_scope
        if partial is not None:
            return Match.PARTIAL, partial
        return Match.NONE, {}

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        # the matched route's child scope named it (``APIRoute.matches`` sets ``route``)
        route: BaseRoute = scope["route"]
        await route.handle(scope, receive, send)

    def url_path_for(self, name: str, /, **path_params: Any) -> URLPath:
        for route in self.routes:
            try:
                return route.url_path_for(name, **path_params)
            except NoMatchFound:
                pass
        raise NoMatchFound(name, path_params)


def group_routes(router: APIRouter) -> None:
    """Gather ``router``'s consecutive API routes of one literal leading segment into
    :class:`RouteGroup` s (call it once every service added its routes); the order of the
    routes is kept, the others stay as they are."""
    grouped: list[BaseRoute] = []
    run: list[BaseRoute] = []
    run_head: tuple[int, str] | None = None

    def close_run() -> None:
        if run_head is not None and len(run) > 1:
            grouped.append(RouteGroup(run_head, run))
        else:
            grouped.extend(run)
        run.clear()

    for route in router.routes:
        head = literal_head(route.path) if isinstance(route, APIRoute) else None
        if head is None or head != run_head:
            close_run()
            run_head = head
        run.append(route)
    close_run()
    router.routes[:] = grouped
