"""Cinder through the clients people use: openstacksdk (proxy and cloud layer) and the
``openstack`` CLI, against one served gateway."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from tests.support.compute import cli_json
from tests.support.gateway import ServedGateway
from tests.support.identity import unique
from tests.support.waiting import eventually


@pytest.fixture(scope="module")
def admin_conn(volume_gateway: ServedGateway) -> Any:
    return volume_gateway.connect("interstack-admin")


def _fresh(conn: Any, volume: Any) -> Any:
    return conn.block_storage.get_volume(volume.id)


def test_sdk_volume_lifecycle(conn: Any) -> None:
    block = conn.block_storage
    volume = block.create_volume(size=1, name=unique("sdk"), metadata={"app": "db"})
    volume = block.wait_for_status(volume, "available", wait=60, interval=0.2)
    assert volume.volume_type == "__DEFAULT__" and volume.metadata == {"app": "db"}
    assert volume.id in [v.id for v in block.volumes(details=True)]

    block.set_volume_bootable_status(volume, True)
    assert _fresh(conn, volume).is_bootable is True

    block.extend_volume(volume, 2)
    eventually(lambda: _fresh(conn, volume), lambda v: v.size == 2 and v.status == "available",
               "the extended volume")  # fmt: skip

    snapshot = block.create_snapshot(volume_id=volume.id, name=unique("snap"))
    snapshot = block.wait_for_status(snapshot, "available", wait=60, interval=0.2)
    assert snapshot.size == 2 and snapshot.id in [s.id for s in block.snapshots()]

    block.delete_snapshot(snapshot)
    block.wait_for_delete(snapshot, interval=0.2, wait=60)
    block.delete_volume(volume)
    block.wait_for_delete(volume, interval=0.2, wait=60)


def test_an_extend_the_backend_has_no_room_for_leaves_the_volume_as_it_was(conn: Any) -> None:
    """As Cinder's scheduler leaves a volume whose extend no backend can take (NoValidBackend):
    its status before the extend and its size, not ``error_extending``."""
    block = conn.block_storage
    volume = block.create_volume(size=1, name=unique("full"))
    volume = block.wait_for_status(volume, "available", wait=60, interval=0.2)

    block.extend_volume(volume, 3)
    refused = eventually(lambda: _fresh(conn, volume), lambda v: v.status != "extending",
                         "the refused extend")  # fmt: skip
    assert (refused.status, refused.size) == ("available", 1)

    block.delete_volume(volume)
    block.wait_for_delete(volume, interval=0.2, wait=60)


def test_cloud_layer_create_from_snapshot_and_volume(conn: Any) -> None:
    source = conn.create_volume(size=1, name=unique("cloud"), wait=True, timeout=60)
    assert source.status == "available"
    snapshot = conn.create_volume_snapshot(source.id, wait=True, timeout=60)
    from_snapshot = conn.create_volume(size=1, snapshot_id=snapshot.id, wait=True, timeout=60)
    assert from_snapshot.snapshot_id == snapshot.id
    clone = conn.block_storage.create_volume(source_volume_id=source.id, name=unique("clone"))
    clone = conn.block_storage.wait_for_status(clone, "available", wait=60, interval=0.2)
    assert clone.source_volume_id == source.id and clone.size == 1

    for volume in (from_snapshot, clone):
        assert conn.delete_volume(volume.id, wait=True, timeout=60)
    assert conn.delete_volume_snapshot(snapshot.id, wait=True, timeout=60)
    assert conn.delete_volume(source.id, wait=True, timeout=60)


def test_sdk_admin_volume_types(admin_conn: Any, conn: Any) -> None:
    name = unique("silver")
    created = admin_conn.block_storage.create_type(name=name, extra_specs={"tier": "2"})
    assert created.name == name and created.extra_specs == {"tier": "2"}
    assert name in [t.name for t in conn.block_storage.types()]
    volume = conn.block_storage.create_volume(size=1, volume_type=name)
    volume = conn.block_storage.wait_for_status(volume, "available", wait=60, interval=0.2)
    assert volume.volume_type == name
    conn.block_storage.delete_volume(volume)
    conn.block_storage.wait_for_delete(volume, interval=0.2, wait=60)
    admin_conn.block_storage.delete_type(created)
    assert name not in [t.name for t in conn.block_storage.types()]


def _status_of(read: Any, resource_id: str) -> str | None:
    """A volume's or a snapshot's status through openstacksdk (``None`` once it is gone): what
    the CLI tests wait on between their commands, one request a look instead of a CLI
    process."""
    found = read(resource_id, ignore_missing=True)
    return None if found is None else str(found.status)


def test_cli_volume_snapshot_and_bootable(volume_gateway: ServedGateway, conn: Any) -> None:
    """The commands in a row run in one ``openstack`` process (:meth:`ServedGateway.cli_batch`;
    each must succeed); the waits between them look through openstacksdk."""
    cloud, name, snapshot_name = "interstack", unique("cli-vol"), unique("cli-snap")
    created = cli_json(volume_gateway, cloud, "volume", "create", "--size", "1", name)
    assert created["name"] == name and created["size"] == 1
    block = conn.block_storage
    eventually(
        lambda: _status_of(block.find_volume, created["id"]),
        lambda status: status == "available",
        "the CLI's volume",
    )
    listed, _, shown, snap = volume_gateway.cli_batch(
        cloud,
        ["volume", "list", "-f", "json"],
        ["volume", "set", "--bootable", "--property", "k=v", name],
        ["volume", "show", name, "-f", "json"],
        ["volume", "snapshot", "create", "--volume", name, snapshot_name, "-f", "json"],
    )
    assert name in [v["Name"] for v in json.loads(listed)]
    shown = json.loads(shown)
    assert shown["status"] == "available"
    assert shown["bootable"] is True and shown["properties"] == {"k": "v"}
    snap = json.loads(snap)
    assert snap["name"] == snapshot_name

    eventually(
        lambda: _status_of(block.find_snapshot, snap["id"]),
        lambda status: status == "available",
        "the CLI's snapshot",
    )
    snap_shown, _ = volume_gateway.cli_batch(
        cloud,
        ["volume", "snapshot", "show", snapshot_name, "-f", "json"],
        ["volume", "snapshot", "delete", snapshot_name],
    )
    assert json.loads(snap_shown)["status"] == "available"
    eventually(
        lambda: _status_of(block.find_snapshot, snap["id"]),
        lambda status: status is None,
        "the snapshot's deletion",
    )
    volume_gateway.cli(cloud, "volume", "delete", name)


def test_cli_volume_type_create_as_admin(volume_gateway: ServedGateway) -> None:
    name = unique("cli-type")
    created = cli_json(volume_gateway, "interstack-admin", "volume", "type", "create",
                   "--property", "speed=fast", "--private", name)  # fmt: skip
    assert created["name"] == name and created["is_public"] is False
    denied = volume_gateway.cli("interstack", "volume", "type", "create", unique("x"), check=False)
    assert denied.returncode != 0 and "403" in denied.stderr
    volume_gateway.cli("interstack-admin", "volume", "type", "delete", name)


def test_image_to_volume_and_back(volume_gateway: ServedGateway, conn: Any, tmp_path: Path) -> None:
    """As above: the commands in a row in one ``openstack`` process, the waits through
    openstacksdk."""
    cloud = "interstack"
    data = tmp_path / "disk.raw"
    data.write_bytes(os.urandom(1024 * 1024 + 3))
    source, volume_name = unique("src"), unique("from-image")
    image, made = volume_gateway.cli_batch(
        cloud,
        [
            "image", "create", "--file", str(data), "--disk-format", "raw",
            "--container-format", "bare", source, "-f", "json",
        ],
        ["volume", "create", "--size", "1", "--image", source, volume_name, "-f", "json"],
    )  # fmt: skip
    image, made = json.loads(image), json.loads(made)
    eventually(
        lambda: _status_of(conn.block_storage.find_volume, made["id"]),
        lambda status: status == "available",
        "the volume from an image",
    )
    target = unique("from-volume")
    volume, _ = volume_gateway.cli_batch(
        cloud,
        ["volume", "show", volume_name, "-f", "json"],
        ["image", "create", "--volume", volume_name, target],
    )
    volume = json.loads(volume)
    assert volume["status"] == "available" and volume["bootable"] is True
    assert volume["volume_image_metadata"]["image_id"] == image["id"]

    eventually(
        lambda: conn.image.find_image(target, ignore_missing=True),
        lambda found: found is not None and found.status == "active",
        "the image uploaded from the volume",
    )
    saved = tmp_path / "saved.raw"
    uploaded, volume, _ = volume_gateway.cli_batch(
        cloud,
        ["image", "show", target, "-f", "json"],
        ["volume", "show", volume_name, "-f", "json"],
        ["image", "save", "--file", str(saved), target],
    )
    assert json.loads(uploaded)["status"] == "active"
    assert json.loads(uploaded)["size"] == data.stat().st_size
    assert json.loads(volume)["status"] == "available"
    assert saved.read_bytes() == data.read_bytes()
