"""Volumes on the local backend as a user meets them: the ``openstack`` CLI and openstacksdk
against a served gateway, then ``ssh`` into the guests on their floating IPs.

One volume moves between two servers: the first writes raw bytes to the device and a file on a
filesystem it makes and mounts itself (as the Interop Challenge's database server does); after
a snapshot and a detach, the second server finds both. The gateway and the servers' network
come from this directory's conftest (one gateway for the module, two boots).
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from tests.backends.local.cloud import (
    allow_ssh,
    boot,
    floating_ip,
    guest,
    routed_network,
    security_group,
    ssh,
    ssh_once_up,
)
from tests.support.compute import cli_json
from tests.support.gateway import ServedGateway
from tests.support.waiting import eventually

CLOUD = "interstack"
TOKEN = f"interstack-volume-{uuid.uuid4().hex}"


def volume_status(gateway: ServedGateway, conn: Any, name: str, wanted: str) -> dict[str, Any]:
    """The CLI's show of the volume once it is ``wanted``: awaited through openstacksdk (a
    request a look, not a CLI process a look)."""
    eventually(
        lambda: conn.block_storage.find_volume(name, ignore_missing=False).status,
        lambda status: status in {wanted, "error"},
        f"volume {name} to be {wanted}",
        bound=120,
    )
    found: dict[str, Any] = cli_json(gateway, CLOUD, "volume", "show", name)
    assert found["status"] == wanted, found
    return found


def test_a_volume_moves_between_servers_with_its_data(
    cloud: ServedGateway, conn: Any, key_file: tuple[str, Path]
) -> None:
    key_name, key = key_file
    network, _ = routed_network(conn, "10.73.0.0/24")
    group = security_group(conn, "vol")
    allow_ssh(conn, group)
    servers = [
        boot(conn, name, network, group, key_name, userdata=None, wait=False)
        for name in ("db-one", "db-two")
    ]
    one, two = (conn.wait_for_server(s, auto_ip=True, timeout=900) for s in servers)
    one_ip, two_ip = floating_ip(conn, one), floating_ip(conn, two)

    name = f"data-{uuid.uuid4().hex[:6]}"
    cli_json(cloud, CLOUD, "volume", "create", "--size", "1", name)
    volume_status(cloud, conn, name, "available")
    cloud.cli(CLOUD, "server", "add", "volume", one.id, name, "--device", "/dev/vdb")
    attached = volume_status(cloud, conn, name, "in-use")
    assert attached["attachments"][0]["device"] == "/dev/vdb"

    ssh_once_up(key, one_ip, "true", "SSH to db-one", bound=180)
    guest(
        key,
        one_ip,
        "mkfs.ext4 -q /dev/vdb; mkdir -p /var/lib/db; mount /dev/vdb /var/lib/db; "
        "echo on-the-filesystem > /var/lib/db/proof; umount /var/lib/db; "
        f"printf {TOKEN} | dd of=/dev/vdb conv=notrunc status=none; sync",
    )

    snapshot = cli_json(
        cloud, CLOUD, "volume", "snapshot", "create", "--force", "--volume", name, f"{name}-snap"
    )
    eventually(
        lambda: conn.block_storage.get_snapshot(snapshot["id"]).status,
        lambda s: s in {"available", "error"},
        "the snapshot",
    )
    assert conn.block_storage.get_snapshot(snapshot["id"]).status == "available"

    cloud.cli(CLOUD, "server", "remove", "volume", one.id, name)
    volume_status(cloud, conn, name, "available")
    assert ssh(key, one_ip, "test -e /dev/vdb").returncode != 0

    volume = conn.block_storage.find_volume(name)
    conn.attach_volume(two, volume, device="/dev/vdc", wait=True, timeout=120)
    ssh_once_up(key, two_ip, "true", "SSH to db-two", bound=180)
    assert guest(key, two_ip, f"head -c {len(TOKEN)} /dev/vdc") == TOKEN
    mounted = "mkdir -p /mnt/v; mount /dev/vdc /mnt/v; cat /mnt/v/proof; umount /mnt/v"
    assert guest(key, two_ip, mounted) == "on-the-filesystem"
    conn.detach_volume(two, volume, wait=True, timeout=120)
    # the volume's disk becomes an image (a raw disk holding its ext4 filesystem)
    uploaded = cli_json(cloud, CLOUD, "image", "create", "--volume", name, f"{name}-image")
    image_id = uploaded.get("image_id") or uploaded["id"]
    image = eventually(
        lambda: conn.image.get_image(image_id),
        lambda i: i.status in {"active", "killed"},
        "the image of the volume",
        bound=180,
    )
    assert (image.status, image.size, image.disk_format) == ("active", 1024**3, "raw")
    restored = conn.create_volume(size=1, snapshot_id=snapshot["id"], wait=True, timeout=120)
    assert restored.status == "available"
    for server in (one, two):
        conn.delete_server(server.id, wait=True, timeout=120)
