"""The app's routes grouped by service (api/routing.py ``group_routes``): every request picks
the route it picked when the router tried each route in turn, and a request tries only the
patterns of its own service."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute, Match

from interstack.api.routing import RouteGroup
from interstack.app import create_app
from interstack.config import RegionConfig, Settings
from tests.support.gateway import CHEAP_PASSWORD_HASHING

REGION = "RegionOne"


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> FastAPI:
    data = tmp_path_factory.mktemp("route-groups") / "data"
    regions = [RegionConfig(name=REGION, backend="sim")]
    return create_app(Settings(data_dir=data, regions=regions, **CHEAP_PASSWORD_HASHING))


def flat(routes: list[BaseRoute]) -> Iterator[BaseRoute]:
    for route in routes:
        if isinstance(route, RouteGroup):
            yield from flat(route.routes)
        else:
            yield route


def chosen(
    routes: list[BaseRoute], method: str, path: str, root_path: str = ""
) -> tuple[Match, Any]:
    """The route a router's loop hands the request to: the first full match, else the first
    partial one (a 405)."""
    scope = {"type": "http", "method": method, "path": path, "root_path": root_path}
    partial = None
    for route in routes:
        match, child_scope = route.matches(dict(scope))
        if match is Match.FULL:
            return match, child_scope["route"]
        if match is Match.PARTIAL and partial is None:
            partial = child_scope["route"]
    return (Match.PARTIAL, partial) if partial is not None else (Match.NONE, None)


def concrete(template: str) -> str:
    """A request path of a route template: the region's name, ``x`` for other parameters."""
    return re.sub(r"\{[^}]+\}", "x", template.replace("{region}", REGION))


def test_the_services_routes_are_grouped(app: FastAPI) -> None:
    heads = {r.head for r in app.router.routes if isinstance(r, RouteGroup)}
    for service in ("compute", "image", "network", "volume", "object"):
        assert (2, service) in heads
    assert (1, "v3") in heads


def test_every_request_picks_the_route_the_ungrouped_router_picked(app: FastAPI) -> None:
    routes = list(app.router.routes)
    ungrouped = list(flat(routes))
    assert len(ungrouped) > 250
    checked = 0
    for route in ungrouped:
        assert isinstance(route, APIRoute)
        path = concrete(route.path)
        for method in (*sorted(route.methods or ()), "PATCH", "TRACE"):
            for variant in (path, f"{path}/", path.rstrip("/"), f"/elsewhere{path}"):
                assert chosen(routes, method, variant) == chosen(ungrouped, method, variant), (
                    method,
                    variant,
                )
                checked += 1
    assert checked > 2000


def test_a_gateway_served_under_a_root_path_picks_the_same_routes(app: FastAPI) -> None:
    """Behind a proxy that serves the gateway under a prefix (ASGI's ``root_path``), routes
    match the path past the prefix, and so must the groups' look at the service's segment."""
    routes = list(app.router.routes)
    ungrouped = list(flat(routes))
    for route in ungrouped:
        assert isinstance(route, APIRoute)
        path = f"/gateway{concrete(route.path)}"
        for method in sorted(route.methods or ()):
            grouped = chosen(routes, method, path, root_path="/gateway")
            assert grouped == chosen(ungrouped, method, path, root_path="/gateway"), path
            assert grouped[0] is Match.FULL, (method, path)


def test_a_neutron_request_tries_only_neutrons_patterns(
    app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    tried: list[str] = []
    original = APIRoute.matches

    def recording(route: APIRoute, scope: Any) -> tuple[Match, Any]:
        tried.append(route.path)
        return original(route, scope)

    monkeypatch.setattr(APIRoute, "matches", recording)
    match, route = chosen(app.router.routes, "POST", f"/{REGION}/network/v2.0/security-group-rules")
    assert match is Match.FULL
    assert route.path == "/{region}/network/v2.0/security-group-rules"
    others = [p for p in tried if not p.startswith("/{region}/network/")]
    assert len(others) <= 2, others  # the routes of no service: ``/`` and ``/info``
    assert len(tried) < 50
