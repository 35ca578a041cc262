"""Servers driven by openstacksdk's compute proxy, as scripts use it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.api.servers.conftest import IMAGE, OTHER_IMAGE
from tests.support.identity import unique


@pytest.fixture
def server(conn: Any) -> Iterator[Any]:
    created = conn.compute.create_server(
        name=unique("sdk"), flavor_id="1", image_id=IMAGE, networks="none"
    )
    active = conn.compute.wait_for_server(created, status="ACTIVE", wait=60, interval=0.2)
    yield active
    conn.compute.delete_server(active, ignore_missing=True)
    conn.compute.wait_for_delete(active, wait=60, interval=0.2)


def settle(conn: Any, server: Any, status: str) -> Any:
    """Wait for ``status`` from a fresh read: the sdk returns at once when the object it is
    handed already shows the status (as it may from before the action)."""
    fresh = conn.compute.get_server(server)
    return conn.compute.wait_for_server(fresh, status=status, wait=60, interval=0.2)


def test_create_wait_and_delete(conn: Any) -> None:
    created = conn.compute.create_server(
        name=unique("sdk"),
        flavor_id="1",
        image_id=IMAGE,
        networks="none",
        metadata={"owner": "sdk"},
    )
    assert created.admin_password
    active = conn.compute.wait_for_server(created, status="ACTIVE", wait=60, interval=0.2)
    assert active.vm_state == "active"
    assert active.metadata == {"owner": "sdk"}
    assert active.id in {s.id for s in conn.compute.servers(details=True)}
    conn.compute.delete_server(active)
    conn.compute.wait_for_delete(active, wait=60, interval=0.2)
    assert conn.compute.find_server(active.id, ignore_missing=True) is None


def test_power_actions(conn: Any, server: Any) -> None:
    compute = conn.compute
    compute.stop_server(server)
    settle(conn, server, "SHUTOFF")
    compute.start_server(server)
    settle(conn, server, "ACTIVE")
    compute.reboot_server(server, "HARD")
    settle(conn, server, "ACTIVE")
    compute.pause_server(server)
    settle(conn, server, "PAUSED")
    compute.unpause_server(server)
    settle(conn, server, "ACTIVE")
    compute.suspend_server(server)
    settle(conn, server, "SUSPENDED")
    compute.resume_server(server)
    final = settle(conn, server, "ACTIVE")
    assert final.power_state == 1


def test_lock_rebuild_resize_and_console(conn: Any, server: Any) -> None:
    compute = conn.compute
    compute.lock_server(server, locked_reason="sdk test")
    locked = compute.get_server(server)
    assert (locked.is_locked, locked.locked_reason) == (True, "sdk test")
    compute.unlock_server(server)

    compute.rebuild_server(server, image=OTHER_IMAGE, name="rebuilt-by-sdk")
    rebuilt = settle(conn, server, "ACTIVE")
    assert (rebuilt.name, rebuilt.image.id) == ("rebuilt-by-sdk", OTHER_IMAGE)

    compute.resize_server(server, "2")
    settle(conn, server, "VERIFY_RESIZE")
    compute.confirm_server_resize(server)
    resized = settle(conn, server, "ACTIVE")
    assert resized.flavor.original_name == "m1.small"

    output = compute.get_server_console_output(server, length=1)["output"]
    assert len(output.splitlines()) == 1

    image = compute.create_server_image(server, unique("sdk-snap"), wait=True, timeout=60)
    assert conn.image.get_image(image.id).status == "active"
    conn.image.delete_image(image.id)


def test_metadata_and_tags(conn: Any, server: Any) -> None:
    compute = conn.compute
    compute.set_server_metadata(server, env="test", tier="web")
    assert compute.get_server_metadata(server).metadata == {"env": "test", "tier": "web"}
    compute.delete_server_metadata(server, ["tier"])
    assert compute.get_server_metadata(server).metadata == {"env": "test"}
    fetched = compute.get_server(server)
    fetched.add_tag(compute, "blue")
    assert compute.get_server(server).tags == ["blue"]
