"""Token issue/validate/revoke and the catalog, through the real clients."""

from __future__ import annotations

import json

import httpx

from tests.support.gateway import ServedGateway


def test_cli_token_issue_is_project_scoped(gateway: ServedGateway) -> None:
    result = gateway.cli("interstack", "token", "issue", "-f", "json")
    token = json.loads(result.stdout)
    demo = gateway.connect("interstack")
    assert token["project_id"] == demo.current_project_id
    assert token["id"]


def test_catalog_list_shows_identity_in_the_region(gateway: ServedGateway) -> None:
    result = gateway.cli("interstack", "catalog", "list", "-f", "json")
    entries = {e["Type"]: e for e in json.loads(result.stdout)}
    assert "identity" in entries
    urls = [e["url"] for e in entries["identity"]["Endpoints"]]
    assert f"{gateway.url}/v3" in urls


def test_validate_then_revoke(gateway: ServedGateway, admin_token: str) -> None:
    subject = gateway.token("interstack")
    headers = {"X-Auth-Token": admin_token, "X-Subject-Token": subject}
    shown = httpx.get(f"{gateway.url}/v3/auth/tokens", headers=headers)
    assert shown.status_code == 200
    assert shown.json()["token"]["project"]["name"] == "demo"
    assert httpx.head(f"{gateway.url}/v3/auth/tokens", headers=headers).status_code == 200
    assert httpx.delete(f"{gateway.url}/v3/auth/tokens", headers=headers).status_code == 204
    assert httpx.get(f"{gateway.url}/v3/auth/tokens", headers=headers).status_code == 404
    assert httpx.head(f"{gateway.url}/v3/auth/tokens", headers=headers).status_code == 404


def test_wrong_password_is_401_with_keystone_challenge(gateway: ServedGateway) -> None:
    body = {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {
                    "user": {"name": "demo", "domain": {"id": "default"}, "password": "wrong"}
                },
            }
        }
    }
    response = httpx.post(f"{gateway.url}/v3/auth/tokens", json=body)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == f'Keystone uri="{gateway.url}"'
    error = response.json()["error"]
    assert error["code"] == 401 and error["title"] == "Unauthorized"
    assert "x-openstack-request-id" in response.headers
