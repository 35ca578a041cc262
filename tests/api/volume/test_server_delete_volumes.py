"""Deleting a server releases its volumes: each attached one is ``available`` again with no
attachments (and can be deleted), and one attached with ``delete_on_termination`` goes with it.
Proven with openstacksdk and the ``openstack`` CLI against a served gateway on sim."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.support.compute import server_active, wait_server_gone
from tests.support.gateway import ServedGateway
from tests.support.identity import unique
from tests.support.volume import sdk_status
from tests.support.waiting import eventually

CLOUD = "interstack"


@pytest.fixture(scope="module")
def image_id(conn: Any) -> str:
    """A small private image of the clouds.yaml user's project to boot from."""
    image = conn.image.create_image(name=unique("tiny"), data=b"\0" * 4096,
                                    disk_format="raw", container_format="bare")  # fmt: skip
    found = eventually(lambda: conn.image.get_image(image.id),
                       lambda got: got.status == "active", "the image")  # fmt: skip
    return str(found.id)


def boot(conn: Any, image_id: str) -> Any:
    flavor = next(iter(conn.compute.flavors()))
    server = conn.compute.create_server(name=unique("srv"), image_id=image_id,
                                        flavor_id=flavor.id, networks="none")  # fmt: skip
    return server_active(conn, server)


def new_volume(conn: Any) -> Any:
    volume = conn.block_storage.create_volume(size=1, name=unique("vol"))
    return sdk_status(conn, volume, "available")


def test_sdk_server_delete_makes_its_volumes_available(conn: Any, image_id: str) -> None:
    server = boot(conn, image_id)
    kept, doomed = new_volume(conn), new_volume(conn)
    conn.attach_volume(server, kept, wait=True, timeout=60)
    conn.compute.create_volume_attachment(server, volume_id=doomed.id, delete_on_termination=True)
    eventually(lambda: conn.block_storage.get_volume(doomed.id).status,
               lambda status: status == "in-use", "the second attachment")  # fmt: skip
    assert conn.block_storage.get_volume(kept.id).status == "in-use"

    assert conn.delete_server(server.id, wait=True, timeout=60)

    released = conn.block_storage.get_volume(kept.id)
    assert (released.status, released.attachments) == ("available", [])
    assert conn.delete_volume(kept.id, wait=True, timeout=60)
    eventually(lambda: conn.block_storage.find_volume(doomed.id), lambda found: found is None,
               "the delete_on_termination volume gone")  # fmt: skip
    assert conn.block_storage.find_volume(kept.id) is None


def test_cli_server_delete_releases_an_added_volume(
    volume_gateway: ServedGateway, conn: Any, image_id: str
) -> None:
    server, volume = boot(conn, image_id), new_volume(conn)
    volume_gateway.cli(CLOUD, "server", "add", "volume", server.id, volume.id)
    eventually(lambda: conn.block_storage.get_volume(volume.id).status,
               lambda status: status == "in-use", "the CLI's attachment")  # fmt: skip

    volume_gateway.cli(CLOUD, "server", "delete", server.id)
    wait_server_gone(conn, server.id)

    shown, _ = volume_gateway.cli_batch(  # in one ``openstack`` process, each must succeed
        CLOUD, ["volume", "show", volume.id, "-f", "json"], ["volume", "delete", volume.id]
    )
    assert (json.loads(shown)["status"], json.loads(shown)["attachments"]) == ("available", [])
