"""Listing servers: Nova's filters, sorting, marker paging with ``servers_links``, and isolation
between projects (another project's server is a 404, never a 403)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.api.servers.conftest import boot, boot_active, nova, wait_gone, wait_status
from tests.support.gateway import ServedGateway
from tests.support.identity import Member, unique


@pytest.fixture(scope="module")
def fleet(api: httpx.Client) -> dict[str, str]:
    """Three servers with distinct names and tags: name -> id."""
    prefix = unique("fleet")
    ids = {
        f"{prefix}-alpha": boot(api, f"{prefix}-alpha", tags=["red", "blue"]),
        f"{prefix}-beta": boot(api, f"{prefix}-beta", tags=["red"]),
        f"{prefix}-gamma": boot(api, f"{prefix}-gamma"),
    }
    for server_id in ids.values():
        wait_status(api, server_id, "ACTIVE")
    return ids


def _names(api: httpx.Client, path: str = "/servers", **query: str) -> list[str]:
    response = api.get(path, params=query)
    assert response.status_code == 200, response.text
    return [s["name"] for s in response.json()["servers"]]


def test_name_is_a_regular_expression(api: httpx.Client, fleet: dict[str, str]) -> None:
    prefix = next(iter(fleet)).rsplit("-", 1)[0]
    assert sorted(_names(api, name=f"^{prefix}-(alpha|gamma)$")) == [
        f"{prefix}-alpha",
        f"{prefix}-gamma",
    ]


def test_tag_filters(api: httpx.Client, fleet: dict[str, str]) -> None:
    prefix = next(iter(fleet)).rsplit("-", 1)[0]
    mine = {"name": f"^{prefix}-"}
    assert sorted(_names(api, **mine, tags="red,blue")) == [f"{prefix}-alpha"]
    assert sorted(_names(api, **mine, **{"tags-any": "blue,red"})) == [
        f"{prefix}-alpha",
        f"{prefix}-beta",
    ]
    assert sorted(_names(api, **mine, **{"not-tags-any": "red"})) == [f"{prefix}-gamma"]


def test_status_filter(api: httpx.Client, fleet: dict[str, str]) -> None:
    prefix = next(iter(fleet)).rsplit("-", 1)[0]
    assert len(_names(api, name=f"^{prefix}-", status="ACTIVE")) == 3
    assert _names(api, name=f"^{prefix}-", status="SHUTOFF") == []


def test_sorting_and_marker_paging(api: httpx.Client, fleet: dict[str, str]) -> None:
    names = sorted(fleet)
    prefix = names[0].rsplit("-", 1)[0]
    first = api.get(
        "/servers/detail",
        params={"name": f"^{prefix}-", "sort_key": "display_name", "sort_dir": "asc", "limit": 2},
    )
    assert first.status_code == 200, first.text
    page = first.json()
    assert [s["name"] for s in page["servers"]] == names[:2]
    (link,) = page["servers_links"]
    assert link["rel"] == "next"
    assert f"marker={fleet[names[1]]}" in link["href"]
    rest = api.get(link["href"])
    assert [s["name"] for s in rest.json()["servers"]] == names[2:]
    assert "servers_links" not in rest.json()


def test_unknown_sort_key_and_marker_are_400(api: httpx.Client) -> None:
    assert api.get("/servers", params={"sort_key": "nonsense"}).status_code == 400
    response = api.get("/servers", params={"marker": "7d4c6f0e-0000-4000-8000-000000000000"})
    assert response.status_code == 400, response.text
    assert "marker" in response.json()["badRequest"]["message"]


def test_changes_since_shows_recent_changes_including_deletions(api: httpx.Client) -> None:
    since = (datetime.now(UTC) - timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    server = boot_active(api, unique("changing"))
    assert api.delete(f"/servers/{server['id']}").status_code == 204
    wait_gone(api, server["id"])
    found = api.get("/servers/detail", params={"changes-since": since}).json()["servers"]
    statuses = {s["id"]: s["status"] for s in found}
    assert statuses.get(server["id"]) == "DELETED"
    future = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert api.get("/servers", params={"changes-since": future}).json()["servers"] == []
    bad = api.get("/servers", params={"changes-since": "yesterday"})
    assert bad.status_code == 400, bad.text


@pytest.fixture(scope="module")
def intruder(compute_gateway: ServedGateway, stranger: Member) -> Iterator[httpx.Client]:
    with nova(compute_gateway, stranger.token(compute_gateway)) as http:
        yield http


def test_projects_cannot_see_or_touch_each_others_servers(
    api: httpx.Client, intruder: httpx.Client, fleet: dict[str, str]
) -> None:
    server_id = next(iter(fleet.values()))
    assert server_id not in [s["id"] for s in intruder.get("/servers").json()["servers"]]
    for response in (
        intruder.get(f"/servers/{server_id}"),
        intruder.put(f"/servers/{server_id}", json={"server": {"name": "mine"}}),
        intruder.delete(f"/servers/{server_id}"),
        intruder.post(f"/servers/{server_id}/action", json={"os-stop": None}),
        intruder.get(f"/servers/{server_id}/metadata"),
        intruder.get(f"/servers/{server_id}/os-instance-actions"),
    ):
        assert response.status_code == 404, response.text
        assert response.json()["itemNotFound"]["message"] == (
            f"Instance {server_id} could not be found."
        )
    assert api.get(f"/servers/{server_id}").json()["server"]["status"] == "ACTIVE"


def test_all_tenants_is_for_admins(
    intruder: httpx.Client, admin_api: httpx.Client, member: Member, fleet: dict[str, str]
) -> None:
    denied = intruder.get("/servers", params={"all_tenants": "1"})
    assert denied.status_code == 403, denied.text
    everyone = admin_api.get(
        "/servers", params={"all_tenants": "1", "project_id": member.project_id}
    ).json()["servers"]
    assert set(fleet.values()) <= {s["id"] for s in everyone}


def test_admins_list_deleted_servers(api: httpx.Client, admin_api: httpx.Client) -> None:
    server = boot_active(api, unique("deleted"))
    assert api.delete(f"/servers/{server['id']}").status_code == 204
    wait_gone(api, server["id"])
    found = admin_api.get("/servers/detail", params={"all_tenants": "1", "deleted": "true"}).json()[
        "servers"
    ]
    deleted = {s["id"]: s for s in found}
    assert deleted[server["id"]]["status"] == "DELETED"
    assert deleted[server["id"]]["OS-SRV-USG:terminated_at"] is not None
    assert server["id"] not in {s["id"] for s in api.get("/servers").json()["servers"]}
