"""Images of local servers through the APIs people use: ``create_image_snapshot`` (openstacksdk)
and ``openstack server image create`` make Glance images that boot servers holding the first
server's files (a volume-backed server's image through a snapshot of its volume, as Nova's),
and any local image downloaded from Glance uploads again, as it is labelled, as a bootable
image (a snapshot of a server booted from a qcow2 disk too).

One served gateway and one source server (booted with a keypair behind a router, a file written
into it over SSH) serve the whole module.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
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
    ssh_once_up,
)
from tests.support.gateway import ServedGateway
from tests.support.local import to_qcow2

PROOF = "/home/debian/written-before-the-snapshot"


def ssh_ready(key: Path, address: str) -> None:
    ssh_once_up(key, address, "true", f"SSH to {address} to answer", bound=180)


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


def test_a_snapshot_of_a_server_booted_from_a_qcow2_disk_is_labelled_as_what_it_holds(
    conn: Any, source: dict[str, Any], default_image: Path, tmp_path: Path
) -> None:
    disk = tmp_path / "root.raw"
    subprocess.run(["truncate", "-s", "2G", str(disk)], check=True)
    subprocess.run(["mkfs.ext4", "-q", "-F", "-d", str(default_image), str(disk)], check=True)
    qcow2 = to_qcow2(disk, tmp_path / "root.qcow2")
    uploaded = conn.image.create_image(name=f"qcow2-{uuid.uuid4().hex[:6]}",
                                       filename=str(qcow2), disk_format="qcow2",
                                       container_format="bare", wait=True)  # fmt: skip
    server = boot_from(conn, uploaded, "from-qcow2", source)

    snapshot = conn.create_image_snapshot(f"snap-{uuid.uuid4().hex[:6]}", server, wait=True)

    snapshot = conn.image.get_image(snapshot.id)
    data = tmp_path / "snapshot.data"
    conn.image.download_image(snapshot, output=str(data))
    with data.open("rb") as handle:
        head = handle.read(512)
    # the capture is a root filesystem tarball, labelled as the local backend's tarballs are
    assert head[257:262] == b"ustar"
    assert (snapshot.disk_format, snapshot.container_format) == ("raw", "bare")
    copy = conn.image.create_image(name=f"{snapshot.name}-copy", filename=str(data),
                                   disk_format=snapshot.disk_format,
                                   container_format=snapshot.container_format,
                                   wait=True)  # fmt: skip
    again = boot_from(conn, copy, "from-qcow2-snapshot-copy", source)
    assert conn.compute.get_server(again.id).status == "ACTIVE"
    for made in (again, server):
        conn.delete_server(made.id, wait=True)


def test_a_volume_backed_servers_image_boots_a_new_volume_holding_its_files(
    conn: Any, key_file: tuple[str, Path], source: dict[str, Any]
) -> None:
    key_name, key = key_file
    server = boot_from(conn, conn.image.find_image("debian-12", ignore_missing=False),
                       "snap-bfv", source, key_name=key_name, auto_ip=True,
                       boot_from_volume=True, volume_size=2,
                       terminate_volume=True)  # fmt: skip
    address = floating_ip(conn, server)
    ssh_ready(key, address)
    wrote = ssh(key, address, f"echo {server.id} > {PROOF}")  # no sync: the snapshot flushes
    assert wrote.returncode == 0, wrote.stderr
    [root] = conn.compute.get_server(server.id).attached_volumes

    image = conn.create_image_snapshot(f"snap-{uuid.uuid4().hex[:6]}", server, wait=True)

    image = conn.image.get_image(image.id)
    assert (image.status, image.size, image.properties["bdm_v2"]) == ("active", 0, "True")
    [mapping] = json.loads(image.properties["block_device_mapping"])
    snapshot = conn.block_storage.get_snapshot(mapping["snapshot_id"])
    assert (snapshot.volume_id, mapping["boot_index"]) == (root["id"], 0)
    conn.block_storage.wait_for_status(snapshot, "available", wait=300, interval=1)
    assert conn.compute.get_server(server.id).status == "ACTIVE"

    copy = boot_from(conn, image, "snap-bfv-copy", source, key_name=key_name, auto_ip=True)
    shown = conn.compute.get_server(copy.id)
    assert shown.image.id == image.id  # Nova keeps the imageRef; the root is still a volume
    [volume] = shown.attached_volumes
    made = conn.block_storage.get_volume(volume["id"])
    assert (made.snapshot_id, made.attachments[0]["device"]) == (snapshot.id, "/dev/vda")
    address = floating_ip(conn, copy)
    ssh_ready(key, address)
    read = ssh(key, address, f"cat {PROOF}")
    assert read.returncode == 0, read.stderr
    assert read.stdout.splitlines()[0] == server.id
    for gone in (copy, server):
        conn.delete_server(gone.id, wait=True)
    conn.image.delete_image(image.id)
    conn.block_storage.delete_snapshot(snapshot.id)
