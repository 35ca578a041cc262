"""Compute version discovery and microversion negotiation, as clients meet them."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.support.gateway import ServedGateway

REGION = "RegionOne"


def compute_url(gateway: ServedGateway) -> str:
    return f"{gateway.url}/{REGION}/compute"


def test_catalog_lists_compute_at_its_versioned_url(gateway: ServedGateway) -> None:
    conn = gateway.connect("interstack")
    endpoint = conn.endpoint_for("compute")
    assert endpoint.rstrip("/") == f"{compute_url(gateway)}/v2.1"


@pytest.mark.parametrize("path", ["", "/"])
def test_root_lists_v20_then_v21_without_a_token(gateway: ServedGateway, path: str) -> None:
    response = httpx.get(compute_url(gateway) + path, timeout=30)
    assert response.status_code == 200, response.text
    legacy, version = response.json()["versions"]
    assert (legacy["id"], legacy["status"], legacy["version"]) == ("v2.0", "SUPPORTED", "")
    assert version["id"] == "v2.1"
    assert version["status"] == "CURRENT"
    assert (version["min_version"], version["version"]) == ("2.1", "2.79")
    assert version["links"] == [{"rel": "self", "href": f"{compute_url(gateway)}/v2.1/"}]


def test_every_listed_version_has_its_document(gateway: ServedGateway) -> None:
    listed = httpx.get(compute_url(gateway), timeout=30).json()["versions"]
    for entry in listed:
        document = httpx.get(entry["links"][0]["href"], timeout=30)
        assert document.status_code == 200, document.text
        assert document.json()["version"]["id"] == entry["id"]


@pytest.mark.parametrize("path", ["/v2.1", "/v2.1/"])
def test_v21_document(gateway: ServedGateway, path: str) -> None:
    response = httpx.get(compute_url(gateway) + path, timeout=30)
    assert response.status_code == 200, response.text
    version = response.json()["version"]
    assert (version["id"], version["min_version"], version["version"]) == ("v2.1", "2.1", "2.79")
    assert version["media-types"][0]["type"].startswith("application/vnd.openstack.compute+json")
    assert response.headers["OpenStack-API-Version"] == "compute 2.1"
    assert response.headers["X-OpenStack-Nova-API-Version"] == "2.1"


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"OpenStack-API-Version": "compute 2.60"}, "2.60"),
        ({"X-OpenStack-Nova-API-Version": "2.10"}, "2.10"),
        ({"OpenStack-API-Version": "volume 3.5, compute latest"}, "2.79"),
    ],
)
def test_requested_microversion_is_echoed(
    gateway: ServedGateway, headers: dict[str, str], expected: str
) -> None:
    response = httpx.get(f"{compute_url(gateway)}/v2.1", headers=headers, timeout=30)
    assert response.status_code == 200, response.text
    assert response.headers["OpenStack-API-Version"] == f"compute {expected}"
    assert response.headers["X-OpenStack-Nova-API-Version"] == expected
    vary = {v.strip().lower() for v in response.headers["Vary"].split(",")}
    assert vary == {"openstack-api-version", "x-openstack-nova-api-version"}


@pytest.mark.parametrize(
    ("header", "status", "fault"),
    [
        ("compute 2.80", 406, "notAcceptable"),
        ("compute 2.0", 406, "notAcceptable"),
        ("compute 3.1", 406, "notAcceptable"),
        ("compute two", 400, "badRequest"),
    ],
)
def test_unusable_microversion_is_a_nova_fault(
    gateway: ServedGateway, header: str, status: int, fault: str
) -> None:
    response = httpx.get(
        f"{compute_url(gateway)}/v2.1", headers={"OpenStack-API-Version": header}, timeout=30
    )
    assert response.status_code == status, response.text
    body = response.json()
    assert list(body) == [fault]
    assert body[fault]["code"] == status
    assert body[fault]["message"]


def test_unknown_compute_path_is_item_not_found(gateway: ServedGateway) -> None:
    response = httpx.get(f"{compute_url(gateway)}/v2.1/no-such-thing", timeout=30)
    assert response.status_code == 404
    assert response.json()["itemNotFound"]["code"] == 404


def test_openstack_versions_show_lists_compute(gateway: ServedGateway) -> None:
    result = gateway.cli("interstack", "versions", "show", "--service", "compute", "-f", "json")
    rows = json.loads(result.stdout)
    assert rows, result.stdout
    (row,) = [r for r in rows if r["Region Name"] == REGION and r["Version"] == "2.1"]
    assert row["Version"] == "2.1"
    assert row["Status"] == "CURRENT"
    assert (row["Min Microversion"], row["Max Microversion"]) == ("2.1", "2.79")
    assert row["Endpoint"].rstrip("/") == f"{compute_url(gateway)}/v2.1"


def test_sdk_negotiates_a_microversion(gateway: ServedGateway) -> None:
    conn = gateway.connect("interstack")
    assert conn.compute.get_endpoint_data().max_microversion == (2, 79)
