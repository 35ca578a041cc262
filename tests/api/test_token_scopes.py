"""Token scopes as Keystone defines them: unscoped, project, domain, system; rescoping; regions."""

from __future__ import annotations

from typing import Any

import httpx

from tests.api.conftest import ASSIGNING, LIMITED
from tests.support.compute import cli_json
from tests.support.gateway import ServedGateway


def _password_auth(user: str, password: str, scope: Any = None) -> dict[str, Any]:
    auth: dict[str, Any] = {
        "identity": {
            "methods": ["password"],
            "password": {
                "user": {"name": user, "domain": {"name": "Default"}, "password": password}
            },
        }
    }
    if scope is not None:
        auth["scope"] = scope
    return {"auth": auth}


def _issue(gateway: ServedGateway, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(f"{gateway.url}/v3/auth/tokens", json=body, timeout=30)


def test_explicitly_unscoped_token_has_no_roles_or_catalog(gateway: ServedGateway) -> None:
    response = _issue(
        gateway, _password_auth("demo", gateway.password("interstack"), scope="unscoped")
    )
    assert response.status_code == 201
    token = response.json()["token"]
    assert "project" not in token and "roles" not in token and "catalog" not in token
    assert token["methods"] == ["password"]
    catalog = httpx.get(
        f"{gateway.url}/v3/auth/catalog",
        headers={"X-Auth-Token": response.headers["X-Subject-Token"]},
    )
    assert catalog.status_code == 401


def test_no_scope_means_the_default_project(gateway: ServedGateway) -> None:
    response = _issue(gateway, _password_auth("demo", gateway.password("interstack")))
    assert response.status_code == 201
    token = response.json()["token"]
    assert token["project"]["name"] == "demo"
    assert {r["name"] for r in token["roles"]} == {"member", "reader"}


def test_unscoped_token_rescopes_to_a_project_and_keeps_the_audit_chain(
    gateway: ServedGateway,
) -> None:
    first = _issue(
        gateway, _password_auth("demo", gateway.password("interstack"), scope="unscoped")
    )
    unscoped = first.headers["X-Subject-Token"]
    rescoped = _issue(
        gateway,
        {
            "auth": {
                "identity": {"methods": ["token"], "token": {"id": unscoped}},
                "scope": {"project": {"name": "demo", "domain": {"id": "default"}}},
            }
        },
    )
    assert rescoped.status_code == 201
    token = rescoped.json()["token"]
    assert token["project"]["name"] == "demo"
    assert token["audit_ids"][1] == first.json()["token"]["audit_ids"][0]
    assert token["expires_at"] == first.json()["token"]["expires_at"]

    # Revoking the parent revokes the child, which shares its audit chain.
    headers = {"X-Auth-Token": unscoped, "X-Subject-Token": unscoped}
    assert httpx.delete(f"{gateway.url}/v3/auth/tokens", headers=headers).status_code == 204
    child = rescoped.headers["X-Subject-Token"]
    check = httpx.head(
        f"{gateway.url}/v3/auth/tokens", headers={"X-Auth-Token": child, "X-Subject-Token": child}
    )
    assert check.status_code == 401


def test_scope_to_a_project_without_a_role_is_401(gateway: ServedGateway) -> None:
    response = _issue(
        gateway,
        _password_auth(
            "demo",
            gateway.password("interstack"),
            scope={"project": {"name": "admin", "domain": {"id": "default"}}},
        ),
    )
    assert response.status_code == 401
    assert response.json()["error"]["code"] == 401


def test_domain_and_system_scope_for_the_admin(gateway: ServedGateway) -> None:
    password = gateway.password("interstack-admin")
    domain_scoped = _issue(
        gateway, _password_auth("admin", password, scope={"domain": {"id": "default"}})
    )
    # The bootstrap admin holds no role on the domain itself, only on a project and the system.
    assert domain_scoped.status_code == 401

    system = _issue(gateway, _password_auth("admin", password, scope={"system": {"all": True}}))
    assert system.status_code == 201
    token = system.json()["token"]
    assert token["system"] == {"all": True}
    assert "admin" in {r["name"] for r in token["roles"]}
    assert token["catalog"]

    # Granting the admin a role on the domain makes a domain-scoped token possible.
    admin_headers = {"X-Auth-Token": system.headers["X-Subject-Token"]}
    roles = httpx.get(f"{gateway.url}/v3/roles?name=reader", headers=admin_headers).json()
    reader_id = roles["roles"][0]["id"]
    user_id = token["user"]["id"]
    grant = httpx.put(
        f"{gateway.url}/v3/domains/default/users/{user_id}/roles/{reader_id}",
        headers=admin_headers,
    )
    assert grant.status_code == 204
    domain_scoped = _issue(
        gateway, _password_auth("admin", password, scope={"domain": {"name": "Default"}})
    )
    assert domain_scoped.status_code == 201
    assert domain_scoped.json()["token"]["domain"] == {"id": "default", "name": "Default"}


def test_two_scopes_at_once_are_a_400(gateway: ServedGateway) -> None:
    response = _issue(
        gateway,
        _password_auth(
            "demo",
            gateway.password("interstack"),
            scope={"project": {"id": "x"}, "domain": {"id": "default"}},
        ),
    )
    assert response.status_code == 400
    assert "scope" in response.json()["error"]["message"]


def test_every_region_lists_every_service(regions_gateway: ServedGateway) -> None:
    gateway = regions_gateway
    entries = cli_json(gateway, "interstack", "catalog", "list")
    identity = next(e for e in entries if e["Type"] == "identity")
    regions = {endpoint["region"] for endpoint in identity["Endpoints"]}
    assert regions == {"RegionOne", LIMITED, ASSIGNING}
    # The clouds.yaml points at the first region; another region is one flag away.
    shown = gateway.cli(
        "interstack", "--os-region-name", LIMITED, "catalog", "show", "identity", "-f", "json"
    )
    assert LIMITED in shown.stdout
