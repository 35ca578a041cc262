"""A gateway whose sim region boots servers quickly, members of projects of their own, and a
Nova client for raw HTTP."""

from __future__ import annotations

import concurrent.futures
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support import compute, identity
from tests.support.gateway import ServedGateway
from tests.support.identity import Member, client, new_member, unique
from tests.support.network import created, neutron_of
from tests.support.waiting import eventually

REGION = "RegionOne"
#: public images the gateway fixture uploads, with these ids
IMAGE = "6ab4b3b2-9f3e-4a5c-9e0d-1b2c3d4e5f60"
OTHER_IMAGE = "0c2f7a9e-1d3b-4c5a-8e6f-7a8b9c0d1e2f"
FAST_SIM = {
    "regions": [
        {
            "name": REGION,
            "backend": "sim",
            "settings": {"boot_delay_seconds": 0.2, "action_delay_seconds": 0.1},
        }
    ]
}


@pytest.fixture(scope="session")
def compute_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedGateway]:
    """One gateway for the server tests; each module works in projects of its own."""
    with ServedGateway(tmp_path_factory.mktemp("servers") / "data", config=FAST_SIM) as served:
        with client(served, served.token("interstack-admin")) as admin:
            for image_id, name in ((IMAGE, "cirros-sim"), (OTHER_IMAGE, "debian-sim")):
                upload_image(served, admin, image_id, name)
        yield served


#: a sim region without the capabilities that only some backends have, to see the faults; its
#: servers named ``doomed*`` fail to boot
BARE_REGION = "RegionBare"
BARE_IMAGE = "5e1d2c3b-4a59-4687-9a8b-c0d1e2f3a4b5"
BARE_SIM = {
    "regions": [
        FAST_SIM["regions"][0],
        {
            "name": BARE_REGION,
            "backend": "sim",
            "settings": {
                "boot_delay_seconds": 0.2,
                "without": ["interface_attach", "set_admin_password", "pause", "resize"],
                "fail_on": {"create_server": {"name": "doomed*", "message": "No valid host"}},
            },
        },
    ]
}


@pytest.fixture(scope="session")
def bare_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedGateway]:
    """A gateway whose second region cannot hot-plug ports, set guests' passwords, pause or
    resize, and fails the boot of servers named ``doomed*``."""
    with ServedGateway(tmp_path_factory.mktemp("bare") / "data", config=BARE_SIM) as served:
        with client(served, served.token("interstack-admin")) as admin:
            upload_image(served, admin, BARE_IMAGE, "cirros-bare", region=BARE_REGION)
        yield served


def upload_image(
    gateway: ServedGateway, admin: httpx.Client, image_id: str, name: str, region: str = REGION
) -> None:
    """A small public image, uploaded through Glance so that servers can boot from it."""
    glance = f"{gateway.url}/{region}/image/v2/images"
    created = admin.post(
        glance,
        json={
            "id": image_id,
            "name": name,
            "disk_format": "qcow2",
            "container_format": "bare",
            "visibility": "public",
        },
    )
    assert created.status_code == 201, created.text
    uploaded = admin.put(
        f"{glance}/{image_id}/file",
        content=f"{name} disk\n".encode() * 64,
        headers={"Content-Type": "application/octet-stream"},
    )
    assert uploaded.status_code == 204, uploaded.text


@pytest.fixture(scope="module")
def admin_http(compute_gateway: ServedGateway) -> Iterator[httpx.Client]:
    with client(compute_gateway, compute_gateway.token("interstack-admin")) as admin:
        yield admin


@pytest.fixture(scope="module")
def member(admin_http: httpx.Client) -> Member:
    return new_member(admin_http)


@pytest.fixture(scope="module")
def strangers_gateway(compute_gateway: ServedGateway) -> ServedGateway:
    """tests/api's ``stranger`` (another project's member) and its clients are made here."""
    return compute_gateway


def nova(
    gateway: ServedGateway, token: str, version: str = "2.79", region: str = REGION
) -> httpx.Client:
    """tests/support/compute.py's Nova client, at 2.79 unless told: the server tests' own."""
    return compute.nova(gateway, token, version, region)


@pytest.fixture(scope="module")
def api(compute_gateway: ServedGateway, member: Member) -> Iterator[httpx.Client]:
    with nova(compute_gateway, member.token(compute_gateway)) as http:
        yield http


@pytest.fixture(scope="module")
def net_api(compute_gateway: ServedGateway, member: Member) -> Iterator[httpx.Client]:
    """The member's Neutron client, for the ports and networks of its servers."""
    with neutron_of(compute_gateway, member) as http:
        yield http


def sdk_as(gateway: ServedGateway, member: Member) -> Any:
    """An openstacksdk connection as ``member``, in its project (close it when done)."""
    return identity.sdk_as(gateway, member, REGION)


@pytest.fixture(scope="module")
def conn(compute_gateway: ServedGateway, member: Member) -> Iterator[Any]:
    """The member's openstacksdk connection, shared by a module's tests."""
    connection = sdk_as(compute_gateway, member)
    yield connection
    connection.close()


@pytest.fixture(scope="module")
def admin_api(compute_gateway: ServedGateway) -> Iterator[httpx.Client]:
    with nova(compute_gateway, compute_gateway.token("interstack-admin")) as http:
        yield http


@pytest.fixture
def server(api: httpx.Client, admin_api: httpx.Client) -> Iterator[dict[str, Any]]:
    """The member's ACTIVE server, deleted afterwards (by an admin, whom a lock does not
    stop); a module whose tests need another kind defines its own."""
    booted = boot_active(api, unique("acted"))
    yield booted
    assert admin_api.delete(f"/servers/{booted['id']}").status_code == 204
    wait_gone(api, booted["id"])


def server_of(api: httpx.Client, server_id: str) -> dict[str, Any]:
    response = api.get(f"/servers/{server_id}")
    assert response.status_code == 200, response.text
    server: dict[str, Any] = response.json()["server"]
    return server


def wait_status(api: httpx.Client, server_id: str, status: str) -> dict[str, Any]:
    found: dict[str, Any] = eventually(
        lambda: server_of(api, server_id),
        lambda s: s["status"] == status and s["OS-EXT-STS:task_state"] is None,
        f"server {server_id} to be {status}",
    )
    return found


def wait_gone(api: httpx.Client, server_id: str) -> None:
    eventually(
        lambda: api.get(f"/servers/{server_id}").status_code,
        lambda code: code == 404,
        f"server {server_id} to be deleted",
    )


def boot(api: httpx.Client, name: str, **extra: Any) -> str:
    """Create a server and return its id (not waiting for ACTIVE)."""
    body = {"name": name, "flavorRef": "1", "imageRef": IMAGE, "networks": "none", **extra}
    body = {k: v for k, v in body.items() if v is not None}
    response = api.post("/servers", json={"server": body})
    assert response.status_code == 202, response.text
    server_id: str = response.json()["server"]["id"]
    return server_id


def boot_active(api: httpx.Client, name: str, **extra: Any) -> dict[str, Any]:
    return wait_status(api, boot(api, name, **extra), "ACTIVE")


def new_network(net_api: httpx.Client, cidr: str, **subnet_fields: object) -> dict[str, Any]:
    """A network of the caller's project with one IPv4 subnet (under ``subnet``), of
    ``subnet_fields`` too (``allocation_pools``)."""
    network = created(
        net_api.post("/networks", json={"network": {"name": unique("net")}}), "network"
    )
    subnet = created(
        net_api.post(
            "/subnets",
            json={
                "subnet": {
                    "network_id": network["id"],
                    "cidr": cidr,
                    "ip_version": 4,
                    **subnet_fields,
                }
            },
        ),
        "subnet",
    )
    return {**network, "subnet": subnet}


def ports_of(net_api: httpx.Client, server_id: str) -> list[dict[str, Any]]:
    """The server's ports, as Neutron lists them."""
    ports: list[dict[str, Any]] = net_api.get("/ports", params={"device_id": server_id}).json()[
        "ports"
    ]
    return ports


def create_at_once(api: httpx.Client, count: int) -> list[httpx.Response]:
    """``count`` creates of one server each sent at the same time, each on its own connection
    (as Tempest's workers or a script's threads send them), in the order sent."""
    url, headers = str(api.base_url).rstrip("/") + "/servers", dict(api.headers)

    def create(_: int) -> httpx.Response:
        body = {"name": unique("at-once"), "flavorRef": "1", "imageRef": IMAGE}
        server = {"server": {**body, "networks": "none"}}
        return httpx.post(url, headers=headers, json=server, timeout=60)

    with concurrent.futures.ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(create, range(count)))
