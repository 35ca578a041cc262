"""Handlers of role grants on projects, domains and the system, and ``/v3/role_assignments``.

Each scope has the same four calls: list a user's roles, grant (PUT), check (HEAD/GET) and
revoke (DELETE) one role. They share the helpers below; each route still has its own handler,
so the route table names every (method, path) explicitly.
"""

from __future__ import annotations

from fastapi import Request
from starlette.responses import Response

from interstack.api.deps import Caller, ServicesDep
from interstack.api.identity import params
from interstack.api.identity import views_admin as views
from interstack.api.responses import OrjsonResponse, empty_response, json_response
from interstack.services.container import Services
from interstack.services.context import RequestContext
from interstack.services.identity import policy
from interstack.services.identity.assignments import (
    DOMAIN,
    PROJECT,
    SYSTEM,
    SYSTEM_ALL,
    AssignmentFilter,
)


def _target(scope_type: str, scope_id: str, user_id: str) -> policy.Target:
    return policy.Target(
        user_id=user_id,
        project_id=scope_id if scope_type == PROJECT else None,
        domain_id=scope_id if scope_type == DOMAIN else None,
    )


def _actions(scope_type: str) -> dict[str, str]:
    if scope_type == SYSTEM:
        return {
            "list": "identity:list_system_grants_for_user",
            "check": "identity:check_system_grant_for_user",
            "create": "identity:create_system_grant_for_user",
            "revoke": "identity:revoke_system_grant_for_user",
        }
    return {
        "list": "identity:list_grants",
        "check": "identity:check_grant",
        "create": "identity:create_grant",
        "revoke": "identity:revoke_grant",
    }


def _list(
    request: Request,
    services: Services,
    caller: RequestContext,
    scope_type: str,
    scope_id: str,
    user_id: str,
) -> OrjsonResponse:
    action = _actions(scope_type)["list"]
    policy.enforce(caller, action, _target(scope_type, scope_id, user_id))
    found = services.assignments.list_grants(user_id, scope_type, scope_id)
    base = services.settings.base_url
    return json_response(
        views.collection("roles", [views.role(r, base) for r in found], base, request.url)
    )


def _check(
    services: Services,
    caller: RequestContext,
    scope_type: str,
    scope_id: str,
    user_id: str,
    role_id: str,
) -> Response:
    policy.enforce(caller, _actions(scope_type)["check"], _target(scope_type, scope_id, user_id))
    services.assignments.check_grant(user_id, scope_type, scope_id, role_id)
    return empty_response(204)


def _grant(
    services: Services,
    caller: RequestContext,
    scope_type: str,
    scope_id: str,
    user_id: str,
    role_id: str,
) -> Response:
    policy.enforce(caller, _actions(scope_type)["create"], _target(scope_type, scope_id, user_id))
    services.assignments.grant(user_id, scope_type, scope_id, role_id)
    return empty_response(204)


def _revoke(
    services: Services,
    caller: RequestContext,
    scope_type: str,
    scope_id: str,
    user_id: str,
    role_id: str,
) -> Response:
    policy.enforce(caller, _actions(scope_type)["revoke"], _target(scope_type, scope_id, user_id))
    services.assignments.revoke_grant(user_id, scope_type, scope_id, role_id)
    return empty_response(204)


# -- /v3/projects/{project_id}/users/{user_id}/roles ---------------------------------------------


def list_project_user_roles(
    project_id: str, user_id: str, request: Request, services: ServicesDep, caller: Caller
) -> OrjsonResponse:
    return _list(request, services, caller, PROJECT, project_id, user_id)


def check_project_user_role(
    project_id: str, user_id: str, role_id: str, services: ServicesDep, caller: Caller
) -> Response:
    return _check(services, caller, PROJECT, project_id, user_id, role_id)


def grant_project_user_role(
    project_id: str, user_id: str, role_id: str, services: ServicesDep, caller: Caller
) -> Response:
    return _grant(services, caller, PROJECT, project_id, user_id, role_id)


def revoke_project_user_role(
    project_id: str, user_id: str, role_id: str, services: ServicesDep, caller: Caller
) -> Response:
    return _revoke(services, caller, PROJECT, project_id, user_id, role_id)


# -- /v3/domains/{domain_id}/users/{user_id}/roles -----------------------------------------------


def list_domain_user_roles(
    domain_id: str, user_id: str, request: Request, services: ServicesDep, caller: Caller
) -> OrjsonResponse:
    return _list(request, services, caller, DOMAIN, domain_id, user_id)


def check_domain_user_role(
    domain_id: str, user_id: str, role_id: str, services: ServicesDep, caller: Caller
) -> Response:
    return _check(services, caller, DOMAIN, domain_id, user_id, role_id)


def grant_domain_user_role(
    domain_id: str, user_id: str, role_id: str, services: ServicesDep, caller: Caller
) -> Response:
    return _grant(services, caller, DOMAIN, domain_id, user_id, role_id)


def revoke_domain_user_role(
    domain_id: str, user_id: str, role_id: str, services: ServicesDep, caller: Caller
) -> Response:
    return _revoke(services, caller, DOMAIN, domain_id, user_id, role_id)


# -- /v3/system/users/{user_id}/roles ------------------------------------------------------------


def list_system_user_roles(
    user_id: str, request: Request, services: ServicesDep, caller: Caller
) -> OrjsonResponse:
    return _list(request, services, caller, SYSTEM, SYSTEM_ALL, user_id)


def check_system_user_role(
    user_id: str, role_id: str, services: ServicesDep, caller: Caller
) -> Response:
    return _check(services, caller, SYSTEM, SYSTEM_ALL, user_id, role_id)


def grant_system_user_role(
    user_id: str, role_id: str, services: ServicesDep, caller: Caller
) -> Response:
    return _grant(services, caller, SYSTEM, SYSTEM_ALL, user_id, role_id)


def revoke_system_user_role(
    user_id: str, role_id: str, services: ServicesDep, caller: Caller
) -> Response:
    return _revoke(services, caller, SYSTEM, SYSTEM_ALL, user_id, role_id)


# -- /v3/role_assignments ------------------------------------------------------------------------


def list_role_assignments(
    request: Request, services: ServicesDep, caller: Caller
) -> OrjsonResponse:
    """GET /v3/role_assignments — filters ``user.id``, ``scope.project.id``, ``scope.domain.id``,
    ``scope.system``, ``role.id``; flags ``effective`` and ``include_names``.
    """
    query = request.query_params
    user_id = query.get("user.id")
    policy.enforce(caller, "identity:list_role_assignments", policy.Target(user_id=user_id))
    base = services.settings.base_url
    if query.get("group.id"):
        # Groups are not served: no group holds a role.
        return json_response(views.collection("role_assignments", [], base, request.url))
    found = services.assignments.list_assignments(
        AssignmentFilter(
            user_id=user_id,
            project_id=query.get("scope.project.id"),
            domain_id=query.get("scope.domain.id"),
            system=query.get("scope.system") is not None,
            role_id=query.get("role.id"),
            effective=params.flag(query, "effective"),
            include_names=params.flag(query, "include_names"),
        )
    )
    inherited_only = query.get("scope.OS-INHERIT:inherited_to") == "projects"
    if inherited_only:
        found = [a for a in found if a.inherited]
    return json_response(
        views.collection(
            "role_assignments", [views.assignment(a, base) for a in found], base, request.url
        )
    )
