"""What Cinder's create and update answers carry (not the fields its extensions add to GET, which
Tempest's create/update schemas refuse), a snapshot of a null volume and an empty volume id being
404s, and the extension list."""

from __future__ import annotations

import httpx
import pytest

from tests.support.volume import (
    assert_cinder_fault,
    create_volume,
    wait_gone,
    wait_snapshot,
    wait_volume,
)

GET_ONLY = {"os-vol-tenant-attr:tenant_id", "os-vol-host-attr:host"}


@pytest.mark.parametrize("who", ["api", "admin_api"])
def test_create_and_update_answer_without_get_only_fields(
    who: str, request: pytest.FixtureRequest
) -> None:
    http: httpx.Client = request.getfixturevalue(who)
    created = http.post("/volumes", json={"volume": {"size": 1, "name": "answered"}})
    assert created.status_code == 202, created.text
    volume = created.json()["volume"]
    assert not GET_ONLY & set(volume), sorted(GET_ONLY & set(volume))
    shown = wait_volume(http, volume["id"], "available")
    assert shown["os-vol-tenant-attr:tenant_id"]
    updated = http.put(f"/volumes/{volume['id']}", json={"volume": {"name": "renamed"}})
    assert updated.status_code == 200, updated.text
    assert updated.json()["volume"]["name"] == "renamed"
    assert not GET_ONLY & set(updated.json()["volume"])
    assert http.delete(f"/volumes/{volume['id']}").status_code == 202
    wait_gone(http, f"/volumes/{volume['id']}")


def test_snapshot_of_a_null_volume_is_not_found(api: httpx.Client) -> None:
    response = api.post("/snapshots", json={"snapshot": {"volume_id": None, "name": "s"}})
    assert "None" in assert_cinder_fault(response, 404, "itemNotFound")
    missing = api.post("/snapshots", json={"snapshot": {"name": "s"}})
    assert_cinder_fault(missing, 400, "badRequest")


def test_snapshot_create_and_update_answer_without_extended_attributes(api: httpx.Client) -> None:
    volume = create_volume(api, name="snapped")
    made = api.post("/snapshots", json={"snapshot": {"volume_id": volume["id"], "name": "s"}})
    assert made.status_code == 202, made.text
    snapshot = made.json()["snapshot"]
    assert not [k for k in snapshot if k.startswith("os-extended-snapshot-attributes:")]
    shown = wait_snapshot(api, snapshot["id"], "available")
    assert shown["os-extended-snapshot-attributes:progress"] == "100%"
    updated = api.put(f"/snapshots/{snapshot['id']}", json={"snapshot": {"name": "t"}})
    assert updated.status_code == 200, updated.text
    assert updated.json()["snapshot"]["name"] == "t"
    assert not [k for k in updated.json()["snapshot"] if k.startswith("os-extended-snapshot")]
    assert api.delete(f"/snapshots/{snapshot['id']}").status_code == 202
    wait_gone(api, f"/snapshots/{snapshot['id']}")
    assert api.delete(f"/volumes/{volume['id']}").status_code == 202


def test_an_empty_volume_id_is_not_found(api: httpx.Client) -> None:
    """``/volumes/`` names no volume (Tempest's volume-without-id tests): 404, not the list."""
    assert_cinder_fault(api.get("/volumes/"), 404, "itemNotFound")
    assert_cinder_fault(api.put("/volumes/", json={"volume": {}}), 404, "itemNotFound")
    assert_cinder_fault(api.delete("/volumes/"), 404, "itemNotFound")


def test_extensions_list_what_is_served_under_cinders_aliases(api: httpx.Client) -> None:
    response = api.get("/extensions")
    assert response.status_code == 200, response.text
    listed = {e["alias"]: e for e in response.json()["extensions"]}
    assert {"os-vol-tenant-attr", "os-extended-snapshot-attributes", "os-quota-sets"} <= set(listed)
    assert "os-hosts" not in listed  # not served, so not claimed
    for extension in listed.values():
        assert set(extension) == {"name", "alias", "description", "updated", "links"}
