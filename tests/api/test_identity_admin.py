"""The Keystone v3 admin API through the ``openstack`` CLI and openstacksdk, as operators use it."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.support.compute import cli_json
from tests.support.gateway import ServedGateway
from tests.support.identity import client, new_member, password_token, role_id, unique


@pytest.fixture
def admin(gateway: ServedGateway, admin_token: str) -> httpx.Client:
    return client(gateway, admin_token)


def test_cli_project_create_list_show_set_delete(gateway: ServedGateway) -> None:
    """The commands run in one ``openstack`` process (:meth:`ServedGateway.cli_batch`); each
    must succeed."""
    name = unique("proj")
    cloud = "interstack-admin"
    created, listed, _, shown, _ = gateway.cli_batch(
        cloud,
        [
            "project", "create", "--domain", "default", "--description", "first",
            "--property", "team=blue", name, "-f", "json",
        ],
        ["project", "list", "-f", "json"],
        ["project", "set", "--description", "second", "--disable", name],
        ["project", "show", name, "-f", "json"],
        ["project", "delete", name],
    )  # fmt: skip
    created, listed, shown = json.loads(created), json.loads(listed), json.loads(shown)
    assert created["name"] == name and created["domain_id"] == "default"
    assert created["enabled"] is True and created["description"] == "first"
    assert created["team"] == "blue"

    assert name in {p["Name"] for p in listed}

    assert shown["id"] == created["id"]
    assert shown["description"] == "second" and shown["enabled"] is False
    assert shown["team"] == "blue"

    gone = gateway.cli(cloud, "project", "show", created["id"], check=False)
    assert gone.returncode != 0


def test_cli_user_role_grant_and_assignment_list(gateway: ServedGateway) -> None:
    """As above, the commands in a row run in one ``openstack`` process."""
    cloud = "interstack-admin"
    project, user, role, password = unique("proj"), unique("user"), unique("role"), unique("pw")
    made, created, users, role_made, roles, _, _, rows = gateway.cli_batch(
        cloud,
        ["project", "create", project, "-f", "json"],
        [
            "user", "create", "--domain", "default", "--password", password,
            "--project", project, "--email", f"{user}@example.org", user, "-f", "json",
        ],
        ["user", "list", "-f", "json"],
        ["role", "create", role, "-f", "json"],
        ["role", "list", "-f", "json"],
        ["role", "add", "--project", project, "--user", user, "member"],
        ["role", "add", "--project", project, "--user", user, role],
        ["role", "assignment", "list", "--user", user, "--names", "-f", "json"],
    )  # fmt: skip
    project_id, created = json.loads(made)["id"], json.loads(created)
    assert created["default_project_id"] == project_id
    assert created["email"] == f"{user}@example.org"
    assert "password" not in created
    assert user in {u["Name"] for u in json.loads(users)}

    new_role_id = json.loads(role_made)["id"]
    assert role in {r["Name"] for r in json.loads(roles)}

    assert {(r["Role"], r["User"], r["Project"]) for r in json.loads(rows)} == {
        ("member", f"{user}@Default", f"{project}@Default"),
        (role, f"{user}@Default", f"{project}@Default"),
    }

    # The new user can now work in the project: its token is scoped there.
    token = password_token(gateway, created["id"], password, project_id)
    assert token.status_code == 201
    assert token.json()["token"]["project"]["id"] == project_id

    # Deleting the role removes its grant; deleting the user and project clean up.
    gateway.cli(cloud, "role", "delete", new_role_id)
    left = httpx.get(
        f"{gateway.url}/v3/role_assignments",
        params={"user.id": created["id"]},
        headers={"X-Auth-Token": gateway.token(cloud)},
    ).json()["role_assignments"]
    assert len(left) == 1 and left[0]["role"]["id"] != new_role_id
    gateway.cli_batch(cloud, ["user", "delete", user], ["project", "delete", project])
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
    listed = cli_json(gateway, "interstack", "project", "list")
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
    identity: Any = as_user.identity
    assert [p.id for p in identity.user_projects(user.id)] == [project.id]

    conn.identity.unassign_project_role_from_user(project, user, member)
    assert not conn.identity.validate_user_has_project_role(project, user, member)
    conn.identity.delete_user(user)
    conn.identity.delete_project(project)
    assert conn.identity.find_project(project.id) is None


def test_keystone_contract_codes_links_and_extras(admin: httpx.Client) -> None:
    name = unique("proj")
    body = {"project": {"name": name, "domain_id": "default", "flavor": "gold", "tags": ["a"]}}
    created = admin.post("/v3/projects", json=body)
    assert created.status_code == 201
    project = created.json()["project"]
    assert project["flavor"] == "gold" and project["tags"] == ["a"]
    assert project["parent_id"] == "default" and project["is_domain"] is False
    assert project["options"] == {}
    assert project["links"]["self"].endswith(f"/v3/projects/{project['id']}")

    assert admin.post("/v3/projects", json=body).status_code == 409
    assert admin.get(f"/v3/projects/{unique('missing')}").status_code == 404
    assert admin.post("/v3/projects", json={"project": {"enabled": True}}).status_code == 400
    assert admin.post("/v3/projects", json={"project": {"name": "  "}}).status_code == 400
    assert admin.post("/v3/projects", content=b"{not json").status_code == 400
    moved = admin.patch(f"/v3/projects/{project['id']}", json={"project": {"domain_id": "x"}})
    assert moved.status_code == 400

    listed = admin.get("/v3/projects", params={"name": name}).json()
    assert [p["id"] for p in listed["projects"]] == [project["id"]]
    assert listed["links"]["next"] is None and listed["links"]["previous"] is None
    assert listed["links"]["self"].endswith(f"/v3/projects?name={name}")
    disabled = admin.get("/v3/projects", params={"enabled": "false"}).json()["projects"]
    assert project["id"] not in {p["id"] for p in disabled}

    child = admin.post(
        "/v3/projects", json={"project": {"name": unique("child"), "parent_id": project["id"]}}
    ).json()["project"]
    assert child["parent_id"] == project["id"] and child["domain_id"] == "default"
    assert admin.delete(f"/v3/projects/{project['id']}").status_code == 403
    assert admin.delete(f"/v3/projects/{child['id']}").status_code == 204
    assert admin.delete(f"/v3/projects/{project['id']}").status_code == 204
    assert admin.delete(f"/v3/projects/{project['id']}").status_code == 404


def test_domain_lifecycle_takes_its_contents_along(
    gateway: ServedGateway, admin: httpx.Client
) -> None:
    name = unique("dom")
    created = admin.post("/v3/domains", json={"domain": {"name": name, "description": "d"}})
    assert created.status_code == 201
    domain = created.json()["domain"]
    assert domain["enabled"] is True and domain["links"]["self"].endswith(domain["id"])
    assert admin.post("/v3/domains", json={"domain": {"name": name}}).status_code == 409
    assert [d["id"] for d in admin.get("/v3/domains", params={"name": name}).json()["domains"]] == [
        domain["id"]
    ]
    user = admin.post(
        "/v3/users",
        json={"user": {"name": "alice", "domain_id": domain["id"], "password": "pw-alice"}},
    ).json()["user"]
    project = admin.post(
        "/v3/projects", json={"project": {"name": "p", "domain_id": domain["id"]}}
    ).json()["project"]
    member = role_id(admin, "member")
    assert (
        admin.put(f"/v3/domains/{domain['id']}/users/{user['id']}/roles/{member}").status_code
        == 204
    )
    assert (
        admin.head(f"/v3/domains/{domain['id']}/users/{user['id']}/roles/{member}").status_code
        == 204
    )
    roles = admin.get(f"/v3/domains/{domain['id']}/users/{user['id']}/roles").json()["roles"]
    assert [r["name"] for r in roles] == ["member"]
    token = password_token(gateway, user["id"], "pw-alice").headers["X-Subject-Token"]
    auth_domains = client(gateway, token).get("/v3/auth/domains").json()["domains"]
    assert [d["id"] for d in auth_domains] == [domain["id"]]

    refused = admin.delete(f"/v3/domains/{domain['id']}")
    assert refused.status_code == 403
    assert "Cannot delete a domain that is enabled" in refused.json()["error"]["message"]
    disabled = admin.patch(f"/v3/domains/{domain['id']}", json={"domain": {"enabled": False}})
    assert disabled.json()["domain"]["enabled"] is False
    assert admin.delete(f"/v3/domains/{domain['id']}").status_code == 204
    assert admin.get(f"/v3/users/{user['id']}").status_code == 404
    assert admin.get(f"/v3/projects/{project['id']}").status_code == 404


def test_roles_immutable_defaults_and_effective_assignments(
    gateway: ServedGateway, admin: httpx.Client
) -> None:
    member_id = role_id(admin, "member")
    shown = admin.get(f"/v3/roles/{member_id}").json()["role"]
    assert shown["options"] == {"immutable": True}
    assert admin.patch(f"/v3/roles/{member_id}", json={"role": {"name": "x"}}).status_code == 403
    assert admin.delete(f"/v3/roles/{member_id}").status_code == 403

    name = unique("role")
    role = admin.post("/v3/roles", json={"role": {"name": name, "description": "r"}})
    assert role.status_code == 201
    assert admin.post("/v3/roles", json={"role": {"name": name}}).status_code == 409
    renamed = admin.patch(
        f"/v3/roles/{role.json()['role']['id']}", json={"role": {"name": name + "-2"}}
    )
    assert renamed.json()["role"]["name"] == name + "-2"
    assert admin.delete(f"/v3/roles/{role.json()['role']['id']}").status_code == 204

    user = new_member(admin)
    query = {"user.id": user.user_id, "scope.project.id": user.project_id}
    direct = admin.get("/v3/role_assignments", params=query).json()["role_assignments"]
    assert [a["role"]["id"] for a in direct] == [member_id]
    assert direct[0]["links"]["assignment"].endswith(
        f"/v3/projects/{user.project_id}/users/{user.user_id}/roles/{member_id}"
    )
    effective = admin.get(
        "/v3/role_assignments", params={**query, "effective": "", "include_names": "true"}
    ).json()["role_assignments"]
    by_name = {a["role"]["name"]: a for a in effective}
    assert set(by_name) == {"member", "reader"}
    assert by_name["reader"]["links"]["prior_role"].endswith(f"/v3/roles/{member_id}")
    assert by_name["member"]["scope"]["project"]["name"] == user.project_name
    assert by_name["member"]["user"]["domain"] == {"id": "default", "name": "Default"}

    system = f"/v3/system/users/{user.user_id}/roles/{role_id(admin, 'reader')}"
    assert admin.put(system).status_code == 204
    assert admin.get(system).status_code == 204
    scoped = admin.get(
        "/v3/role_assignments", params={"user.id": user.user_id, "scope.system": "all"}
    ).json()["role_assignments"]
    assert [a["scope"] for a in scoped] == [{"system": {"all": True}}]
    assert admin.delete(system).status_code == 204
    assert admin.get(system).status_code == 404
