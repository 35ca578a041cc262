"""A volume type no backend can serve, in the shape of Tempest's user-messages test
(``tempest.api.volume.admin.test_user_messages``) against a served gateway: an admin makes a
type whose extra specs ask for a ``volume_backend_name`` (or, as Tempest does, a
``storage_protocol`` and ``vendor_name``) other than the region's backend reports, and a volume
of it; the volume goes to ``error`` and its owner finds Cinder's message for a volume the
scheduler could place nowhere (``VOLUME_VOLUME_001_003``), shows it and deletes it. A type
asking for what the backend does report is served."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.gateway import ServedGateway
from tests.support.identity import unique
from tests.support.volume import delete_volume, sdk_status

#: Cinder's event: scheduling the volume (001) found no valid backend (003)
NO_BACKEND = "VOLUME_VOLUME_001_003"
MESSAGE_FIELDS = {
    "created_at", "event_id", "guaranteed_until", "id", "links", "message_level",
    "request_id", "resource_type", "resource_uuid", "user_message",
}  # fmt: skip


@pytest.fixture(scope="module")
def volume_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedGateway]:
    """A sim region, its block storage reporting volume_backend_name and storage_protocol sim."""
    config = {"regions": [{"name": "RegionOne", "backend": "sim"}]}
    with ServedGateway(tmp_path_factory.mktemp("types") / "data", config=config) as served:
        yield served


@pytest.fixture(scope="module")
def admin(volume_gateway: ServedGateway) -> Any:
    return volume_gateway.connect("interstack-admin")


@pytest.fixture(scope="module")
def conn(volume_gateway: ServedGateway) -> Any:
    """The clouds.yaml's member: the volume's owner, who reads its messages."""
    connection = volume_gateway.connect("interstack")
    connection.block_storage.default_microversion = "3.3"
    return connection


def _volume_of_type(admin: Any, conn: Any, extra_specs: dict[str, str], status: str) -> Any:
    volume_type = admin.block_storage.create_type(name=unique("type-"), extra_specs=extra_specs)
    volume = conn.block_storage.create_volume(size=1, volume_type=volume_type.id)
    return conn.block_storage.wait_for_status(volume, status, failures=[], wait=60, interval=0.2)


@pytest.mark.parametrize(
    "extra_specs",
    [
        {"volume_backend_name": "no-such-backend"},
        {"capabilities:volume_backend_name": "no-such-backend"},
        {"storage_protocol": "storage_protocol-tempest", "vendor_name": "vendor_name-tempest"},
    ],
)
def test_a_volume_of_a_type_no_backend_serves_errs_with_its_message(
    admin: Any, conn: Any, extra_specs: dict[str, str]
) -> None:
    volume = _volume_of_type(admin, conn, extra_specs, "error")

    listed = conn.block_storage.get("/messages")  # keystoneauth, at 3.3
    assert listed.status_code == 200, listed.text
    (message,) = [m for m in listed.json()["messages"] if m["resource_uuid"] == volume.id]
    shown = conn.block_storage.get(f"/messages/{message['id']}")
    assert shown.status_code == 200, shown.text
    assert shown.json()["message"] == message
    assert set(message) == MESSAGE_FIELDS
    assert message["event_id"] == NO_BACKEND
    assert message["message_level"] == "ERROR"
    assert message["resource_type"] == "VOLUME"
    assert message["user_message"].startswith("find a place for the volume:")

    deleted = conn.block_storage.delete(f"/messages/{message['id']}")
    assert deleted.status_code == 204, deleted.text
    assert conn.block_storage.get(f"/messages/{message['id']}").status_code == 404
    delete_volume(conn, volume.id)


def test_a_type_asking_for_what_the_backend_reports_is_served(admin: Any, conn: Any) -> None:
    specs = {"volume_backend_name": "sim", "storage_protocol": "sim", "other:key": "any"}
    volume = _volume_of_type(admin, conn, specs, "available")
    messages = conn.block_storage.get("/messages").json()["messages"]
    assert [m for m in messages if m["resource_uuid"] == volume.id] == []
    sdk_status(conn, volume, "available")
    delete_volume(conn, volume.id)
