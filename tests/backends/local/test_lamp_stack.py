"""The Interop Challenge's LAMP stack on the local backend: an Ansible playbook with the
``openstack.cloud`` collection (tests/e2e/playbooks/lamp.yml) boots a web and a database server
and attaches a volume to the database server; the same run configures the servers as the
hosts of Ansible's dynamic inventory from the gateway (playbooks/inventory/openstack.yml),
over ssh on their floating IPs: the database server formats and mounts the volume where MariaDB
keeps its data, both install their packages with apt (through the routers' NAT), and the host
fetches the web server's page over its floating IP: a row read from the database server, whose
table lives on the volume, mounted with an fstab entry (what makes a reboot mount it again: the
local backend's guests mount fstab at boot too, see test_running_server_changes).

Two real boots and two apt installs: the slowest test of the local backend (a minute or two
here, the two installs running at once).
"""

from __future__ import annotations

import json
import secrets
import socket
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.backends.local.cloud import floating_ip, guest
from tests.support import ansible
from tests.support.gateway import ServedGateway
from tests.support.waiting import eventually

PLAYBOOK = Path(__file__).parents[2] / "e2e" / "playbooks" / "lamp.yml"
PREFIX = "lamp"


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory, key_file: tuple[str, Path]) -> Path:
    work = tmp_path_factory.mktemp("lamp")
    key_name, key = key_file
    variables = {
        "cloud": "interstack",
        "prefix": PREFIX,
        "public_network": "public",
        "key_name": key_name,
        "key_file": str(key),
        "db_password": secrets.token_urlsafe(12),
    }
    (work / "vars.json").write_text(json.dumps(variables))
    return work


@pytest.mark.slow
def test_the_lamp_stack_serves_a_row_from_the_database_on_a_volume(
    cloud: ServedGateway, conn: Any, workdir: Path, key_file: tuple[str, Path]
) -> None:
    run = ansible.run_playbook(cloud, workdir, PLAYBOOK, inventory=ansible.OPENSTACK_INVENTORY)
    run.assert_succeeded()

    web = conn.compute.find_server(f"{PREFIX}-web", ignore_missing=False)
    db = conn.compute.find_server(f"{PREFIX}-db", ignore_missing=False)
    web_ip = floating_ip(conn, web)
    # the play reached the servers as the inventory's hosts, on their floating IPs
    for server in (web, db):
        assert f"ok: [{server.name}]" in run.output, run.output
    inventory = ansible.list_inventory(cloud, workdir)
    assert inventory[f"{PREFIX}_web"]["hosts"] == [web.name]
    assert inventory[f"{PREFIX}_db"]["hosts"] == [db.name]
    assert inventory["_meta"]["hostvars"][web.name]["ansible_host"] == web_ip
    page = eventually(
        lambda: _get(f"http://{web_ip}/"),
        lambda answer: answer.startswith("row:"),
        "the web server's page",
    )
    assert page.strip() == f"row: hello from MariaDB on {PREFIX}-db"
    # the database is the other server's: MySQL is closed to the host (only the web group)
    db_ip = floating_ip(conn, db)
    assert not _connects(db_ip, 3306)

    # the row's table is a file on the filesystem of the volume the cloud attached
    volume = conn.block_storage.find_volume(f"{PREFIX}-db-data", ignore_missing=False)
    (attachment,) = volume.attachments
    assert attachment["server_id"] == db.id
    device = attachment["device"]
    numbers = guest(
        key_file[1],
        db_ip,
        f"stat -c %Hr:%Lr {device}; stat -c %Hd:%Ld /var/lib/mysql/lamp/greeting.ibd",
    )
    device_number, table_filesystem = numbers.split()
    assert table_filesystem == device_number

    # the mount is in fstab, for the guest's next boot
    fstab = guest(key_file[1], db_ip, "findmnt --fstab -n -o SOURCE,FSTYPE /var/lib/mysql")
    assert fstab.split() == [device, "ext4"]

    for server in (web, db):
        assert conn.delete_server(server.id, wait=True, delete_ips=True, timeout=120)
    # the data outlives its server
    conn.block_storage.wait_for_status(volume, "available", wait=120)
    conn.block_storage.delete_volume(volume.id)


def _connects(address: str, port: int) -> bool:
    try:
        with socket.create_connection((address, port), timeout=3):
            return True
    except OSError:
        return False


def _get(url: str) -> str:
    try:
        return httpx.get(url, timeout=5).text
    except httpx.HTTPError as exc:
        return f"failed: {exc}"
