"""Keystone's ``/v3/regions`` through the ``openstack`` CLI and openstacksdk on a gateway of
several regions: each configured region is listed and shown as Keystone shows one; a change is
refused with Keystone's codes and a message saying where regions are configured."""

from __future__ import annotations

import json

import pytest

from tests.api.conftest import ASSIGNING, LIMITED
from tests.support.gateway import ServedGateway

CONFIGURED = ["RegionOne", LIMITED, ASSIGNING]


@pytest.fixture(scope="module")
def gateway(regions_gateway: ServedGateway) -> ServedGateway:
    return regions_gateway


def test_cli_region_list_and_show(gateway: ServedGateway) -> None:
    listed, shown, children = gateway.cli_batch(
        "interstack",  # a member: Keystone lets any token read the regions
        ["region", "list", "-f", "json"],
        ["region", "show", LIMITED, "-f", "json"],
        ["region", "list", "--parent-region", "RegionOne", "-f", "json"],
    )
    assert [r["Region"] for r in json.loads(listed)] == CONFIGURED
    assert json.loads(shown) == {"region": LIMITED, "description": "", "parent_region": None}
    assert json.loads(children) == []
    missing = gateway.cli("interstack", "region", "show", "nowhere", check=False)
    assert missing.returncode != 0 and "nowhere" in missing.stderr + missing.stdout


def test_sdk_regions_and_the_catalog_agree(gateway: ServedGateway) -> None:
    sdk = gateway.connect("interstack")
    regions = list(sdk.identity.regions())
    assert [r.id for r in regions] == CONFIGURED
    assert {r.parent_region_id for r in regions} == {None}
    access = sdk.session.auth.get_access(sdk.session)
    catalog = {e["region_id"] for s in access.service_catalog.catalog for e in s["endpoints"]}
    assert catalog == set(CONFIGURED)
    one = sdk.identity.get_region(ASSIGNING)
    assert one.id == ASSIGNING and one.links["self"].endswith(f"/v3/regions/{ASSIGNING}")
    body = sdk.identity.get("/regions?parent_region_id=RegionOne").json()
    assert body["regions"] == [] and "self" in body["links"]


def test_a_region_change_is_refused_saying_where_regions_are_configured(
    gateway: ServedGateway,
) -> None:
    admin = gateway.connect("interstack-admin")
    made = admin.identity.post("/regions", json={"region": {"id": "elsewhere"}})
    assert made.status_code == 403, made.text
    assert "settings file" in made.json()["error"]["message"]
    again = admin.identity.post("/regions", json={"region": {"id": "RegionOne"}})
    assert again.status_code == 409, again.text
    changed = admin.identity.patch(f"/regions/{LIMITED}", json={"region": {"description": "x"}})
    assert changed.status_code == 403, changed.text
    gone = admin.identity.delete(f"/regions/{ASSIGNING}")
    assert gone.status_code == 403, gone.text
    assert admin.identity.delete("/regions/nowhere").status_code == 404
    member = gateway.connect("interstack")
    assert member.identity.delete(f"/regions/{ASSIGNING}").status_code == 403
    assert [r.id for r in admin.identity.regions()] == CONFIGURED  # nothing changed
