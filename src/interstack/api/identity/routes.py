"""The identity route table: every Keystone v3 path served, in one place."""

from __future__ import annotations

from fastapi import APIRouter

from interstack.api.identity import (
    app_credentials,
    auth,
    auth_scopes,
    domains,
    grants,
    projects,
    regions,
    roles,
    users,
    versions,
)
from interstack.api.routing import Route, add_routes
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
    Route("GET", "/v3/auth/projects", auth_scopes.auth_projects),
    Route("GET", "/v3/auth/domains", auth_scopes.auth_domains),
    # regions (the gateway's configured ones: a change is refused)
    Route("GET", "/v3/regions", regions.list_regions),
    Route("POST", "/v3/regions", regions.create_region, status=201),
    Route("GET", "/v3/regions/{region_id}", regions.show_region),
    Route("PUT", "/v3/regions/{region_id}", regions.create_region_with_id, status=201),
    Route("PATCH", "/v3/regions/{region_id}", regions.update_region),
    Route("DELETE", "/v3/regions/{region_id}", regions.delete_region, status=204),
    # domains
    Route("GET", "/v3/domains", domains.list_domains),
    Route("POST", "/v3/domains", domains.create_domain, status=201),
    Route("GET", "/v3/domains/{domain_id}", domains.show_domain),
    Route("PATCH", "/v3/domains/{domain_id}", domains.update_domain),
    Route("DELETE", "/v3/domains/{domain_id}", domains.delete_domain, status=204),
    # projects
    Route("GET", "/v3/projects", projects.list_projects),
    Route("POST", "/v3/projects", projects.create_project, status=201),
    Route("GET", "/v3/projects/{project_id}", projects.show_project),
    Route("PATCH", "/v3/projects/{project_id}", projects.update_project),
    Route("DELETE", "/v3/projects/{project_id}", projects.delete_project, status=204),
    # users
    Route("GET", "/v3/users", users.list_users),
    Route("POST", "/v3/users", users.create_user, status=201),
    Route("GET", "/v3/users/{user_id}", users.show_user),
    Route("PATCH", "/v3/users/{user_id}", users.update_user),
    Route("DELETE", "/v3/users/{user_id}", users.delete_user, status=204),
    Route("POST", "/v3/users/{user_id}/password", users.change_password, status=204),
    Route("GET", "/v3/users/{user_id}/projects", users.list_user_projects),
    # application credentials
    Route(
        "GET", "/v3/users/{user_id}/application_credentials", app_credentials.list_app_credentials
    ),
    Route(
        "POST",
        "/v3/users/{user_id}/application_credentials",
        app_credentials.create_app_credential,
        status=201,
    ),
    Route(
        "GET",
        "/v3/users/{user_id}/application_credentials/{credential_id}",
        app_credentials.show_app_credential,
    ),
    Route(
        "DELETE",
        "/v3/users/{user_id}/application_credentials/{credential_id}",
        app_credentials.delete_app_credential,
        status=204,
    ),
    # roles
    Route("GET", "/v3/roles", roles.list_roles),
    Route("POST", "/v3/roles", roles.create_role, status=201),
    Route("GET", "/v3/roles/{role_id}", roles.show_role),
    Route("PATCH", "/v3/roles/{role_id}", roles.update_role),
    Route("DELETE", "/v3/roles/{role_id}", roles.delete_role, status=204),
    # grants
    Route("GET", "/v3/projects/{project_id}/users/{user_id}/roles", grants.list_project_user_roles),
    Route(
        "PUT",
        "/v3/projects/{project_id}/users/{user_id}/roles/{role_id}",
        grants.grant_project_user_role,
        status=204,
    ),
    Route(
        "GET",
        "/v3/projects/{project_id}/users/{user_id}/roles/{role_id}",
        grants.check_project_user_role,
        status=204,
    ),
    Route(
        "HEAD",
        "/v3/projects/{project_id}/users/{user_id}/roles/{role_id}",
        grants.check_project_user_role,
        status=204,
    ),
    Route(
        "DELETE",
        "/v3/projects/{project_id}/users/{user_id}/roles/{role_id}",
        grants.revoke_project_user_role,
        status=204,
    ),
    Route("GET", "/v3/domains/{domain_id}/users/{user_id}/roles", grants.list_domain_user_roles),
    Route(
        "PUT",
        "/v3/domains/{domain_id}/users/{user_id}/roles/{role_id}",
        grants.grant_domain_user_role,
        status=204,
    ),
    Route(
        "GET",
        "/v3/domains/{domain_id}/users/{user_id}/roles/{role_id}",
        grants.check_domain_user_role,
        status=204,
    ),
    Route(
        "HEAD",
        "/v3/domains/{domain_id}/users/{user_id}/roles/{role_id}",
        grants.check_domain_user_role,
        status=204,
    ),
    Route(
        "DELETE",
        "/v3/domains/{domain_id}/users/{user_id}/roles/{role_id}",
        grants.revoke_domain_user_role,
        status=204,
    ),
    Route("GET", "/v3/system/users/{user_id}/roles", grants.list_system_user_roles),
    Route(
        "PUT",
        "/v3/system/users/{user_id}/roles/{role_id}",
        grants.grant_system_user_role,
        status=204,
    ),
    Route(
        "GET",
        "/v3/system/users/{user_id}/roles/{role_id}",
        grants.check_system_user_role,
        status=204,
    ),
    Route(
        "HEAD",
        "/v3/system/users/{user_id}/roles/{role_id}",
        grants.check_system_user_role,
        status=204,
    ),
    Route(
        "DELETE",
        "/v3/system/users/{user_id}/roles/{role_id}",
        grants.revoke_system_user_role,
        status=204,
    ),
    Route("GET", "/v3/role_assignments", grants.list_role_assignments),
]


def add_to(router: APIRouter) -> None:
    add_routes(router, ROUTES)
