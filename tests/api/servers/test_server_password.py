"""A server's passwords: ``os-server-password`` (the encrypted blob a guest posts to the metadata
service) and the ``changePassword`` action, through openstacksdk, the CLI and raw HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from interstack.services.compute.server_passwords import ServerPasswords
from tests.api.servers.conftest import (
    BARE_IMAGE,
    BARE_REGION,
    boot_active,
    nova,
    wait_gone,
    wait_status,
)
from tests.support.gateway import ServedGateway
from tests.support.identity import Member, cli_as, unique

#: what cloud-init posts: the password encrypted with the key pair's public key, base64
BLOB = "eyJ2IjogMX0=" * 40


@pytest.fixture(scope="module")
def passwords(compute_gateway: ServedGateway) -> Iterator[ServerPasswords]:
    """The store the metadata service writes guests' posts to, on the served gateway's own
    database: this module's stand-in for a guest."""
    with compute_gateway.store() as db:
        yield ServerPasswords(db)


@pytest.fixture
def server(api: httpx.Client) -> Iterator[dict[str, Any]]:
    booted = boot_active(api, unique("pw"))
    yield booted
    api.delete(f"/servers/{booted['id']}")


def test_password_is_empty_until_the_guest_posts_one(
    api: httpx.Client, conn: Any, passwords: ServerPasswords, server: dict[str, Any]
) -> None:
    sid = server["id"]
    shown = api.get(f"/servers/{sid}/os-server-password")
    assert (shown.status_code, shown.json()) == (200, {"password": ""})
    assert conn.compute.get_server_password(sid) == ""

    passwords.set_once(sid, BLOB)  # as the metadata service does for the guest
    assert api.get(f"/servers/{sid}/os-server-password").json() == {"password": BLOB}
    assert conn.compute.get_server_password(sid) == BLOB
    assert passwords.stored(sid) == BLOB


def test_clear_through_the_api_sdk_and_cli(
    compute_gateway: ServedGateway,
    member: Member,
    api: httpx.Client,
    conn: Any,
    passwords: ServerPasswords,
    server: dict[str, Any],
) -> None:
    sid = server["id"]
    passwords.set_once(sid, BLOB)
    cleared = api.delete(f"/servers/{sid}/os-server-password")
    assert (cleared.status_code, cleared.content) == (204, b"")
    assert api.get(f"/servers/{sid}/os-server-password").json() == {"password": ""}

    passwords.set_once(sid, BLOB)  # the guest may post again once cleared
    conn.compute.clear_server_password(sid)
    assert conn.compute.get_server_password(sid) == ""

    passwords.set_once(sid, BLOB)
    compute_gateway.cli("interstack", "server", "set", "--no-password", sid, extra=cli_as(member))
    assert passwords.stored(sid) is None


def test_another_project_sees_no_password(
    compute_gateway: ServedGateway,
    stranger: Member,
    passwords: ServerPasswords,
    server: dict[str, Any],
) -> None:
    passwords.set_once(server["id"], BLOB)
    with nova(compute_gateway, stranger.token(compute_gateway)) as other:
        for method in ("GET", "DELETE"):
            answer = other.request(method, f"/servers/{server['id']}/os-server-password")
            assert answer.status_code == 404, answer.text
            assert answer.json()["itemNotFound"]["message"].startswith("Instance")
    assert passwords.stored(server["id"]) == BLOB


def test_change_password_sdk_and_cli(
    compute_gateway: ServedGateway,
    member: Member,
    api: httpx.Client,
    conn: Any,
    server: dict[str, Any],
) -> None:
    sid = server["id"]
    conn.compute.change_server_password(sid, "n3w-Secret")
    compute_gateway.cli(
        "interstack",
        "server",
        "set",
        "--password",
        "0ther-Secret",
        sid,
        extra=cli_as(member),
    )
    console = api.post(f"/servers/{sid}/action", json={"os-getConsoleOutput": {}}).json()
    assert console["output"].count("administrator password was changed") == 2
    assert "n3w-Secret" not in console["output"]
    assert "n3w-Secret" not in compute_gateway.log()


def test_change_password_faults(api: httpx.Client, server: dict[str, Any]) -> None:
    sid = server["id"]
    missing = api.post(f"/servers/{sid}/action", json={"changePassword": {}})
    assert missing.status_code == 400, missing.text
    extra = api.post(
        f"/servers/{sid}/action", json={"changePassword": {"adminPass": "a", "other": 1}}
    )
    assert extra.status_code == 400, extra.text

    assert api.post(f"/servers/{sid}/action", json={"os-stop": None}).status_code == 202
    wait_status(api, sid, "SHUTOFF")
    stopped = api.post(f"/servers/{sid}/action", json={"changePassword": {"adminPass": "x1"}})
    assert stopped.status_code == 409, stopped.text
    assert "vm_state stopped" in stopped.json()["conflictingRequest"]["message"]

    unknown = api.post(
        "/servers/00000000-0000-4000-8000-000000000000/action",
        json={"changePassword": {"adminPass": "x1"}},
    )
    assert unknown.status_code == 404


def test_change_password_unsupported_by_the_backend(bare_gateway: ServedGateway) -> None:
    with nova(bare_gateway, bare_gateway.token("interstack"), region=BARE_REGION) as bare:
        booted = boot_active(bare, unique("bare"), imageRef=BARE_IMAGE)
        answer = bare.post(
            f"/servers/{booted['id']}/action", json={"changePassword": {"adminPass": "x1"}}
        )
        assert answer.status_code == 501, answer.text
        message = answer.json()["notImplemented"]["message"]
        assert message.startswith("Unable to set password on instance")
        assert bare.delete(f"/servers/{booted['id']}").status_code == 204


def test_deleting_the_server_forgets_its_password(
    api: httpx.Client, passwords: ServerPasswords
) -> None:
    sid = boot_active(api, unique("pw-gone"))["id"]
    passwords.set_once(sid, BLOB)
    assert api.delete(f"/servers/{sid}").status_code == 204
    wait_gone(api, sid)
    assert passwords.stored(sid) is None
