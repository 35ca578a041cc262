"""Rebuild of local servers with volumes, through openstacksdk and then ``ssh`` into the guests:
a volume-backed server rebuilt on its own image (Nova before microversion 2.93) boots again from
the same root volume, whose files stay, and finds its data volume where it was; an image-backed
server rebuilt keeps its data volume attached too (the new instance gets it at boot). Each
guest resolves its own name in its /etc/hosts (127.0.1.1), after a rebuild under a new name too,
and its sudo says nothing of an unresolvable host (nor waits on DNS for it).

One served gateway for the module (this directory's conftest), one network, two boots.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.backends.local.cloud import (
    allow_ssh,
    floating_ip,
    guest,
    routed_network,
    security_group,
    ssh,
    ssh_once_up,
)
from tests.support.compute import server_active
from tests.support.volume import sdk_status

PROOF = "/home/debian/written-before-the-rebuild"
TOKEN = f"interstack-rebuild-{uuid.uuid4().hex}"


@pytest.fixture(scope="module")
def place(conn: Any) -> dict[str, Any]:
    network, _ = routed_network(conn, "10.83.0.0/24")
    group = security_group(conn, "rebuild")
    allow_ssh(conn, group)
    return {"network": network, "group": group}


def booted(conn: Any, place: dict[str, Any], key_name: str, name: str, **extra: Any) -> Any:
    return conn.create_server(
        name=name,
        image="debian-12",
        flavor="m1.tiny",
        network=place["network"].id,
        security_groups=[place["group"].name],
        key_name=key_name,
        auto_ip=True,
        wait=True,
        timeout=600,
        **extra,
    )


def with_data_volume(conn: Any, server: Any, key: Path, address: str) -> Any:
    """A new volume attached to the server, ``TOKEN`` written at its start from the guest."""
    volume = conn.block_storage.create_volume(size=1, name=f"data-{uuid.uuid4().hex[:6]}")
    sdk_status(conn, volume, "available")
    conn.attach_volume(server, volume, device="/dev/vdb", wait=True, timeout=120)
    guest(key, address, f"printf {TOKEN} | dd of=/dev/vdb conv=notrunc status=none; sync")
    return volume


def rebuilt(conn: Any, server: Any, image_id: str, **extra: Any) -> Any:
    conn.compute.rebuild_server(server, image=image_id, admin_password=uuid.uuid4().hex, **extra)
    return server_active(conn, conn.compute.get_server(server.id))


def resolves_its_own_name(key: Path, address: str) -> None:
    """The guest's host name is 127.0.1.1 in its /etc/hosts, and sudo finds it there."""
    assert guest(key, address, 'getent -s files hosts "$(hostname)"').split()[0] == "127.0.1.1"
    done = ssh(key, address, "sudo true")
    assert done.returncode == 0, done.stderr
    assert "unable to resolve host" not in done.stderr


def test_a_volume_backed_server_is_rebuilt_on_its_root_volume_with_its_files(
    conn: Any, key_file: tuple[str, Path], place: dict[str, Any]
) -> None:
    key_name, key = key_file
    image = conn.image.find_image("debian-12", ignore_missing=False)
    server = booted(conn, place, key_name, "rebuild-bfv", boot_from_volume=True, volume_size=2,
                    terminate_volume=True)  # fmt: skip
    address = floating_ip(conn, server)
    ssh_once_up(key, address, "true", "SSH to the volume-backed server", bound=180)
    resolves_its_own_name(key, address)
    guest(key, address, f"echo {server.id} > {PROOF}; sync")
    [root] = conn.compute.get_server(server.id).attached_volumes
    data = with_data_volume(conn, server, key, address)

    server = server_active(conn, conn.compute.get_server(server.id))
    # under a new name: the root disk's /etc/hosts named the old one
    rebuilt(conn, server, image.id, name="rebuild-bfv-renamed")

    ssh_once_up(key, address, "true", "SSH to the rebuilt server", bound=180)
    resolves_its_own_name(key, address)
    assert guest(key, address, "hostname") == "rebuild-bfv-renamed"
    assert guest(key, address, f"cat {PROOF}") == server.id
    assert guest(key, address, f"head -c {len(TOKEN)} /dev/vdb") == TOKEN
    assert [v["id"] for v in conn.compute.get_server(server.id).attached_volumes] == [
        root["id"],
        data.id,
    ]
    conn.detach_volume(server, data, wait=True, timeout=120)
    conn.delete_server(server.id, wait=True, timeout=120)
    conn.block_storage.delete_volume(data.id)


def test_an_image_backed_server_keeps_its_data_volume_through_a_rebuild(
    conn: Any, key_file: tuple[str, Path], place: dict[str, Any]
) -> None:
    key_name, key = key_file
    image = conn.image.find_image("debian-12", ignore_missing=False)
    server = booted(conn, place, key_name, "rebuild-image")
    address = floating_ip(conn, server)
    ssh_once_up(key, address, "true", "SSH to the image-backed server", bound=180)
    data = with_data_volume(conn, server, key, address)
    guest(key, address, f"echo {server.id} > {PROOF}; sync")

    rebuilt(conn, server, image.id)

    ssh_once_up(key, address, "true", "SSH to the rebuilt server", bound=180)
    resolves_its_own_name(key, address)
    # a new root disk from the image: the file is gone, the volume is not
    assert guest(key, address, f"test -e {PROOF} && echo kept || echo gone") == "gone"
    assert guest(key, address, f"head -c {len(TOKEN)} /dev/vdb") == TOKEN
    assert conn.block_storage.get_volume(data.id).status == "in-use"
    conn.detach_volume(server, data, wait=True, timeout=120)
    conn.delete_server(server.id, wait=True, timeout=120)
    conn.block_storage.delete_volume(data.id)
