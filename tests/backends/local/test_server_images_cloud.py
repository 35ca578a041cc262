"""Images of local servers through the APIs people use: ``create_image_snapshot`` (openstacksdk)
and ``openstack server image create`` make Glance images that boot servers holding the first
server's files, and any local image downloaded from Glance uploads again as a bootable image.

One served gateway and one source server (booted with a keypair behind a router, a file written
into it over SSH) serve the whole module.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.backends.local.cloud import (
    allow_ssh,
    boot,
    floating_ip,
    routed_network,
    security_group,
    ssh,
)
from tests.support.gateway import ServedGateway
from tests.support.waiting import eventually

PROOF = "/home/debian/written-before-the-snapshot"


def ssh_ready(key: Path, address: str) -> None:
    eventually(
        lambda: ssh(key, address, "true"),
        lambda done: done.returncode == 0,
        f"SSH to {address} to answer",
        bound=180,
    )


@pytest.fixture(scope="module")
def source(conn: Any, key_file: tuple[str, Path]) -> dict[str, Any]:
    """A running server with a file of its own, and the network and group it uses."""
    key_name, key = key_file
    network, _ = routed_network(conn, "10.81.0.0/24")
    group = security_group(conn, "snap")
    allow_ssh(conn, group)
    server = boot(conn, "snap-source", network, group, key_name)
    address = floating_ip(conn, server)
    ssh_ready(key, address)
    wrote = ssh(key, address, f"echo {server.id} > {PROOF}")
    assert wrote.returncode == 0, wrote.stderr
    return {"server": server, "network": network, "group": group}


def boot_from(conn: Any, image: Any, name: str, source: dict[str, Any], **extra: Any) -> Any:
    return conn.create_server(
        name=name,
        image=image.id,
        flavor="m1.tiny",
        network=source["network"].id,
        security_groups=[source["group"].name],
        wait=True,
        timeout=600,
        **extra,
    )


def test_a_snapshot_boots_a_server_holding_the_first_servers_files(
    conn: Any, key_file: tuple[str, Path], source: dict[str, Any]
) -> None:
    key_name, key = key_file
    server = source["server"]

    image = conn.create_image_snapshot(f"snap-{uuid.uuid4().hex[:6]}", server, wait=True)

    image = conn.image.get_image(image.id)
    assert image.status == "active"
    assert (image.properties["image_type"], image.instance_uuid) == ("snapshot", server.id)
    assert image.size > 0 and image.visibility == "private"
    after = conn.compute.get_server(server.id)
    assert (after.status, after.task_state) == ("ACTIVE", None)

    copy = boot_from(conn, image, "snap-copy", source, key_name=key_name, auto_ip=True)
    address = floating_ip(conn, copy)
    ssh_ready(key, address)
    read = ssh(key, address, f"cat {PROOF}; hostname")
    assert read.returncode == 0, read.stderr
    assert read.stdout.split() == [server.id, "snap-copy"]  # cloud-init ran for the new server
    conn.delete_server(copy.id, wait=True)


def test_the_cli_snapshots_a_server(cloud: ServedGateway, source: dict[str, Any]) -> None:
    server = source["server"]
    made = cloud.cli(
        "interstack",
        "server",
        "image",
        "create",
        "--name",
        "cli-snap",
        "--wait",
        "-f",
        "json",
        server.id,
    )
    image = json.loads(made.stdout)
    shown = json.loads(cloud.cli("interstack", "image", "show", "-f", "json", image["id"]).stdout)
    assert (shown["name"], shown["status"]) == ("cli-snap", "active")
    assert shown["properties"]["instance_uuid"] == server.id


@pytest.mark.parametrize("name", ["debian-12", "snapshot"])
def test_a_downloaded_image_uploads_again_and_boots(
    conn: Any, source: dict[str, Any], tmp_path: Path, name: str
) -> None:
    if name == "snapshot":
        original = conn.create_image_snapshot(
            f"snap-{uuid.uuid4().hex[:6]}", source["server"], wait=True
        )
    else:
        original = conn.image.find_image(name, ignore_missing=False)
    data = tmp_path / "image.data"
    conn.image.download_image(original, output=str(data))
    assert data.stat().st_size > 0

    copy = conn.image.create_image(
        name=f"{name}-copy",
        filename=str(data),
        disk_format=original.disk_format,
        container_format=original.container_format,
        wait=True,
    )

    uploaded = conn.image.get_image(copy.id)
    assert uploaded.status == "active" and uploaded.size == data.stat().st_size
    assert uploaded.checksum == hashlib.md5(data.read_bytes(), usedforsecurity=False).hexdigest()
    server = boot_from(conn, uploaded, f"from-{name}-copy", source)
    assert conn.compute.get_server(server.id).status == "ACTIVE"
    conn.delete_server(server.id, wait=True)
