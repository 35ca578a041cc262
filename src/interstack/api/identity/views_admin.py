"""Wire JSON of the identity admin API, in Keystone v3's shapes.

Members carry ``links.self``; collections carry ``links`` with ``self`` and (never paged here)
``previous``/``next`` null. Extra properties are shown beside the standard fields, which win on
a clash.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from starlette.datastructures import URL

from interstack.api.identity.views import timestamp
from interstack.services.catalog import RegionInfo
from interstack.services.identity.records import (
    AppCredentialInfo,
    AssignmentInfo,
    DomainInfo,
    ProjectInfo,
    Ref,
    RoleInfo,
    UserInfo,
)

INHERITED_TO = "OS-INHERIT:inherited_to"


def collection(key: str, members: Sequence[dict[str, Any]], base: str, url: URL) -> dict[str, Any]:
    """``{key: [...], "links": {...}}``; ``self`` is the request's path and query at ``base``."""
    query = f"?{url.query}" if url.query else ""
    return {
        key: list(members),
        "links": {"self": f"{base}{url.path}{query}", "previous": None, "next": None},
    }


def domain(info: DomainInfo, base: str) -> dict[str, Any]:
    return {
        **info.extra,
        "id": info.id,
        "name": info.name,
        "description": info.description,
        "enabled": info.enabled,
        "tags": list(info.tags),
        "options": {},
        "links": {"self": f"{base}/v3/domains/{info.id}"},
    }


def project(info: ProjectInfo, base: str) -> dict[str, Any]:
    return {
        **info.extra,
        "id": info.id,
        "name": info.name,
        "domain_id": info.domain_id,
        "description": info.description,
        "enabled": info.enabled,
        "parent_id": info.parent_id,
        "is_domain": False,
        "tags": list(info.tags),
        "options": {},
        "links": {"self": f"{base}/v3/projects/{info.id}"},
    }


def user(info: UserInfo, base: str) -> dict[str, Any]:
    """A user; the password (hash) is never part of it."""
    body: dict[str, Any] = {
        **info.extra,
        "id": info.id,
        "name": info.name,
        "domain_id": info.domain_id,
        "enabled": info.enabled,
        "password_expires_at": timestamp(info.password_expires_at),
        "options": {},
        "links": {"self": f"{base}/v3/users/{info.id}"},
    }
    if info.default_project_id is not None:
        body["default_project_id"] = info.default_project_id
    if info.description:
        body["description"] = info.description
    if info.email is not None:
        body["email"] = info.email
    return body


def role(info: RoleInfo, base: str) -> dict[str, Any]:
    return {
        **info.extra,
        "id": info.id,
        "name": info.name,
        "domain_id": info.domain_id,
        "description": info.description,
        "options": {"immutable": True} if info.immutable else {},
        "links": {"self": f"{base}/v3/roles/{info.id}"},
    }


def region(info: RegionInfo, base: str) -> dict[str, Any]:
    return {
        "id": info.id,
        "description": info.description,
        "parent_region_id": info.parent_region_id,
        "links": {"self": f"{base}/v3/regions/{info.id}"},
    }


def _named(ref: Ref, *, with_domain: bool) -> dict[str, Any]:
    body: dict[str, Any] = {"id": ref.id}
    if ref.name is not None:
        body["name"] = ref.name
        if with_domain and ref.domain_id is not None:
            body["domain"] = {"id": ref.domain_id, "name": ref.domain_name}
    return body


def _assignment_link(item: AssignmentInfo, base: str) -> str:
    tail = f"users/{item.user.id}/roles/{item.role.id}"
    if item.inherited_from_domain_id is not None:
        domain_id = item.inherited_from_domain_id
        return f"{base}/v3/OS-INHERIT/domains/{domain_id}/{tail}/inherited_to_projects"
    if item.scope_type == "system":
        return f"{base}/v3/system/{tail}"
    if item.inherited:
        return f"{base}/v3/OS-INHERIT/domains/{item.scope.id}/{tail}/inherited_to_projects"
    return f"{base}/v3/{item.scope_type}s/{item.scope.id}/{tail}"


def assignment(item: AssignmentInfo, base: str) -> dict[str, Any]:
    scope: dict[str, Any]
    if item.scope_type == "system":
        scope = {"system": {"all": True}}
    else:
        scope = {item.scope_type: _named(item.scope, with_domain=item.scope_type == "project")}
    if item.inherited:
        scope[INHERITED_TO] = "projects"
    links: dict[str, str] = {"assignment": _assignment_link(item, base)}
    if item.prior_role_id is not None:
        links["prior_role"] = f"{base}/v3/roles/{item.prior_role_id}"
    return {
        "role": _named(item.role, with_domain=True),
        "user": _named(item.user, with_domain=True),
        "scope": scope,
        "links": links,
    }


def app_credential(info: AppCredentialInfo, base: str, secret: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": info.id,
        "name": info.name,
        "description": info.description,
        "user_id": info.user_id,
        "project_id": info.project_id,
        "expires_at": timestamp(info.expires_at),
        "unrestricted": info.unrestricted,
        "roles": [{"id": r.id, "name": r.name, "domain_id": r.domain_id} for r in info.roles],
        "access_rules": [],
        "links": {
            "self": f"{base}/v3/users/{info.user_id}/application_credentials/{info.id}",
        },
    }
    if secret is not None:
        body["secret"] = secret
    return body
