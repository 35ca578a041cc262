"""The local backend places servers, volumes and images' bytes on its data dir's file system as
OpenStack's services place them on hosts and stores (:mod:`interstack.backends.local.hostdisk`),
seen through openstacksdk against a served gateway.

The region counts on 3 GiB of the file system (``disk_capacity_gb``; no test fills a disk, and
what else fills the host meanwhile changes nothing as long as 3 GiB stay free): servers may be
promised all 3 (``disk_allocation_ratio`` 1.0), a volume half of it
(``max_over_subscription_ratio`` 0.5, Cinder's thin check). A 2 GiB volume goes to ``error``,
as Cinder leaves a volume its scheduler cannot place, a 1 GiB one is made; of five ``m1.tiny``
servers (1 GiB root disks) asked for at once beside it, two are placed and three go to
``ERROR`` with Nova's "No valid host was found" fault, leaving nothing on the host. With all 3
GiB promised, an image's upload is Glance's 413 and the image stays ``queued``; once the
volume is deleted, its room takes one more server.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from interstack.backends.contract import NO_VALID_HOST
from tests.backends.local.cloud import REGION
from tests.support.gateway import ServedGateway
from tests.support.waiting import eventually


@pytest.fixture(scope="module")
def cloud_settings() -> dict[str, Any]:
    return {
        "disk_capacity_gb": 3,
        "disk_allocation_ratio": 1.0,
        "max_over_subscription_ratio": 0.5,
    }


def _volume_settled(conn: Any, volume: Any) -> str:
    found = eventually(
        lambda: conn.block_storage.get_volume(volume.id),
        lambda v: v.status in {"available", "error"},
        f"volume {volume.name} to be made or refused",
    )
    return str(found.status)


def _server_settled(conn: Any, server: Any) -> Any:
    return eventually(
        lambda: conn.compute.get_server(server.id),
        lambda s: s.status in {"ACTIVE", "ERROR"},
        f"server {server.name} to be placed or refused",
        bound=600,
    )


def test_what_the_data_dirs_file_system_has_no_room_for_is_refused_as_openstack_refuses_it(
    cloud: ServedGateway, conn: Any
) -> None:
    data_dir = cloud.data_dir / "backends" / REGION
    tag = uuid.uuid4().hex[:6]
    image = conn.image.find_image("debian-12", ignore_missing=False)
    flavor = conn.compute.find_flavor("m1.tiny", ignore_missing=False)

    def create_server(name: str) -> Any:
        return conn.compute.create_server(
            name=name, image_id=image.id, flavor_id=flavor.id, networks="none"
        )

    too_large = conn.block_storage.create_volume(size=2, name=f"room-{tag}-large")
    volume = conn.block_storage.create_volume(size=1, name=f"room-{tag}")
    assert _volume_settled(conn, too_large) == "error"
    assert _volume_settled(conn, volume) == "available"

    asked = [create_server(f"room-{tag}-{index}") for index in range(5)]
    settled = [_server_settled(conn, server) for server in asked]
    assert sorted(s.status for s in settled) == ["ACTIVE"] * 2 + ["ERROR"] * 3
    instances = data_dir / "instances"
    for server in settled:
        if server.status == "ERROR":
            assert server.fault["message"] == NO_VALID_HOST
            assert list(instances.glob(f"*{server.id}*")) == []

    queued = conn.image.create_image(
        name=f"room-{tag}", disk_format="raw", container_format="bare", visibility="private"
    )
    upload = conn.image.put(
        f"/images/{queued.id}/file",
        data=b"x" * 4096,
        headers={"Content-Type": "application/octet-stream"},
        raise_exc=False,
    )
    assert upload.status_code == 413 and "Image storage media is full" in upload.text
    assert conn.image.get_image(queued.id).status == "queued"
    assert list((data_dir / "images").glob(f"*{queued.id}*")) == []
    conn.image.delete_image(queued)

    refused = [s for s in settled if s.status == "ERROR"]
    for server in refused:
        conn.compute.delete_server(server)

    conn.block_storage.delete_volume(volume)
    conn.block_storage.wait_for_delete(volume, wait=120)
    conn.block_storage.delete_volume(too_large)
    another = create_server(f"room-{tag}-another")
    assert _server_settled(conn, another).status == "ACTIVE"
    for server in (*settled, another):
        conn.compute.delete_server(server)
        conn.compute.wait_for_delete(server, wait=300)
