"""Handlers of ``/v3/auth/projects`` and ``/v3/auth/domains``: what the caller may scope to."""

from __future__ import annotations

from fastapi import Request

from interstack.api.deps import Caller, ServicesDep
from interstack.api.identity import views_admin as views
from interstack.api.responses import OrjsonResponse, json_response
from interstack.services.identity import policy


def auth_projects(request: Request, services: ServicesDep, caller: Caller) -> OrjsonResponse:
    """GET /v3/auth/projects — enabled projects the caller's user has a role on."""
    policy.enforce(caller, "identity:get_auth_projects", policy.Target(user_id=caller.user_id))
    found = services.assignments.user_projects(caller.user_id, enabled_only=True)
    base = services.settings.base_url
    return json_response(
        views.collection("projects", [views.project(p, base) for p in found], base, request.url)
    )


def auth_domains(request: Request, services: ServicesDep, caller: Caller) -> OrjsonResponse:
    """GET /v3/auth/domains — enabled domains the caller's user has a role on."""
    policy.enforce(caller, "identity:get_auth_domains", policy.Target(user_id=caller.user_id))
    found = services.assignments.user_domains(caller.user_id)
    base = services.settings.base_url
    return json_response(
        views.collection("domains", [views.domain(d, base) for d in found], base, request.url)
    )
