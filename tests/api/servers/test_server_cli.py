"""Servers driven by the ``openstack`` CLI (as a subprocess) against the served gateway."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.api.servers.conftest import boot_active, nova, wait_gone, wait_status
from tests.support.gateway import ServedGateway
from tests.support.identity import unique

CLOUD = "interstack"


@pytest.fixture(scope="module")
def demo_api(compute_gateway: ServedGateway) -> Iterator[httpx.Client]:
    with nova(compute_gateway, compute_gateway.token(CLOUD)) as http:
        yield http


@pytest.fixture
def server(demo_api: httpx.Client) -> Iterator[dict[str, Any]]:
    booted = boot_active(demo_api, unique("cli"))
    yield booted
    if demo_api.get(f"/servers/{booted['id']}").status_code == 200:
        demo_api.delete(f"/servers/{booted['id']}")
        wait_gone(demo_api, booted["id"])


def test_list_long_and_show(compute_gateway: ServedGateway, server: dict[str, Any]) -> None:
    """Commands in a row run in one ``openstack`` process (:meth:`ServedGateway.cli_batch`;
    each must succeed), here and below where no wait for the server comes between them."""
    listed, shown = map(
        json.loads,
        compute_gateway.cli_batch(
            CLOUD,
            ["server", "list", "--long", "-f", "json"],
            ["server", "show", server["id"], "-f", "json"],
        ),
    )
    (row,) = [r for r in listed if r["ID"] == server["id"]]
    assert (row["Name"], row["Status"]) == (server["name"], "ACTIVE")
    assert row["Flavor"] == "m1.tiny"  # the embedded flavor (2.47+) names it
    assert row["Power State"] == 1  # machine-readable: RUNNING
    assert shown["status"] == "ACTIVE"
    assert shown["OS-EXT-STS:vm_state"] == "active"
    assert shown["flavor"]["original_name"] == "m1.tiny"


def test_power_lock_and_properties(
    compute_gateway: ServedGateway, demo_api: httpx.Client, server: dict[str, Any]
) -> None:
    sid = server["id"]
    compute_gateway.cli(CLOUD, "server", "stop", sid)
    wait_status(demo_api, sid, "SHUTOFF")
    compute_gateway.cli(CLOUD, "server", "start", sid)
    wait_status(demo_api, sid, "ACTIVE")
    compute_gateway.cli(CLOUD, "server", "reboot", "--hard", sid)
    wait_status(demo_api, sid, "ACTIVE")
    for action, status in (
        ("pause", "PAUSED"),
        ("unpause", "ACTIVE"),
        ("suspend", "SUSPENDED"),
        ("resume", "ACTIVE"),
    ):
        compute_gateway.cli(CLOUD, "server", action, sid)
        assert wait_status(demo_api, sid, status)["status"] == status

    compute_gateway.cli(CLOUD, "server", "lock", "--reason", "cli test", sid)
    refused = compute_gateway.cli(CLOUD, "server", "stop", sid, check=False)
    assert refused.returncode != 0
    assert "is locked" in refused.stderr
    _, _, shown, _, unset = compute_gateway.cli_batch(
        CLOUD,
        ["server", "unlock", sid],
        ["server", "set", "--property", "tier=web", sid],
        ["server", "show", sid, "-f", "json"],
        ["server", "unset", "--property", "tier", sid],
        ["server", "show", sid, "-f", "json"],
    )
    assert json.loads(shown)["properties"] == {"tier": "web"}
    assert json.loads(unset)["properties"] == {}


def test_resize_confirm_console_and_delete(
    compute_gateway: ServedGateway, demo_api: httpx.Client, server: dict[str, Any]
) -> None:
    sid = server["id"]
    compute_gateway.cli(CLOUD, "server", "resize", "--flavor", "m1.small", sid)
    wait_status(demo_api, sid, "VERIFY_RESIZE")
    compute_gateway.cli(CLOUD, "server", "resize", "confirm", sid)
    assert wait_status(demo_api, sid, "ACTIVE")["flavor"]["original_name"] == "m1.small"

    log, _ = compute_gateway.cli_batch(
        CLOUD, ["console", "log", "show", "--lines", "1", sid], ["server", "delete", sid]
    )
    assert len(log.strip().splitlines()) == 1
    wait_gone(demo_api, sid)


def test_create_wait_image_create_rebuild_and_delete(
    compute_gateway: ServedGateway, demo_api: httpx.Client
) -> None:
    name = unique("cli-made")
    created, snapshot = map(
        json.loads,
        compute_gateway.cli_batch(
            CLOUD,
            [
                "server", "create", "--image", "cirros-sim", "--flavor", "m1.tiny",
                "--nic", "none", "--property", "made=cli", "--wait", name, "-f", "json",
            ],
            ["server", "image", "create", "--name", f"{name}-snap", "--wait", name, "-f", "json"],
        ),
    )  # fmt: skip
    assert created["status"] == "ACTIVE"
    assert created["properties"] == {"made": "cli"}
    sid = created["id"]

    assert snapshot["status"] == "active"
    assert snapshot["name"] == f"{name}-snap"

    compute_gateway.cli(CLOUD, "server", "rebuild", "--image", "debian-sim", sid)
    wait_status(demo_api, sid, "ACTIVE")
    shown, _, _ = compute_gateway.cli_batch(
        CLOUD,
        ["server", "show", sid, "-f", "json"],
        ["server", "delete", "--wait", sid],
        ["image", "delete", snapshot["id"]],
    )
    assert json.loads(shown)["image"].startswith("debian-sim")

    assert demo_api.get(f"/servers/{sid}").status_code == 404
