"""Glance through the clients people use: the ``openstack`` CLI and openstacksdk."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import httpx
import pytest

from tests.support.compute import cli_json
from tests.support.gateway import ServedGateway
from tests.support.identity import Member, cli_as, member_of, unique


@pytest.fixture(scope="module")
def members(gateway: ServedGateway) -> tuple[Member, Member]:
    return member_of(gateway), member_of(gateway)


def test_cli_image_lifecycle(gateway: ServedGateway, tmp_path: Path) -> None:
    """The commands run in one ``openstack`` process (:meth:`ServedGateway.cli_batch`); each
    must succeed."""
    cloud, name = "interstack", unique("cli-img")
    source = tmp_path / "disk.raw"
    source.write_bytes(os.urandom(3 * 1024 * 1024 + 17))
    saved = tmp_path / "saved.raw"
    created, listed, _, shown, _, _ = gateway.cli_batch(
        cloud,
        [
            "image", "create", "--file", str(source), "--disk-format", "raw",
            "--container-format", "bare", "--property", "os_distro=debian", name, "-f", "json",
        ],
        ["image", "list", "-f", "json"],
        ["image", "set", "--property", "hw_disk_bus=scsi", "--min-ram", "256", name],
        ["image", "show", name, "-f", "json"],
        ["image", "save", "--file", str(saved), name],
        ["image", "delete", name],
    )  # fmt: skip
    created, listed, shown = json.loads(created), json.loads(listed), json.loads(shown)
    assert created["status"] == "active" and created["size"] == source.stat().st_size
    assert created["checksum"] == hashlib.md5(source.read_bytes()).hexdigest()

    assert {"ID": created["id"], "Name": name, "Status": "active"} in listed

    assert shown["id"] == created["id"] and shown["min_ram"] == 256
    assert shown["properties"]["hw_disk_bus"] == "scsi"
    assert shown["properties"]["os_distro"] == "debian"

    assert saved.read_bytes() == source.read_bytes()

    gone = gateway.cli(cloud, "image", "show", created["id"], check=False)
    assert gone.returncode != 0 and "No Image found" in gone.stderr


def test_cli_share_and_accept(gateway: ServedGateway, members: tuple[Member, Member]) -> None:
    owner, member = members
    name = unique("cli-shared")
    created = cli_json(
        gateway, "interstack", "image", "create", "--disk-format", "raw", "--container-format",
        "bare", "--shared", name, extra=cli_as(owner),
    )  # fmt: skip
    image_id = created["id"]
    seen = cli_json(gateway, "interstack", "image", "list", extra=cli_as(member))
    assert image_id not in {i["ID"] for i in seen}

    gateway.cli(
        "interstack", "image", "add", "project", image_id, member.project_id, extra=cli_as(owner)
    )
    gateway.cli("interstack", "image", "set", "--accept", image_id, extra=cli_as(member))
    seen = cli_json(gateway, "interstack", "image", "list", extra=cli_as(member))
    assert image_id in {i["ID"] for i in seen}
    shared = cli_json(
        gateway, "interstack", "image", "member", "list", image_id, extra=cli_as(owner)
    )
    assert [(m["Member ID"], m["Status"]) for m in shared] == [(member.project_id, "accepted")]


def test_sdk_create_with_data_and_download(gateway: ServedGateway) -> None:
    conn = gateway.connect("interstack")
    data = os.urandom(2 * 1024 * 1024 + 5)
    image = conn.image.create_image(
        name=unique("sdk-img"), data=data, disk_format="raw", container_format="bare",
        allow_duplicates=True,
    )  # fmt: skip
    try:
        fetched = conn.image.get_image(image.id)
        assert fetched.status == "active" and fetched.size == len(data)
        assert fetched.checksum == hashlib.md5(data).hexdigest()
        assert fetched.hash_algo == "sha512"
        assert fetched.hash_value == hashlib.sha512(data).hexdigest()
        downloaded = conn.image.download_image(fetched)  # the sdk verifies the hash itself
        assert downloaded.content == data
        assert downloaded.headers["Content-MD5"] == fetched.checksum
    finally:
        conn.image.delete_image(image.id)


def test_sdk_cloud_layer_create_image_from_file_and_wait(
    gateway: ServedGateway, tmp_path: Path
) -> None:
    conn = gateway.connect("interstack")
    source = tmp_path / "cloud.qcow2"
    source.write_bytes(os.urandom(1024 * 1024))
    name = unique("cloud-img")
    image = conn.create_image(
        name, filename=str(source), disk_format="qcow2", container_format="bare", wait=True,
        validate_checksum=True,
    )  # fmt: skip
    assert image.status == "active"
    assert conn.get_image(name).id == image.id
    target = tmp_path / "back.qcow2"
    conn.download_image(name, output_file=str(target))
    assert target.read_bytes() == source.read_bytes()
    # the cloud layer recognises the same upload by its recorded hashes and does not repeat it
    again = conn.create_image(
        name, filename=str(source), disk_format="qcow2", container_format="bare", wait=True,
        validate_checksum=True,
    )  # fmt: skip
    assert again.id == image.id
    assert conn.delete_image(name, wait=True)
    assert conn.get_image(name) is None


def test_sdk_raises_not_found_for_another_projects_private_image(
    gateway: ServedGateway, members: tuple[Member, Member]
) -> None:
    owner, _ = members
    api = httpx.Client(
        base_url=f"{gateway.url}/RegionOne/image",
        headers={"X-Auth-Token": owner.token(gateway)},
    )
    image_id = api.post("/v2/images", json={"name": unique("p"), "visibility": "private"}).json()[
        "id"
    ]
    from openstack import exceptions

    conn = gateway.connect("interstack")
    with pytest.raises(exceptions.NotFoundException):
        conn.image.get_image(image_id)
