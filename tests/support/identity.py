"""Helpers for identity admin tests: unique names, an admin HTTP client, tokens for new users."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import openstack

from tests.support.gateway import ServedGateway


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def client(gateway: ServedGateway, token: str) -> httpx.Client:
    return httpx.Client(base_url=gateway.url, headers={"X-Auth-Token": token}, timeout=30)


def password_token(
    gateway: ServedGateway, user_id: str, password: str, project_id: str | None = None
) -> httpx.Response:
    """POST /v3/auth/tokens for a user by id, scoped to a project if given."""
    auth: dict[str, Any] = {
        "identity": {
            "methods": ["password"],
            "password": {"user": {"id": user_id, "password": password}},
        }
    }
    if project_id is not None:
        auth["scope"] = {"project": {"id": project_id}}
    return httpx.post(f"{gateway.url}/v3/auth/tokens", json={"auth": auth}, timeout=30)


@dataclass(frozen=True)
class Member:
    """A user with a password and the member role on a project of its own."""

    user_id: str
    user_name: str
    password: str
    project_id: str
    project_name: str

    def token(self, gateway: ServedGateway) -> str:
        response = password_token(gateway, self.user_id, self.password, self.project_id)
        assert response.status_code == 201, response.text
        return response.headers["X-Subject-Token"]


def cli_as(member: Member) -> list[str]:
    """``openstack`` CLI options that log in as ``member`` instead of the cloud's own user."""
    return [
        "--os-username", member.user_name, f"--os-password={member.password}",
        "--os-project-name", member.project_name,
        "--os-user-domain-name", "Default", "--os-project-domain-name", "Default",
    ]  # fmt: skip


def role_id(admin: httpx.Client, name: str) -> str:
    roles = admin.get("/v3/roles", params={"name": name}).json()["roles"]
    assert len(roles) == 1, roles
    found: str = roles[0]["id"]
    return found


def new_member(admin: httpx.Client, role: str = "member") -> Member:
    """Create a project and a user holding ``role`` on it, over the admin API."""
    project_name, user_name, password = unique("proj"), unique("user"), uuid.uuid4().hex
    project = admin.post(
        "/v3/projects", json={"project": {"name": project_name, "domain_id": "default"}}
    )
    assert project.status_code == 201, project.text
    project_id = project.json()["project"]["id"]
    user = admin.post(
        "/v3/users",
        json={
            "user": {
                "name": user_name,
                "domain_id": "default",
                "password": password,
                "default_project_id": project_id,
            }
        },
    )
    assert user.status_code == 201, user.text
    user_id = user.json()["user"]["id"]
    grant = admin.put(f"/v3/projects/{project_id}/users/{user_id}/roles/{role_id(admin, role)}")
    assert grant.status_code == 204, grant.text
    return Member(user_id, user_name, password, project_id, project_name)


def member_of(gateway: ServedGateway, role: str = "member") -> Member:
    """A new user holding ``role`` on a project of its own on ``gateway``, made by the
    gateway's admin."""
    with client(gateway, gateway.token("interstack-admin")) as admin:
        return new_member(admin, role)


def sdk_as(gateway: ServedGateway, member: Member, region: str) -> Any:
    """An openstacksdk connection as ``member``, in its project (close it when done)."""
    return openstack.connect(
        auth_url=f"{gateway.url}/v3",
        username=member.user_name,
        password=member.password,
        user_domain_name="Default",
        project_id=member.project_id,
        region_name=region,
        identity_api_version="3",
    )
