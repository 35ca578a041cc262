"""The identity route table: every Keystone v3 path served, in one place."""

from __future__ import annotations

from fastapi import APIRouter

from interstack.api.identity import auth, versions
from interstack.api.routing import Route, build_router
from interstack.services.catalog import ServiceSpec

SERVICE = ServiceSpec(type="identity", name="keystone", path="v3", regional=False)

ROUTES: list[Route] = [
    Route("GET", "/", versions.list_versions),
    Route("GET", "/v3", versions.show_v3),
    Route("GET", "/v3/", versions.show_v3),
    Route("POST", "/v3/auth/tokens", auth.issue_token, status=201),
    Route("GET", "/v3/auth/tokens", auth.validate_token),
    Route("HEAD", "/v3/auth/tokens", auth.check_token),
    Route("DELETE", "/v3/auth/tokens", auth.revoke_token, status=204),
    Route("GET", "/v3/auth/catalog", auth.auth_catalog),
]


def router() -> APIRouter:
    return build_router(ROUTES)
