"""Cinder's user messages (``/v3/{project_id}/messages``, 3.3+) against a served gateway: an
extend no backend had room for leaves the volume as it was and a message saying why, which
the ``openstack`` CLI, openstacksdk and plain HTTP list, show and delete; another project sees
none of it (404), an admin sees it with ``all_tenants`` or the project named; the API is a 404
below 3.3; bad list input is Cinder's 400 naming what to give instead; a failed create (from an
image or not), snapshot and attach each leave their message."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from interstack.backends.contract import NO_VALID_BACKEND
from interstack.services.tasks import utcnow
from interstack.services.volume.messages import PURGE
from interstack.store.models import Task as TaskRow
from interstack.store.models import VolumeMessage
from tests.support.compute import nova
from tests.support.gateway import ServedGateway
from tests.support.identity import Member, cli_as, unique
from tests.support.volume import (
    assert_cinder_fault,
    cinder,
    create_volume,
    public_image,
    server_without_networks,
    volume_root,
    wait_snapshot,
    wait_volume,
)
from tests.support.waiting import eventually

IMAGE = "6c1d0e2f-3a4b-4c5d-8e9f-0a1b2c3d4e5f"
REFUSED_EXTEND = "VOLUME_VOLUME_007_003"
OTHER_REGION = "RegionTwo"


@pytest.fixture(scope="module")
def volume_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedGateway]:
    """This module's gateway: a sim region whose backend fails what the names below ask."""
    failures = {
        "create_volume": {"name": "broken-*", "message": "the disk array is offline"},
        "extend_volume": {"name": "full-*", "message": NO_VALID_BACKEND},
        "create_snapshot": {"name": "badsnap-*", "message": "snapshot space exhausted"},
        "attach_volume": {"name": "noattach-*", "message": "no free target"},
    }
    region = {"name": "RegionOne", "backend": "sim", "settings": {"fail_on": failures}}
    #: a region whose backend fails every extend and every upload to an image, and has no
    #: room for the volumes named so
    failing = {
        "create_volume": {"name": "noroom-*", "message": NO_VALID_BACKEND},
        "extend_volume": {"name": "*", "message": "the controller reset"},
        "store_image": {"name": "*", "message": "the image store is full"},
    }
    other = {"name": OTHER_REGION, "backend": "sim", "settings": {"fail_on": failing}}
    served = ServedGateway(
        tmp_path_factory.mktemp("messages") / "data", config={"regions": [region, other]}
    ).start()
    yield served
    served.stop()


@pytest.fixture(scope="module")
def owner(members: tuple[Member, Member]) -> Member:
    return members[0]


@pytest.fixture(scope="module")
def stranger(members: tuple[Member, Member]) -> Member:
    return members[1]


def _api(gateway: ServedGateway, member: Member, version: str = "3.3") -> httpx.Client:
    return cinder(gateway, member.token(gateway), member.project_id, version)


def _refused_extend(api: httpx.Client) -> tuple[dict[str, Any], str]:
    """A volume whose extend no backend had room for, and the extend's request id."""
    volume = create_volume(api, name=unique("full-"), size=1)
    extend = api.post(f"/volumes/{volume['id']}/action", json={"os-extend": {"new_size": 5}})
    assert extend.status_code == 202, extend.text
    request_id = extend.headers["x-openstack-request-id"]
    back = eventually(
        lambda: api.get(f"/volumes/{volume['id']}").json()["volume"],
        lambda v: v["status"] == "available" and v["updated_at"] != volume["updated_at"],
        "the refused extend's volume available again",
    )
    assert back["size"] == 1  # as it was
    return volume, request_id


def _messages_of(api: httpx.Client, resource_uuid: str) -> list[dict[str, Any]]:
    listed = api.get("/messages", params={"resource_uuid": resource_uuid})
    assert listed.status_code == 200, listed.text
    found: list[dict[str, Any]] = listed.json()["messages"]
    return found


def _when(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp)


def test_the_messages_api_is_a_404_below_3_3(volume_gateway: ServedGateway, owner: Member) -> None:
    for version in (None, "3.0", "3.2"):
        with cinder(volume_gateway, owner.token(volume_gateway), owner.project_id, version) as api:
            for method, path in (
                ("GET", "/messages"),
                ("GET", f"/messages/{IMAGE}"),
                ("DELETE", f"/messages/{IMAGE}"),
            ):
                response = api.request(method, path)
                assert_cinder_fault(response, 404, "itemNotFound")
    with _api(volume_gateway, owner) as api:
        listed = api.get("/messages")
        assert listed.status_code == 200, listed.text
        assert listed.json() == {"messages": []}
        assert listed.headers["openstack-api-version"] == "volume 3.3"


def test_a_refused_extend_leaves_a_message_the_cli_lists_shows_and_deletes(
    volume_gateway: ServedGateway, owner: Member, stranger: Member
) -> None:
    with _api(volume_gateway, owner, "3.0") as old:
        volume, request_id = _refused_extend(old)
    with _api(volume_gateway, owner) as api:
        (message,) = _messages_of(api, volume["id"])
    assert message["event_id"] == REFUSED_EXTEND
    assert message["resource_type"] == "VOLUME"
    assert message["resource_uuid"] == volume["id"]
    assert message["request_id"] == request_id
    assert message["message_level"] == "ERROR"
    assert message["user_message"].startswith("extend the volume:No storage backend has room")
    lasts = _when(message["guaranteed_until"]) - _when(message["created_at"])
    assert lasts == timedelta(days=30)  # Cinder's message_ttl
    assert {link["rel"] for link in message["links"]} == {"self", "bookmark"}
    assert message["links"][0]["href"].endswith(
        f"/volume/v3/{owner.project_id}/messages/{message['id']}"
    )

    version = ["--os-volume-api-version", "3.3"]
    cli = [*cli_as(owner), *version]
    listed = volume_gateway.cli("interstack", "volume", "message", "list", "-f", "json", extra=cli)
    rows = {row["ID"]: row for row in json.loads(listed.stdout)}
    assert rows[message["id"]]["Event ID"] == REFUSED_EXTEND
    assert rows[message["id"]]["Resource UUID"] == volume["id"]
    assert rows[message["id"]]["Request ID"] == request_id
    # the CLI's show answers (openstacksdk 4.22 reads the message under "messages" where
    # Cinder's API reference, and so this gateway, answer "message": it prints no fields)
    show = ["volume", "message", "show", message["id"]]
    volume_gateway.cli("interstack", *show, extra=cli)
    strange = [*cli_as(stranger), *version]
    assert volume_gateway.cli("interstack", *show, extra=strange, check=False).returncode != 0
    volume_gateway.cli("interstack", "volume", "message", "delete", message["id"], extra=cli)
    with _api(volume_gateway, owner) as api:
        assert _messages_of(api, volume["id"]) == []
        gone = api.get(f"/messages/{message['id']}")
        assert f"Message {message['id']} could not be found" in assert_cinder_fault(
            gone, 404, "itemNotFound"
        )
    # without a microversion the CLI asks at 3.0, where Cinder has no messages: its 404
    below = volume_gateway.cli(
        "interstack", "volume", "message", "list", extra=[*cli_as(owner)], check=False
    )
    assert below.returncode != 0 and "404" in below.stderr, below.stderr
    assert "The resource could not be found." in below.stderr


def test_another_project_sees_no_message_and_an_admin_sees_all_when_asked(
    volume_gateway: ServedGateway, owner: Member, stranger: Member, admin: Member
) -> None:
    with _api(volume_gateway, owner) as api:
        volume, _ = _refused_extend(api)
        (message,) = _messages_of(api, volume["id"])
    path = f"/messages/{message['id']}"
    with _api(volume_gateway, stranger, "3.60") as other:
        assert_cinder_fault(other.get(path), 404, "itemNotFound")
        assert_cinder_fault(other.delete(path), 404, "itemNotFound")
        assert other.get("/messages").json() == {"messages": []}
        # a project's all_tenants is dropped (cinderclient always sends it)
        assert other.get("/messages", params={"all_tenants": 1}).json() == {"messages": []}
        named = other.get("/messages", params={"project_id": owner.project_id})
        assert "project_id" in assert_cinder_fault(named, 400, "badRequest")
        # the URL names the caller's project only
        into = cinder(volume_gateway, stranger.token(volume_gateway), owner.project_id, "3.3")
        assert_cinder_fault(into.get(path), 400, "badRequest")
    with _api(volume_gateway, admin) as admin_api:
        assert admin_api.get(path).json()["message"]["id"] == message["id"]
        assert message["id"] not in {m["id"] for m in admin_api.get("/messages").json()["messages"]}
        every = admin_api.get("/messages", params={"all_tenants": "1"}).json()["messages"]
        assert message["id"] in {m["id"] for m in every}
    with _api(volume_gateway, admin, "3.5") as admin_api:
        assert _messages_of(admin_api, volume["id"]) == []  # the admin's own project's only
        named = admin_api.get("/messages", params={"project_id": owner.project_id})
        assert [m["id"] for m in named.json()["messages"]] == [message["id"]]
    admin_cli = ["--os-volume-api-version", "3.3"]
    listed = volume_gateway.cli(
        "interstack-admin", "volume", "message", "list", "--project", owner.project_id,
        "-f", "json", extra=admin_cli,
    )  # fmt: skip
    assert [row["ID"] for row in json.loads(listed.stdout)] == [message["id"]]


def test_openstacksdk_lists_pages_shows_and_deletes(
    volume_gateway: ServedGateway, owner: Member
) -> None:
    with _api(volume_gateway, owner) as api:
        for _ in range(3):
            _refused_extend(api)
    conn = volume_gateway.connect("interstack")
    conn.block_storage.default_microversion = "3.5"
    # the clouds.yaml's own user: a project of its own, so its messages are this test's
    volume, request_id = _refused_extend(
        cinder(volume_gateway, conn.auth_token, conn.current_project_id, "3.0")
    )
    (message,) = list(conn.block_storage.messages())
    assert (message.resource_uuid, message.request_id) == (volume["id"], request_id)
    conn.block_storage.get_message(message.id)  # found (its fields: see the CLI's show)
    raw = conn.block_storage.get(f"/messages/{message.id}", microversion="3.3")  # keystoneauth
    assert raw.status_code == 200 and raw.json()["message"]["event_id"] == REFUSED_EXTEND
    conn.block_storage.delete_message(message, ignore_missing=False)
    assert list(conn.block_storage.messages()) == []

    with _api(volume_gateway, owner, "3.5") as api:
        every = [m["id"] for m in api.get("/messages").json()["messages"]]
        first = api.get("/messages", params={"limit": 2}).json()
        assert [m["id"] for m in first["messages"]] == every[:2]
        (link,) = first["messages_links"]
        after = api.get(link["href"]).json()
        assert [m["id"] for m in after["messages"]] == every[2:4]
        oldest = api.get("/messages", params={"sort": "created_at:asc"}).json()["messages"]
        assert [m["id"] for m in oldest] == every[::-1]
        skipped = api.get("/messages", params={"offset": 1, "limit": 1}).json()["messages"]
        assert [m["id"] for m in skipped] == every[1:2]
        # 3.3 and 3.4 read no query: every message, whatever is asked
    with _api(volume_gateway, owner, "3.4") as api:
        ignored = api.get("/messages", params={"limit": 1, "colour": "red"}).json()
        assert [m["id"] for m in ignored["messages"]] == every


def test_bad_list_input_is_cinders_400_naming_what_to_give(
    volume_gateway: ServedGateway, owner: Member
) -> None:
    with _api(volume_gateway, owner, "3.5") as api:
        volume, _ = _refused_extend(api)
        said = assert_cinder_fault(api.get("/messages?limit=ten"), 400, "badRequest")
        assert "limit" in said and "integer" in said
        said = assert_cinder_fault(api.get("/messages?sort=colour:asc"), 400, "badRequest")
        assert "colour" in said and "created_at" in said
        said = assert_cinder_fault(api.get("/messages?sort=created_at:up"), 400, "badRequest")
        assert "'asc' or 'desc'" in said
        assert_cinder_fault(api.get("/messages?offset=-1"), 400, "badRequest")
        assert_cinder_fault(api.get(f"/messages?marker={IMAGE}"), 404, "itemNotFound")
        # before 3.31 a filter on no field of a message matches none, as Cinder's model filter
        assert api.get("/messages", params={"colour": "red"}).json() == {"messages": []}
        event = api.get("/messages", params={"event_id": REFUSED_EXTEND}).json()["messages"]
        assert volume["id"] in {m["resource_uuid"] for m in event}
    with _api(volume_gateway, owner, "3.31") as api:
        said = assert_cinder_fault(api.get("/messages?colour=red"), 400, "badRequest")
        assert "colour" in said and "resource_uuid" in said
        assert_cinder_fault(api.get("/messages?resource_uuid~=x"), 400, "badRequest")
    with _api(volume_gateway, owner, "3.34") as api:
        part = volume["id"][4:20]
        like = api.get("/messages", params={"resource_uuid~": part}).json()["messages"]
        assert [m["resource_uuid"] for m in like] == [volume["id"]]


def test_failed_creates_snapshots_and_attaches_leave_their_messages(
    volume_gateway: ServedGateway, owner: Member
) -> None:
    image = public_image(volume_gateway, IMAGE)
    with _api(volume_gateway, owner, "3.5") as api:
        failed = []
        for more in ({}, {"imageRef": image}):
            made = api.post("/volumes", json={"volume": {"name": unique("broken-"), "size": 1,
                                                          **more}})  # fmt: skip
            assert made.status_code == 202, made.text
            failed.append(wait_volume(api, made.json()["volume"]["id"], "error"))
        plain, from_image = failed
        good = create_volume(api, name=unique("vol"), size=1)
        wait_volume(api, good["id"], "available")
        made = api.post(
            "/snapshots", json={"snapshot": {"volume_id": good["id"], "name": unique("badsnap-")}}
        )
        assert made.status_code == 202, made.text
        snapshot = wait_snapshot(api, made.json()["snapshot"]["id"], "error")
        stuck = create_volume(api, name=unique("noattach-"), size=1)
        wait_volume(api, stuck["id"], "available")
        server = server_without_networks(volume_gateway, owner, image)
        compute = nova(volume_gateway, owner.token(volume_gateway), "2.79")
        attach = compute.post(f"/servers/{server}/os-volume_attachments",
                              json={"volumeAttachment": {"volumeId": stuck["id"]}})  # fmt: skip
        assert attach.status_code == 200, attach.text
        events = {
            "create": (plain["id"], "VOLUME_VOLUME_008_012"),
            "create from image": (from_image["id"], "VOLUME_VOLUME_005_001"),
            "snapshot": (snapshot["id"], "VOLUME_VOLUME_SNAPSHOT_009_013"),
            "attach": (stuck["id"], "VOLUME_VOLUME_002_021"),
        }
        for what, (resource, event_id) in events.items():
            found = eventually(
                lambda resource=resource: _messages_of(api, resource),  # type: ignore[misc]
                bool,
                f"the {what}'s message",
            )
            assert [m["event_id"] for m in found] == [event_id], what
        (snap_message,) = _messages_of(api, snapshot["id"])
        assert snap_message["resource_type"] == "VOLUME_SNAPSHOT"
        assert snap_message["request_id"] == made.headers["x-openstack-request-id"]
        (attach_message,) = _messages_of(api, stuck["id"])
        assert attach_message["request_id"] == attach.headers["x-openstack-request-id"]
        # not "available again": detaching until the backend let go (since 3cffc74)
        assert attach_message["user_message"] == (
            "attach the volume to a server:The volume could not be attached to the server; it "
            "is detaching until the storage backend has let go of it, then available."
        )
        assert wait_volume(api, stuck["id"], "available")["attachments"] == []
        # the backend's own words stay out of the message (Cinder's rule): only our texts
        for resource, _ in events.values():
            for message in _messages_of(api, resource):
                assert "offline" not in message["user_message"]
                assert "exhausted" not in message["user_message"]
                assert "no free target" not in message["user_message"]


def test_failed_extends_uploads_and_placements_leave_their_messages_in_their_region(
    volume_gateway: ServedGateway, stranger: Member
) -> None:
    """(As the second member: the first's project holds its quota of volumes by now.)"""
    token = stranger.token(volume_gateway)
    root = volume_root(volume_gateway, OTHER_REGION)
    with httpx.Client(
        base_url=f"{root}/v3/{stranger.project_id}",
        headers={"X-Auth-Token": token, "OpenStack-API-Version": "volume 3.5"},
        timeout=30,
    ) as api:
        grown = create_volume(api, name=unique("grow"), size=1)
        extend = api.post(f"/volumes/{grown['id']}/action", json={"os-extend": {"new_size": 2}})
        assert extend.status_code == 202, extend.text
        wait_volume(api, grown["id"], "error_extending")  # Cinder's driver failure
        uploaded = create_volume(api, name=unique("up"), size=1)
        asked = {"os-volume_upload_image": {"image_name": unique("img")}}
        upload = api.post(f"/volumes/{uploaded['id']}/action", json=asked)
        assert upload.status_code == 202, upload.text
        eventually(lambda: _messages_of(api, uploaded["id"]), bool, "the upload's message")
        assert wait_volume(api, uploaded["id"], "available")["size"] == 1  # as it was
        roomless = api.post("/volumes", json={"volume": {"name": unique("noroom-"), "size": 1}})
        assert roomless.status_code == 202, roomless.text
        unplaced = wait_volume(api, roomless.json()["volume"]["id"], "error")
        for resource, event_id, request in (
            (grown["id"], "VOLUME_VOLUME_007_010", extend),
            (uploaded["id"], "VOLUME_VOLUME_003_004", upload),
            (unplaced["id"], "VOLUME_VOLUME_001_003", roomless),
        ):
            (message,) = eventually(lambda r=resource: _messages_of(api, r), bool, event_id)  # type: ignore[misc]
            assert message["event_id"] == event_id
            assert message["request_id"] == request.headers["x-openstack-request-id"]
    with _api(volume_gateway, stranger, "3.5") as region_one:  # each region's messages its own
        assert _messages_of(region_one, grown["id"]) == []


def test_the_gateways_task_runner_purges_expired_messages_once_a_day(
    volume_gateway: ServedGateway, admin: Member
) -> None:
    """Each region has one purge task, however often the gateway starts; once due, the served
    gateway's runner deletes the expired messages (not the others) and schedules it a day on."""
    with _api(volume_gateway, admin) as api:  # a project with room for a volume yet
        volume, _ = _refused_extend(api)
        (kept,) = _messages_of(api, volume["id"])
    volume_gateway.restart()
    now = utcnow()
    with volume_gateway.store() as store, store.session() as session:
        made = session.scalars(select(TaskRow).where(TaskRow.kind == PURGE)).all()
        assert sorted((t.region, t.status) for t in made) == [
            ("RegionOne", "pending"),
            (OTHER_REGION, "pending"),
        ]
        expired = VolumeMessage(
            id=str(uuid.uuid4()), region="RegionOne", project_id=admin.project_id,
            request_id=None, resource_type="VOLUME", resource_uuid=volume["id"],
            event_id=REFUSED_EXTEND, action_id="007", detail_id="003", message_level="ERROR",
            created_at=now - timedelta(days=31), expires_at=now - timedelta(days=1),
        )  # fmt: skip
        session.add(expired)
        session.execute(
            update(TaskRow).where(TaskRow.kind == PURGE).values(run_after=now - timedelta(1))
        )
    expired_id = expired.id

    def left() -> set[str]:
        with volume_gateway.store() as store, store.session() as session:
            return set(session.scalars(select(VolumeMessage.id)))

    eventually(left, lambda ids: expired_id not in ids, "the expired message purged")
    assert kept["id"] in left()

    def purges() -> list[tuple[str, datetime]]:
        with volume_gateway.store() as store, store.session() as session:
            rows = session.scalars(select(TaskRow).where(TaskRow.kind == PURGE))
            return [(row.status, row.run_after) for row in rows]

    later = eventually(
        purges,
        lambda found: all(s == "pending" and at > now + timedelta(hours=23) for s, at in found),
        "each region's purge pending again, a day on",
    )
    assert len(later) == 2
