"""The Keystone v3 admin API through the ``openstack`` CLI and openstacksdk, as operators use it."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.support.gateway import ServedGateway
from tests.support.identity import client, new_member, password_token, unique


def _json(result: Any) -> Any:
    return json.loads(result.stdout)


@pytest.fixture
def admin(gateway: ServedGateway, admin_token: str) -> httpx.Client:
    return client(gateway, admin_token)


def test_cli_project_create_list_show_set_delete(gateway: ServedGateway) -> None:
    name = unique("proj")
    cloud = "interstack-admin"
    created = _json(
        gateway.cli(
            cloud, "project", "create", "--domain", "default", "--description", "first",
            "--property", "team=blue", name, "-f", "json",
        )
    )  # fmt: skip
    assert created["name"] == name and created["domain_id"] == "default"
    assert created["enabled"] is True and created["description"] == "first"
    assert created["team"] == "blue"

    listed = _json(gateway.cli(cloud, "project", "list", "-f", "json"))
    assert name in {p["Name"] for p in listed}

    gateway.cli(cloud, "project", "set", "--description", "second", "--disable", name)
    shown = _json(gateway.cli(cloud, "project", "show", name, "-f", "json"))
    assert shown["id"] == created["id"]
    assert shown["description"] == "second" and shown["enabled"] is False
    assert shown["team"] == "blue"

    gateway.cli(cloud, "project", "delete", name)
    gone = gateway.cli(cloud, "project", "show", created["id"], check=False)
    assert gone.returncode != 0


def test_cli_user_role_grant_and_assignment_list(gateway: ServedGateway) -> None:
    cloud = "interstack-admin"
    project, user, role, password = unique("proj"), unique("user"), unique("role"), unique("pw")
    project_id = _json(gateway.cli(cloud, "project", "create", project, "-f", "json"))["id"]
    created = _json(
        gateway.cli(
            cloud, "user", "create", "--domain", "default", "--password", password,
            "--project", project, "--email", f"{user}@example.org", user, "-f", "json",
        )
    )  # fmt: skip
    assert created["default_project_id"] == project_id
    assert created["email"] == f"{user}@example.org"
    assert "password" not in created
    assert user in {u["Name"] for u in _json(gateway.cli(cloud, "user", "list", "-f", "json"))}

    role_id = _json(gateway.cli(cloud, "role", "create", role, "-f", "json"))["id"]
    assert role in {r["Name"] for r in _json(gateway.cli(cloud, "role", "list", "-f", "json"))}

    gateway.cli(cloud, "role", "add", "--project", project, "--user", user, "member")
    gateway.cli(cloud, "role", "add", "--project", project, "--user", user, role)
    rows = _json(
        gateway.cli(cloud, "role", "assignment", "list", "--user", user, "--names", "-f", "json")
    )
    assert {(r["Role"], r["User"], r["Project"]) for r in rows} == {
        ("member", f"{user}@Default", f"{project}@Default"),
        (role, f"{user}@Default", f"{project}@Default"),
    }

    # The new user can now work in the project: its token is scoped there.
    token = password_token(gateway, created["id"], password, project_id)
    assert token.status_code == 201
    assert token.json()["token"]["project"]["id"] == project_id

    # Deleting the role removes its grant; deleting the user and project clean up.
    gateway.cli(cloud, "role", "delete", role_id)
    rows = _json(gateway.cli(cloud, "role", "assignment", "list", "--user", user, "-f", "json"))
    assert {r["Role"] for r in rows} == {
        _json(gateway.cli(cloud, "role", "show", "member", "-f", "json"))["id"]
    }
    gateway.cli(cloud, "user", "delete", user)
    gateway.cli(cloud, "project", "delete", project)
    assert password_token(gateway, created["id"], password).status_code == 401


@pytest.mark.parametrize(
    "args",
    [
        ("project", "create", "not-allowed"),
        ("user", "list"),
        ("role", "list"),
        ("role", "assignment", "list"),
        ("domain", "list"),
    ],
)
def test_cli_admin_calls_as_demo_fail(gateway: ServedGateway, args: tuple[str, ...]) -> None:
    result = gateway.cli("interstack", *args, check=False)
    assert result.returncode != 0
    assert "403" in result.stderr


def test_cli_project_list_as_demo_shows_only_its_projects(gateway: ServedGateway) -> None:
    # The CLI falls back to GET /v3/users/{me}/projects when GET /v3/projects is forbidden.
    listed = _json(gateway.cli("interstack", "project", "list", "-f", "json"))
    assert [p["Name"] for p in listed] == ["demo"]


def test_admin_calls_as_demo_are_403_over_http(
    gateway: ServedGateway, demo_token: str, admin: httpx.Client
) -> None:
    demo = client(gateway, demo_token)
    admin_user_id = admin.get("/v3/users", params={"name": "admin"}).json()["users"][0]["id"]
    admin_project = admin.get("/v3/projects", params={"name": "admin"}).json()["projects"][0]
    member_role = admin.get("/v3/roles", params={"name": "member"}).json()["roles"][0]["id"]
    denied = [
        demo.get("/v3/projects"),
        demo.post("/v3/projects", json={"project": {"name": unique("p")}}),
        demo.get("/v3/users"),
        demo.post("/v3/users", json={"user": {"name": unique("u")}}),
        demo.get(f"/v3/users/{admin_user_id}"),
        demo.get(f"/v3/projects/{admin_project['id']}"),
        demo.get("/v3/roles"),
        demo.post("/v3/roles", json={"role": {"name": unique("r")}}),
        demo.get("/v3/role_assignments"),
        demo.get("/v3/domains"),
        demo.put(f"/v3/projects/{admin_project['id']}/users/{admin_user_id}/roles/{member_role}"),
        demo.get(f"/v3/users/{admin_user_id}/application_credentials"),
        demo.get(f"/v3/users/{admin_user_id}/projects"),
    ]
    assert [r.status_code for r in denied] == [403] * len(denied)
    assert denied[0].json()["error"]["code"] == 403


def test_demo_sees_itself_its_projects_and_its_domain(
    gateway: ServedGateway, demo_token: str
) -> None:
    demo = client(gateway, demo_token)
    me = demo.get("/v3/auth/tokens", headers={"X-Subject-Token": demo_token}).json()["token"]
    user_id, project_id = me["user"]["id"], me["project"]["id"]
    shown = demo.get(f"/v3/users/{user_id}")
    assert shown.status_code == 200 and shown.json()["user"]["name"] == "demo"
    assert "password" not in shown.json()["user"]
    assert demo.get(f"/v3/projects/{project_id}").json()["project"]["name"] == "demo"
    mine = demo.get(f"/v3/users/{user_id}/projects").json()
    assert [p["id"] for p in mine["projects"]] == [project_id]
    auth_projects = demo.get("/v3/auth/projects").json()
    assert [p["name"] for p in auth_projects["projects"]] == ["demo"]
    assert auth_projects["links"]["next"] is None
    assert demo.get("/v3/auth/domains").json()["domains"] == []
    assert demo.get("/v3/domains/default").json()["domain"]["name"] == "Default"


def test_sdk_dynamic_credentials_like_tempest(gateway: ServedGateway) -> None:
    """What Tempest's dynamic credentials do: project, user, role; then work as that user."""
    import openstack.connection

    conn = gateway.connect("interstack-admin")
    name, password = unique("tempest"), unique("pw")
    project = conn.identity.create_project(name=name, domain_id="default", description="tempest")
    user = conn.identity.create_user(
        name=name, password=password, domain_id="default", default_project_id=project.id
    )
    member = conn.identity.find_role("member")
    conn.identity.assign_project_role_to_user(project, user, member)
    assert conn.identity.validate_user_has_project_role(project, user, member)

    as_user = openstack.connection.Connection(
        auth_url=f"{gateway.url}/v3",
        username=name,
        password=password,
        project_id=project.id,
        user_domain_id="default",
        identity_api_version="3",
    )
    assert as_user.current_project_id == project.id
    assert as_user.identity.get_user(user.id).name == name
    assert [p.id for p in as_user.identity.user_projects(user.id)] == [project.id]

    conn.identity.unassign_project_role_from_user(project, user, member)
    assert not conn.identity.validate_user_has_project_role(project, user, member)
    conn.identity.delete_user(user)
    conn.identity.delete_project(project)
    assert conn.identity.find_project(project.id) is None
