"""User messages in the store, on both databases: revision 0009 makes their table and takes
it away again; a message is its project's (an admin's with ``all_tenants``), it filters by
Cinder's message filters (a substring's own ``%`` and ``_`` taken literally), pages after a
marker, and once expired it is neither shown nor listed, and the purge task deletes it and
comes back a reap interval later. A snapshot task that failed leaves its message (its
delete's failure is one no backend in the tests makes)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, cast

import pytest
from sqlalchemy import inspect, select

from interstack.errors import NotFound
from interstack.services.listing import Page
from interstack.services.regions import Regions
from interstack.services.tasks import RetryAfter, Task, TaskQueue, TaskStatus
from interstack.services.volume.message_events import (
    EXTEND_NO_ROOM,
    SNAPSHOT_CREATE_FAILED,
    MessageEvent,
)
from interstack.services.volume.messages import (
    MESSAGE_REAP_SECONDS,
    PURGE,
    MessageFilters,
    UserMessages,
)
from interstack.services.volume.snapshot_tasks import (
    SNAPSHOT_CREATE,
    SNAPSHOT_DELETE,
    SnapshotTasks,
)
from interstack.store import Database
from interstack.store.models import Task as TaskRow
from interstack.store.models import VolumeMessage, VolumeSnapshot
from tests.support.image import caller
from tests.support.store import downgrade_to, stopped_before

BEFORE = "0008_volume_attach_one_root"


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 27, 3, 0)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def messages(db: Database, clock: Clock) -> UserMessages:
    return UserMessages(db, TaskQueue(db), ["R", "S"], clock=clock)


def _write(
    messages: UserMessages,
    event: MessageEvent,
    project: str,
    resource: str,
    request: str | None = "req-1",
    region: str = "R",
) -> str:
    with messages.db.session() as session:
        messages.record(
            session,
            event,
            region=region,
            project_id=project,
            resource_uuid=resource,
            request_id=request,
        )
        session.flush()
        row = session.scalars(
            select(VolumeMessage).where(VolumeMessage.resource_uuid == resource)
        ).one()
        return row.id


def _listed(messages: UserMessages, ctx_project: str, *roles: str, **filters: Any) -> list[str]:
    found = messages.list(caller(ctx_project, *roles), "R", MessageFilters(**filters), Page())
    return [m.resource_uuid or "" for m in found]


def test_revision_0009_makes_the_table_and_takes_it_away(database_url: str) -> None:
    with stopped_before(database_url, BEFORE) as database:
        with database.engine.connect() as connection:
            assert "volume_messages" not in inspect(connection).get_table_names()
        database.migrate()
        with database.engine.connect() as connection:
            columns = {c["name"] for c in inspect(connection).get_columns("volume_messages")}
            indexes = {i["name"] for i in inspect(connection).get_indexes("volume_messages")}
        assert {"event_id", "resource_uuid", "request_id", "expires_at"} <= columns
        assert indexes == {"ix_volume_messages_project", "ix_volume_messages_expires"}
        messages = UserMessages(database, TaskQueue(database), ["R"])
        _write(messages, EXTEND_NO_ROOM, "p", "vol-1")  # the table takes a message
        downgrade_to(database, BEFORE)
        with database.engine.connect() as connection:
            names = inspect(connection).get_table_names()
        assert "volume_messages" not in names and "volumes" in names
        database.migrate()  # and up again, empty
        assert _listed(UserMessages(database, TaskQueue(database), ["R"]), "p") == []


def test_a_message_is_its_projects_and_an_admins_with_all_tenants(
    messages: UserMessages,
) -> None:
    mine = _write(messages, EXTEND_NO_ROOM, "p", "vol-1")
    _write(messages, EXTEND_NO_ROOM, "q", "vol-2")
    _write(messages, EXTEND_NO_ROOM, "p", "vol-3", region="S")

    shown = messages.get(caller("p"), "R", mine)
    assert shown.event_id == "VOLUME_VOLUME_007_003"
    assert shown.user_message.startswith("extend the volume:No storage backend has room")
    assert (shown.request_id, shown.message_level) == ("req-1", "ERROR")
    assert shown.expires_at - shown.created_at == timedelta(days=30)

    with pytest.raises(NotFound, match=f"Message {mine} could not be found"):
        messages.get(caller("q"), "R", mine)
    with pytest.raises(NotFound):
        messages.get(caller("p"), "S", mine)  # another region's endpoint
    with pytest.raises(NotFound):
        messages.delete(caller("q"), "R", mine)
    assert messages.get(caller("admin-project", "admin"), "R", mine).id == mine

    assert _listed(messages, "p") == ["vol-1"]
    assert _listed(messages, "q", all_tenants=True) == ["vol-2"]  # not an admin: ignored
    assert _listed(messages, "a", "admin") == []  # the admin's own project
    assert sorted(_listed(messages, "a", "admin", all_tenants=True)) == ["vol-1", "vol-2"]
    assert _listed(messages, "a", "admin", project_id="q") == ["vol-2"]

    messages.delete(caller("p"), "R", mine)
    with pytest.raises(NotFound):
        messages.get(caller("p"), "R", mine)
    assert _listed(messages, "p") == []


def test_filters_substrings_and_pages(messages: UserMessages, clock: Clock) -> None:
    for index in range(4):
        clock.now += timedelta(seconds=1)
        event = EXTEND_NO_ROOM if index % 2 else SNAPSHOT_CREATE_FAILED
        _write(messages, event, "p", f"res_{index}", request=f"req-{index}")

    assert _listed(messages, "p") == ["res_3", "res_2", "res_1", "res_0"]  # newest first
    assert _listed(messages, "p", exact={"resource_type": "VOLUME_SNAPSHOT"}) == [
        "res_2",
        "res_0",
    ]
    assert _listed(messages, "p", exact={"request_id": "req-1"}) == ["res_1"]
    assert _listed(messages, "p", like={"resource_uuid": "s_3"}) == ["res_3"]
    # a substring's own wildcards match themselves only
    assert _listed(messages, "p", like={"resource_uuid": "s%"}) == []
    assert _listed(messages, "p", like={"resource_uuid": "_"}) == [
        "res_3",
        "res_2",
        "res_1",
        "res_0",
    ]

    first = messages.list(caller("p"), "R", MessageFilters(), Page(limit=2))
    after = messages.list(caller("p"), "R", MessageFilters(), Page(limit=2, marker=first[-1].id))
    assert [m.resource_uuid for m in first + after] == ["res_3", "res_2", "res_1", "res_0"]
    oldest = messages.list(caller("p"), "R", MessageFilters(), Page(sort=[("created_at", "asc")]))
    assert oldest[0].resource_uuid == "res_0"
    with pytest.raises(NotFound, match="Marker"):
        messages.list(caller("q"), "R", MessageFilters(), Page(marker=first[0].id))


def test_expired_messages_are_hidden_then_purged_by_their_task(
    db: Database, messages: UserMessages, clock: Clock
) -> None:
    old = _write(messages, EXTEND_NO_ROOM, "p", "vol-old")
    clock.now += timedelta(days=29)
    _write(messages, EXTEND_NO_ROOM, "p", "vol-new")
    _write(messages, EXTEND_NO_ROOM, "p", "vol-other-region", region="S")
    clock.now += timedelta(days=1, seconds=1)

    assert _listed(messages, "p") == ["vol-new"]
    with pytest.raises(NotFound):
        messages.get(caller("p"), "R", old)

    messages.ensure_purging()
    messages.ensure_purging()  # once per region, however often the gateway starts
    with db.session() as session:
        tasks = [
            Task.from_row(row)
            for row in session.scalars(select(TaskRow).where(TaskRow.kind == PURGE))
        ]
    assert sorted(t.region for t in tasks) == ["R", "S"]
    assert all(t.status is TaskStatus.PENDING for t in tasks)
    (purge,) = [t for t in tasks if t.region == "R"]

    step = messages.handlers()[PURGE].run(purge)
    assert step == RetryAfter(MESSAGE_REAP_SECONDS)
    with db.session() as session:
        kept = set(session.scalars(select(VolumeMessage.resource_uuid)))
    assert kept == {"vol-new", "vol-other-region"}  # region S's is its own task's


@pytest.mark.parametrize(
    ("kind", "status", "event_id"),
    [
        (SNAPSHOT_CREATE, "error", "VOLUME_VOLUME_SNAPSHOT_009_013"),
        (SNAPSHOT_DELETE, "error_deleting", "VOLUME_VOLUME_SNAPSHOT_010_016"),
    ],
)
def test_a_failed_snapshot_task_leaves_the_snapshot_in_error_and_its_message(
    db: Database, messages: UserMessages, kind: str, status: str, event_id: str
) -> None:
    """(The sim cannot fail a snapshot's delete: its failure handler is run as the runner
    runs it once the task failed.)"""
    at = datetime(2026, 11, 27, 3, 0)
    with db.session() as session:
        session.add(
            VolumeSnapshot(
                id="snap", region="R", project_id="p", user_id="u", volume_id="vol",
                size=1, status="deleting" if kind == SNAPSHOT_DELETE else "creating",
                metadata_items={}, native_ref="native-snap", created_at=at, updated_at=at,
            )
        )  # fmt: skip
    tasks = SnapshotTasks(db, cast(Regions, None), messages, lambda _task: False)
    task = Task(
        id="t", kind=kind, region="R", resource_id="snap", payload={"request_id": "req-9"},
        status=TaskStatus.FAILED, attempts=1, error="the array said no", run_after=at,
    )  # fmt: skip
    failed = tasks.handlers()[kind].on_failure
    assert failed is not None
    failed(task, "the array said no")

    with db.session() as session:
        assert session.get(VolumeSnapshot, "snap").status == status  # type: ignore[union-attr]
    (shown,) = messages.list(caller("p"), "R", MessageFilters(), Page())
    assert (shown.event_id, shown.resource_uuid, shown.request_id) == (event_id, "snap", "req-9")
    assert shown.resource_type == "VOLUME_SNAPSHOT"
    assert "the array said no" not in shown.user_message


def test_the_purge_runs_again_after_the_configured_reap_interval(db: Database) -> None:
    messages = UserMessages(db, TaskQueue(db), ["R"], reap_seconds=90)
    messages.ensure_purging()
    with db.session() as session:
        (row,) = session.scalars(select(TaskRow).where(TaskRow.kind == PURGE))
        purge = Task.from_row(row)
    assert messages.handlers()[PURGE].run(purge) == RetryAfter(90)
