"""Keystone's domain-specific roles, through the ``openstack`` CLI and keystoneauth.

A domain-specific role is never placed in a token nor seen by policy: it only serves as a prior
role whose implied global roles are placed there, and its name may be a global role's without
meaning anything. A domain role named ``admin`` must not make its holder the cloud's admin.
"""

from __future__ import annotations

import json
import uuid

import httpx
import pytest
from keystoneauth1 import session as ksa_session
from keystoneauth1.identity import v3

from tests.support.gateway import ServedGateway
from tests.support.identity import client, password_token, unique

ADMIN_CLOUD = "interstack-admin"


@pytest.fixture
def admin(gateway: ServedGateway, admin_token: str) -> httpx.Client:
    return client(gateway, admin_token)


def _setup(gateway: ServedGateway) -> tuple[str, str, str, str, str]:
    """A new domain with its own role named ``admin``, and a project and user of the default
    domain: (domain, domain role id, project id, user id, password)."""
    domain, project, user, password = (
        unique("dom"),
        unique("proj"),
        unique("user"),
        uuid.uuid4().hex,
    )
    made_domain, made_role, made_project, made_user = gateway.cli_batch(
        ADMIN_CLOUD,
        ["domain", "create", domain, "-f", "json"],
        ["role", "create", "--domain", domain, "admin", "-f", "json"],
        ["project", "create", "--domain", "default", project, "-f", "json"],
        ["user", "create", "--domain", "default", "--password", password, user, "-f", "json"],
    )  # fmt: skip
    role = json.loads(made_role)
    assert role["name"] == "admin" and role["domain_id"] == json.loads(made_domain)["id"]
    return (
        json.loads(made_domain)["id"],
        role["id"],
        json.loads(made_project)["id"],
        json.loads(made_user)["id"],
        password,
    )


def _session(
    gateway: ServedGateway,
    user_id: str,
    password: str,
    *,
    project_id: str | None = None,
    domain_id: str | None = None,
) -> ksa_session.Session:
    """A keystoneauth session of the user, scoped to a project or a domain."""
    auth = v3.Password(
        auth_url=f"{gateway.url}/v3",
        user_id=user_id,
        password=password,
        project_id=project_id,
        domain_id=domain_id,
    )
    return ksa_session.Session(auth=auth)


def test_domain_role_named_admin_is_not_in_a_project_token_nor_admin(
    gateway: ServedGateway, admin: httpx.Client
) -> None:
    domain_id, domain_role, _, user_id, password = _setup(gateway)
    project = json.loads(
        gateway.cli(
            ADMIN_CLOUD, "project", "create", "--domain", domain_id, unique("proj"), "-f", "json"
        ).stdout
    )["id"]
    user_name = admin.get(f"/v3/users/{user_id}").json()["user"]["name"]
    _, _, rows = gateway.cli_batch(
        ADMIN_CLOUD,
        ["role", "add", "--project", project, "--user", user_name, "--role-domain", domain_id,
         "admin"],
        ["role", "add", "--project", project, "--user", user_name, "member"],
        ["role", "assignment", "list", "--user", user_name, "--project", project, "--effective",
         "--names", "-f", "json"],
    )  # fmt: skip
    sess = _session(gateway, user_id, password, project_id=project)
    access = sess.auth.get_access(sess)  # type: ignore[union-attr]
    assert sorted(access.role_names) == ["member", "reader"]
    shown = admin.get("/v3/auth/tokens", headers={"X-Subject-Token": access.auth_token})
    assert sorted(r["name"] for r in shown.json()["token"]["roles"]) == ["member", "reader"]
    # Policy sees no admin: an admin-only call is refused.
    users = sess.get(f"{gateway.url}/v3/users", raise_exc=False)
    assert users.status_code == 403, users.text
    made = sess.post(
        f"{gateway.url}/v3/roles", json={"role": {"name": unique("r")}}, raise_exc=False
    )
    assert made.status_code == 403, made.text
    # The effective assignments are what the token carries: global roles only.
    assert sorted(r["Role"] for r in json.loads(rows)) == ["member", "reader"]
    direct = admin.get(
        "/v3/role_assignments", params={"user.id": user_id, "scope.project.id": project}
    ).json()["role_assignments"]
    assert domain_role in {a["role"]["id"] for a in direct}


def test_domain_role_alone_gives_no_token_and_domain_tokens_carry_global_roles(
    gateway: ServedGateway, admin: httpx.Client
) -> None:
    domain_id, domain_role, _, user_id, password = _setup(gateway)
    project = admin.post(
        "/v3/projects", json={"project": {"name": unique("proj"), "domain_id": domain_id}}
    ).json()["project"]["id"]
    grant = admin.put(f"/v3/projects/{project}/users/{user_id}/roles/{domain_role}")
    assert grant.status_code == 204, grant.text
    # Only a domain-specific role on the project: no role a token could carry, no token.
    refused = password_token(gateway, user_id, password, project)
    assert refused.status_code == 401, refused.text

    reader = admin.get("/v3/roles", params={"name": "reader"}).json()["roles"][0]["id"]
    for role in (domain_role, reader):
        put = admin.put(f"/v3/domains/{domain_id}/users/{user_id}/roles/{role}")
        assert put.status_code == 204, put.text
    sess = _session(gateway, user_id, password, domain_id=domain_id)
    access = sess.auth.get_access(sess)  # type: ignore[union-attr]
    assert access.domain_id == domain_id
    assert access.role_names == ["reader"]
    users = sess.get(f"{gateway.url}/v3/users", raise_exc=False)
    assert users.status_code == 403, users.text


def test_only_admin_creates_or_grants_a_domain_role(
    gateway: ServedGateway, demo_token: str, admin: httpx.Client
) -> None:
    domain_id, domain_role, _, user_id, _ = _setup(gateway)
    demo = client(gateway, demo_token)
    made = demo.post("/v3/roles", json={"role": {"name": unique("r"), "domain_id": domain_id}})
    assert made.status_code == 403, made.text
    me = demo.get("/v3/auth/tokens", headers={"X-Subject-Token": demo_token}).json()["token"]
    own = f"/v3/projects/{me['project']['id']}/users/{me['user']['id']}/roles/{domain_role}"
    assert demo.put(own).status_code == 403
    assert (
        demo.put(f"/v3/domains/{domain_id}/users/{user_id}/roles/{domain_role}").status_code == 403
    )
    assert demo.get(f"/v3/roles/{domain_role}").status_code == 403


def test_a_domain_role_is_granted_on_its_domain_s_projects_only(
    gateway: ServedGateway, admin: httpx.Client
) -> None:
    _, domain_role, project_id, user_id, _ = _setup(gateway)
    # A domain-specific role is granted on projects of its own domain only (Keystone's
    # DomainSpecificRoleMismatch), and never on the system.
    elsewhere = admin.put(f"/v3/projects/{project_id}/users/{user_id}/roles/{domain_role}")
    assert elsewhere.status_code == 403, elsewhere.text
    system = admin.put(f"/v3/system/users/{user_id}/roles/{domain_role}")
    assert system.status_code == 400, system.text


def test_a_domain_role_reaches_no_token_by_rescoping_or_an_application_credential(
    gateway: ServedGateway, admin: httpx.Client
) -> None:
    """The other ways to a token: a token rescoped to the project, and an application
    credential (naming the domain role, or the global admin it shares a name with) — none
    carries the domain role ``admin`` or the cloud's admin."""
    domain_id, domain_role, _, user_id, password = _setup(gateway)
    project = admin.post(
        "/v3/projects", json={"project": {"name": unique("proj"), "domain_id": domain_id}}
    ).json()["project"]["id"]
    member = admin.get("/v3/roles", params={"name": "member"}).json()["roles"][0]["id"]
    for role in (domain_role, member):
        put = admin.put(f"/v3/projects/{project}/users/{user_id}/roles/{role}")
        assert put.status_code == 204, put.text
    unscoped = password_token(gateway, user_id, password)
    assert unscoped.status_code == 201, unscoped.text
    rescope = {
        "identity": {"methods": ["token"], "token": {"id": unscoped.headers["X-Subject-Token"]}},
        "scope": {"project": {"id": project}},
    }
    rescoped = httpx.post(f"{gateway.url}/v3/auth/tokens", json={"auth": rescope}, timeout=30)
    assert rescoped.status_code == 201, rescoped.text
    assert sorted(r["name"] for r in rescoped.json()["token"]["roles"]) == ["member", "reader"]

    sess = _session(gateway, user_id, password, project_id=project)
    url = f"{gateway.url}/v3/users/{user_id}/application_credentials"
    for roles in ([{"id": domain_role}], [{"name": "admin"}]):
        body = {"application_credential": {"name": unique("ac"), "roles": roles}}
        refused = sess.post(url, json=body, raise_exc=False)
        assert refused.status_code == 400, refused.text
    made = sess.post(url, json={"application_credential": {"name": unique("ac")}})
    credential = made.json()["application_credential"]
    assert sorted(r["name"] for r in credential["roles"]) == ["member", "reader"]
    app_auth = v3.ApplicationCredential(
        auth_url=f"{gateway.url}/v3",
        application_credential_id=credential["id"],
        application_credential_secret=credential["secret"],
    )
    app_sess = ksa_session.Session(auth=app_auth)
    access = app_sess.auth.get_access(app_sess)  # type: ignore[union-attr]
    assert sorted(access.role_names) == ["member", "reader"]
    users = app_sess.get(f"{gateway.url}/v3/users", raise_exc=False)
    assert users.status_code == 403, users.text
