"""The local backend places servers and volumes on its data dir's file system as OpenStack's
schedulers place them on hosts (:mod:`interstack.backends.local.hostdisk`), seen through
openstacksdk against a served gateway.

The region's ratios are tiny (no test fills a disk): servers may be promised 3 GiB of the real
file system (``disk_allocation_ratio``), a volume 1.5 GiB of its free space
(``max_over_subscription_ratio``, Cinder's thin check). A 2 GiB volume goes to ``error``, as
Cinder leaves a volume its scheduler cannot place, a 1 GiB one is made; of five ``m1.tiny``
servers (1 GiB root disks) asked for at once beside it, two are placed and three go to
``ERROR`` with Nova's "No valid host was found" fault, leaving nothing on the host; once the
volume is deleted, its room takes one more server.
"""

from __future__ import annotations

import tempfile
import uuid
from pathlib import Path
from typing import Any

import pytest

from interstack.backends.contract import NO_VALID_HOST
from interstack.backends.local.hostdisk import Room
from tests.backends.local.cloud import REGION
from tests.support.gateway import ServedGateway
from tests.support.waiting import eventually

GiB_MB = 1024
#: what servers (and everything else) may be promised of the file system under the data dirs
SERVERS_ROOM_MB = 3 * GiB_MB
#: what one volume may be of the free space there
VOLUME_ROOM_MB = 1.5 * GiB_MB


def _room() -> Room:
    """The file system the test's data dirs are made on."""
    return Room.of(Path(tempfile.gettempdir()))


@pytest.fixture(scope="module")
def cloud_settings() -> dict[str, Any]:
    room = _room()
    return {
        "disk_allocation_ratio": SERVERS_ROOM_MB / room.size_mb,
        "max_over_subscription_ratio": VOLUME_ROOM_MB / room.free_mb,
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
    if Room.of(data_dir).size_mb != _room().size_mb:
        pytest.skip("the gateway's data dir is not on the file system the ratios were set for")
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
