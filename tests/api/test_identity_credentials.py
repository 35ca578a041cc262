"""Application credentials and token revocation on identity changes, end to end."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.support.compute import cli_json
from tests.support.gateway import ServedGateway
from tests.support.identity import client, new_member, password_token, role_id, unique


@pytest.fixture
def admin(gateway: ServedGateway, admin_token: str) -> httpx.Client:
    return client(gateway, admin_token)


def _app_cred_auth(gateway: ServedGateway, cred_id: str, secret: str) -> httpx.Response:
    body = {
        "auth": {
            "identity": {
                "methods": ["application_credential"],
                "application_credential": {"id": cred_id, "secret": secret},
            }
        }
    }
    return httpx.post(f"{gateway.url}/v3/auth/tokens", json=body, timeout=30)


def _valid(admin: httpx.Client, token: str) -> int:
    return admin.get("/v3/auth/tokens", headers={"X-Subject-Token": token}).status_code


def test_cli_app_credential_as_demo_authenticates_then_delete_revokes(
    gateway: ServedGateway, admin: httpx.Client
) -> None:
    name = unique("appcred")
    created: dict[str, Any] = cli_json(
        gateway, "interstack", "application", "credential", "create", "--description", "ci", name
    )
    secret, cred_id = created["Secret"], created["ID"]
    assert secret and created["Name"] == name and created["Unrestricted"] is False
    demo = gateway.connect("interstack")
    assert created["Project ID"] == demo.current_project_id

    # The secret is shown once: never in show or list.
    shown = cli_json(gateway, "interstack", "application", "credential", "show", name)
    assert shown["ID"] == cred_id and "Secret" not in shown
    listed = demo.identity.get(f"/users/{demo.current_user_id}/application_credentials").json()
    assert name in {c["name"] for c in listed["application_credentials"]}
    assert all("secret" not in c for c in listed["application_credentials"])

    issued = _app_cred_auth(gateway, cred_id, secret)
    assert issued.status_code == 201, issued.text
    token_body = issued.json()["token"]
    assert token_body["project"]["id"] == demo.current_project_id
    assert token_body["application_credential"]["id"] == cred_id
    assert {r["name"] for r in token_body["roles"]} >= {"member", "reader"}
    token = issued.headers["X-Subject-Token"]
    assert _valid(admin, token) == 200

    # openstacksdk authenticates with it too (auth_type v3applicationcredential).
    import openstack.connection

    via_sdk = openstack.connection.Connection(
        auth_type="v3applicationcredential",
        auth={
            "auth_url": f"{gateway.url}/v3",
            "application_credential_id": cred_id,
            "application_credential_secret": secret,
        },
        identity_api_version="3",
    )
    assert via_sdk.current_project_id == demo.current_project_id

    # A restricted credential's token may not mint more credentials.
    with_cred = client(gateway, token)
    user_id = token_body["user"]["id"]
    refused = with_cred.post(
        f"/v3/users/{user_id}/application_credentials",
        json={"application_credential": {"name": unique("nested")}},
    )
    assert refused.status_code == 403

    gateway.cli("interstack", "application", "credential", "delete", name)
    assert _valid(admin, token) == 404
    assert with_cred.get("/v3/auth/projects").status_code == 401
    assert _app_cred_auth(gateway, cred_id, secret).status_code == 401


def test_app_credential_roles_subset_name_conflict_and_other_users(
    gateway: ServedGateway, admin: httpx.Client, demo_token: str
) -> None:
    member = new_member(admin)
    me = client(gateway, member.token(gateway))
    path = f"/v3/users/{member.user_id}/application_credentials"
    name = unique("cred")
    reader_only = me.post(
        path,
        json={
            "application_credential": {
                "name": name,
                "secret": "chosen-secret",
                "roles": [{"name": "reader"}],
                "expires_at": "2099-01-01T00:00:00Z",
            }
        },
    )
    assert reader_only.status_code == 201, reader_only.text
    cred = reader_only.json()["application_credential"]
    assert cred["secret"] == "chosen-secret"
    assert [r["name"] for r in cred["roles"]] == ["reader"]
    assert cred["expires_at"] == "2099-01-01T00:00:00.000000Z"
    assert cred["links"]["self"].endswith(f"{path}/{cred['id']}")

    issued = _app_cred_auth(gateway, cred["id"], "chosen-secret")
    assert [r["name"] for r in issued.json()["token"]["roles"]] == ["reader"]

    duplicate = me.post(path, json={"application_credential": {"name": name}})
    assert duplicate.status_code == 409
    not_held = me.post(
        path, json={"application_credential": {"name": unique("c"), "roles": [{"name": "admin"}]}}
    )
    assert not_held.status_code == 400
    unknown_member = me.post(path, json={"application_credential": {"name": "x", "bogus": 1}})
    assert unknown_member.status_code == 400
    past = me.post(
        path,
        json={"application_credential": {"name": unique("c"), "expires_at": "2000-01-01T00:00:00"}},
    )
    assert past.status_code == 400

    # Another user sees none of it, and cannot create one for this user.
    demo = client(gateway, demo_token)
    assert demo.get(path).status_code == 403
    assert demo.get(f"{path}/{cred['id']}").status_code == 403
    assert demo.post(path, json={"application_credential": {"name": "x"}}).status_code == 403
    # An admin sees it but cannot mint one in this user's name.
    assert admin.get(f"{path}/{cred['id']}").json()["application_credential"]["name"] == name
    assert admin.post(path, json={"application_credential": {"name": "x"}}).status_code == 403
    assert me.get(f"{path}/{unique('missing')}").status_code == 404

    # Losing the role on the project removes the user's credentials there, as Keystone does.
    grant = f"/v3/projects/{member.project_id}/users/{member.user_id}/roles/"
    assert admin.delete(grant + role_id(admin, "member")).status_code == 204
    assert _app_cred_auth(gateway, cred["id"], "chosen-secret").status_code == 401


def test_disabling_a_user_revokes_its_tokens(gateway: ServedGateway, admin: httpx.Client) -> None:
    member = new_member(admin)
    token = member.token(gateway)
    as_member = client(gateway, token)
    assert as_member.get("/v3/auth/projects").status_code == 200
    patched = admin.patch(f"/v3/users/{member.user_id}", json={"user": {"enabled": False}})
    assert patched.status_code == 200 and patched.json()["user"]["enabled"] is False
    assert _valid(admin, token) == 404
    assert as_member.get("/v3/auth/projects").status_code == 401
    assert password_token(gateway, member.user_id, member.password).status_code == 401
    # Enabling again lets the user in with a new token, never with the revoked one.
    admin.patch(f"/v3/users/{member.user_id}", json={"user": {"enabled": True}})
    assert _valid(admin, token) == 404
    assert _valid(admin, member.token(gateway)) == 200


def test_new_password_by_admin_and_self_service_change(
    gateway: ServedGateway, admin: httpx.Client
) -> None:
    member = new_member(admin)
    first = member.token(gateway)
    admin.patch(f"/v3/users/{member.user_id}", json={"user": {"password": "second-pw"}})
    assert _valid(admin, first) == 404
    assert password_token(gateway, member.user_id, member.password).status_code == 401

    token = password_token(gateway, member.user_id, "second-pw", member.project_id)
    me = client(gateway, token.headers["X-Subject-Token"])
    change = f"/v3/users/{member.user_id}/password"
    wrong = me.post(change, json={"user": {"original_password": "nope", "password": "third"}})
    assert wrong.status_code == 401
    right = me.post(change, json={"user": {"original_password": "second-pw", "password": "third"}})
    assert right.status_code == 204
    assert me.get("/v3/auth/projects").status_code == 401
    assert password_token(gateway, member.user_id, "third", member.project_id).status_code == 201


def test_password_change_needs_no_token_and_reveals_no_user(
    gateway: ServedGateway, admin: httpx.Client
) -> None:
    """As in Keystone: the original password is the credential (an expired one still works)."""
    member = new_member(admin)
    anonymous = httpx.Client(base_url=gateway.url, timeout=30)
    body = {"user": {"original_password": member.password, "password": "changed-pw"}}
    assert anonymous.post(f"/v3/users/{member.user_id}/password", json=body).status_code == 204
    assert (
        password_token(gateway, member.user_id, "changed-pw", member.project_id).status_code == 201
    )
    # An unknown user answers exactly like a wrong password.
    unknown = anonymous.post("/v3/users/0000000000000000/password", json=body)
    wrong = anonymous.post(f"/v3/users/{member.user_id}/password", json=body)
    assert unknown.status_code == wrong.status_code == 401
    assert unknown.json()["error"]["message"] == wrong.json()["error"]["message"]


def test_removing_a_grant_or_the_project_revokes_project_tokens(
    gateway: ServedGateway, admin: httpx.Client
) -> None:
    member = new_member(admin)
    token = member.token(gateway)
    grant = f"/v3/projects/{member.project_id}/users/{member.user_id}/roles/"
    member_role = role_id(admin, "member")
    assert admin.head(grant + member_role).status_code == 204
    assert admin.delete(grant + member_role).status_code == 204
    assert admin.head(grant + member_role).status_code == 404
    assert admin.delete(grant + member_role).status_code == 404
    assert _valid(admin, token) == 404

    assert admin.put(grant + member_role).status_code == 204
    token = member.token(gateway)
    assert admin.delete(f"/v3/projects/{member.project_id}").status_code == 204
    assert _valid(admin, token) == 404
    left = admin.get("/v3/role_assignments", params={"user.id": member.user_id}).json()
    assert left["role_assignments"] == []
