"""The Interop Challenge's LAMP stack on the local backend: an Ansible playbook with the
``openstack.cloud`` collection (tests/e2e/playbooks/lamp.yml) boots a web and a database server,
installs MariaDB and Apache with PHP in them with apt (through the routers' NAT), and the host
fetches the web server's page over its floating IP: a row read from the database server.

Two real boots and two apt installs: the slowest test of the local backend (about two
minutes here, the two installs running at once). The database keeps its data on the server's
disk: local volumes were not there yet.
"""

from __future__ import annotations

import json
import secrets
import socket
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.backends.local.cloud import floating_ip
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
def test_the_lamp_stack_serves_a_row_from_the_database_server(
    cloud: ServedGateway, conn: Any, workdir: Path
) -> None:
    run = ansible.run_playbook(cloud, workdir, PLAYBOOK)
    run.assert_succeeded()

    web = conn.compute.find_server(f"{PREFIX}-web", ignore_missing=False)
    db = conn.compute.find_server(f"{PREFIX}-db", ignore_missing=False)
    web_ip = floating_ip(conn, web)
    page = eventually(
        lambda: _get(f"http://{web_ip}/"),
        lambda answer: answer.startswith("row:"),
        "the web server's page",
        bound=60,
    )
    assert page.strip() == f"row: hello from MariaDB on {PREFIX}-db"
    # the database is the other server's: MySQL is closed to the host (only the web group)
    db_ip = floating_ip(conn, db)
    assert not _connects(db_ip, 3306)

    for server in (web, db):
        assert conn.delete_server(server.id, wait=True, delete_ips=True, timeout=120)


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
