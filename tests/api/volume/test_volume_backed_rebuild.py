"""Rebuild of a volume-backed server, as Nova does it before microversion 2.93, proven with
openstacksdk and raw HTTP against a served gateway on sim: only the image the root volume was
made of is accepted (another is Nova's 400 and changes nothing); the server boots again from
the same root volume, keeps its ``image: ""`` and its volumes, and ends ACTIVE (or SHUTOFF if it
was stopped)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.compute import assert_nova_fault, delete_server, nova, server_active, server_in
from tests.support.gateway import ServedGateway
from tests.support.identity import unique
from tests.support.volume import delete_volume, sdk_status
from tests.support.waiting import eventually

CLOUD = "interstack"


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedGateway]:
    sim = {"boot_delay_seconds": 0.1, "volume_delay_seconds": 0.1}
    config = {"regions": [{"name": "RegionOne", "backend": "sim", "settings": sim}]}
    served = ServedGateway(tmp_path_factory.mktemp("rebuild") / "data", config=config).start()
    yield served
    served.stop()


@pytest.fixture(scope="module")
def conn(gateway: ServedGateway) -> Iterator[Any]:
    connection = gateway.connect(CLOUD)
    yield connection
    connection.close()


@pytest.fixture(scope="module")
def http(gateway: ServedGateway) -> Iterator[httpx.Client]:
    with nova(gateway, gateway.token(CLOUD), "2.79") as api:
        yield api


@pytest.fixture(scope="module")
def network(conn: Any) -> str:
    net = conn.network.create_network(name=unique("net"))
    conn.network.create_subnet(network_id=net.id, ip_version=4, cidr="10.19.0.0/24")
    return str(net.id)


def active_image(conn: Any) -> str:
    image = conn.image.create_image(name=unique("img"), data=b"\0" * 4096, disk_format="raw",
                                    container_format="bare")  # fmt: skip
    eventually(lambda: conn.image.get_image(image.id).status, lambda s: s == "active", "image")
    return str(image.id)


@pytest.fixture(scope="module")
def images(conn: Any) -> tuple[str, str]:
    """The image the servers' root volumes are made of, and another one."""
    return active_image(conn), active_image(conn)


@pytest.fixture(scope="module")
def flavor(conn: Any) -> str:
    return str(next(iter(conn.compute.flavors())).id)


def boot_from_volume(conn: Any, image_id: str, flavor: str, network: str) -> Any:
    return server_active(conn, conn.create_server(
        unique("bfv"), image=image_id, flavor=flavor, network=network, boot_from_volume=True,
        volume_size=1, terminate_volume=True))  # fmt: skip


def attached(http: httpx.Client, server_id: str) -> list[str]:
    shown = http.get(f"/servers/{server_id}").json()["server"]
    return [v["id"] for v in shown["os-extended-volumes:volumes_attached"]]


def rebuild(http: httpx.Client, server_id: str, image_id: str, **fields: Any) -> httpx.Response:
    return http.post(f"/servers/{server_id}/action",
                     json={"rebuild": {"imageRef": image_id, **fields}})  # fmt: skip


def test_sdk_rebuilds_a_volume_backed_server_on_its_own_image_keeping_its_volumes(
    conn: Any, http: httpx.Client, network: str, images: tuple[str, str], flavor: str
) -> None:
    own, _ = images
    server = boot_from_volume(conn, own, flavor, network)
    [root] = attached(http, server.id)
    data = conn.block_storage.create_volume(size=1, name=unique("data"))
    sdk_status(conn, data, "available")
    conn.attach_volume(server, data, wait=True, timeout=60)

    rebuilt = conn.compute.rebuild_server(server, image=own, name="renamed", admin_password="pw")
    assert rebuilt.name == "renamed"
    server = server_active(conn, server)
    shown = http.get(f"/servers/{server.id}").json()["server"]
    assert (shown["name"], shown["image"]) == ("renamed", "")
    assert attached(http, server.id) == [root, data.id]
    for volume_id in (root, data.id):
        volume = conn.block_storage.get_volume(volume_id)
        assert volume.status == "in-use"
        assert [a["server_id"] for a in volume.attachments] == [server.id]
    actions = [a.action for a in conn.compute.server_actions(server.id)]
    assert actions.count("rebuild") == 1
    [event] = [a for a in conn.compute.server_actions(server.id) if a.action == "rebuild"]
    assert conn.compute.get_server_action(event.request_id, server.id).message is None

    conn.detach_volume(server, data, wait=True, timeout=60)
    delete_server(conn, server.id)
    delete_volume(conn, data.id)


def test_another_image_is_refused_and_changes_nothing(
    conn: Any, http: httpx.Client, network: str, images: tuple[str, str], flavor: str
) -> None:
    own, other = images
    server = boot_from_volume(conn, own, flavor, network)
    answer = rebuild(http, server.id, other, name="never")
    message = assert_nova_fault(answer, 400, "badRequest")
    assert message == (
        f"Image {other} is unacceptable: Unable to rebuild with a different image for a "
        "volume-backed server."
    )
    shown = http.get(f"/servers/{server.id}").json()["server"]
    assert (shown["status"], shown["name"], shown["image"]) == ("ACTIVE", server.name, "")
    assert [a.action for a in conn.compute.server_actions(server.id)] == ["create"]
    delete_server(conn, server.id)


def test_a_stopped_volume_backed_server_is_rebuilt_stopped(
    conn: Any, http: httpx.Client, network: str, images: tuple[str, str], flavor: str
) -> None:
    own, _ = images
    server = boot_from_volume(conn, own, flavor, network)
    conn.compute.stop_server(server)
    server_in(conn, server, "SHUTOFF")
    assert rebuild(http, server.id, own).status_code == 202
    eventually(lambda: http.get(f"/servers/{server.id}").json()["server"],
               lambda s: s["status"] == "SHUTOFF" and s["OS-EXT-STS:task_state"] is None,
               "the rebuilt server stopped again")  # fmt: skip
    [root] = attached(http, server.id)
    assert conn.block_storage.get_volume(root).status == "in-use"
    delete_server(conn, server.id)
