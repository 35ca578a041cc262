"""Helpers for block storage tests: a Cinder HTTP client for a project, fault checks, waiting."""

from __future__ import annotations

from typing import Any

import httpx

from tests.support.compute import nova
from tests.support.faults import assert_named_fault
from tests.support.gateway import ServedGateway
from tests.support.identity import Member, client, unique
from tests.support.waiting import eventually

REGION = "RegionOne"


def sim_regions_lacking(sim: dict[str, Any], region: str, without: str) -> dict[str, Any]:
    """A gateway config of two sim regions with the same ``sim`` settings: RegionOne, and
    ``region`` whose backend lacks the capability ``without`` (where a test proves the fallback
    or the refusal)."""
    lacking = {**sim, "without": [without]}
    return {
        "regions": [
            {"name": REGION, "backend": "sim", "settings": sim},
            {"name": region, "backend": "sim", "settings": lacking},
        ]
    }


def volume_root(gateway: ServedGateway, region: str = REGION) -> str:
    """The unversioned block storage endpoint of a region."""
    return f"{gateway.url}/{region}/volume"


def cinder(
    gateway: ServedGateway, token: str, project_id: str, version: str | None = None
) -> httpx.Client:
    """An httpx client on ``.../volume/v3/<project_id>``, asking for ``version`` if given."""
    headers = {"X-Auth-Token": token}
    if version is not None:
        headers["OpenStack-API-Version"] = f"volume {version}"
    return httpx.Client(
        base_url=f"{volume_root(gateway)}/v3/{project_id}", headers=headers, timeout=30
    )


#: Cinder's fault body is one named object
assert_cinder_fault = assert_named_fault


def wait_volume(api: httpx.Client, volume_id: str, status: str) -> dict[str, Any]:
    def read() -> dict[str, Any]:
        response = api.get(f"/volumes/{volume_id}")
        assert response.status_code == 200, response.text
        found: dict[str, Any] = response.json()["volume"]
        return found

    return eventually(read, lambda v: v["status"] == status, f"volume {volume_id} {status}")


def wait_snapshot(api: httpx.Client, snapshot_id: str, status: str) -> dict[str, Any]:
    def read() -> dict[str, Any]:
        found: dict[str, Any] = api.get(f"/snapshots/{snapshot_id}").json()["snapshot"]
        return found

    return eventually(read, lambda s: s["status"] == status, f"snapshot {snapshot_id} {status}")


def wait_gone(api: httpx.Client, path: str) -> None:
    eventually(lambda: api.get(path).status_code, lambda code: code == 404, f"{path} gone")


def sdk_status(conn: Any, resource: Any, status: str) -> Any:
    """An openstacksdk volume or snapshot once in ``status``, looked at every 0.2 s (as
    :func:`tests.support.compute.server_active` for servers)."""
    return conn.block_storage.wait_for_status(resource, status, wait=60, interval=0.2)


def delete_volume(conn: Any, volume_id: str) -> None:
    """Delete a volume with openstacksdk and see it gone, looking every 0.05 s."""
    conn.block_storage.delete_volume(volume_id, ignore_missing=False)
    eventually(lambda: conn.block_storage.find_volume(volume_id), lambda found: found is None,
               f"volume {volume_id} deleted")  # fmt: skip


def create_volume(api: httpx.Client, **fields: Any) -> dict[str, Any]:
    """Create a volume and wait until it is available."""
    response = api.post("/volumes", json={"volume": {"size": 1, **fields}})
    assert response.status_code == 202, response.text
    return wait_volume(api, response.json()["volume"]["id"], "available")


def attached_volume_ids(http: httpx.Client, server_id: str) -> list[str]:
    """The ids of a server's volumes as Nova shows them (the root first when it boots from one)."""
    shown = http.get(f"/servers/{server_id}").json()["server"]
    return [v["id"] for v in shown["os-extended-volumes:volumes_attached"]]


def public_image(gateway: ServedGateway, image_id: str) -> str:
    """A small public raw image of ``image_id``, made by the gateway's admin."""
    with client(gateway, gateway.token("interstack-admin")) as admin:
        glance = f"{gateway.url}/{REGION}/image/v2/images"
        created = admin.post(glance, json={"id": image_id, "name": "tiny", "disk_format": "raw",
                                           "container_format": "bare",
                                           "visibility": "public"})  # fmt: skip
        assert created.status_code == 201, created.text
        data = admin.put(f"{glance}/{image_id}/file", content=b"\0" * 4096,
                         headers={"Content-Type": "application/octet-stream"})  # fmt: skip
        assert data.status_code == 204, data.text
    return image_id


def server_without_networks(gateway: ServedGateway, member: Member, image_id: str) -> str:
    """An active server of the member's project, booted from ``image_id`` without networks."""
    api = nova(gateway, member.token(gateway), "2.79")
    flavor = api.get("/flavors").json()["flavors"][0]["id"]
    booted = api.post("/servers", json={"server": {"name": unique("srv"), "imageRef": image_id,
                                                   "flavorRef": flavor,
                                                   "networks": "none"}})  # fmt: skip
    assert booted.status_code == 202, booted.text
    found: str = booted.json()["server"]["id"]
    eventually(lambda: api.get(f"/servers/{found}").json()["server"]["status"],
               lambda status: status == "ACTIVE", "the server")  # fmt: skip
    return found
