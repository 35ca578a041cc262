"""What the server modules share: loading a visible server row, records, instance actions."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row
from sqlalchemy.orm import Session

from interstack.backends.contract import NativeRef
from interstack.errors import Conflict, NotFound
from interstack.services.compute.records import Server
from interstack.services.compute.server_statements import INSERT_ACTION, SERVER_ROW
from interstack.services.compute.state import TaskState, status_of
from interstack.services.context import RequestContext
from interstack.services.interfaces import ServerAddress
from interstack.services.tasks import utcnow
from interstack.store import run_core
from interstack.store.models import Server as ServerRow


def not_found(server_id: str) -> NotFound:
    return NotFound(f"Instance {server_id} could not be found.")


def _check_visible(
    row: ServerRow | Row[Any] | None, ctx: RequestContext, region: str, server_id: str
) -> None:
    """404 unless the caller may see the server: its own project's, or any for an admin."""
    if row is None or row.region != region or row.deleted_at is not None:
        raise not_found(server_id)
    if not ctx.is_admin and row.project_id != ctx.project_id:
        raise not_found(server_id)


def visible_row(session: Session, ctx: RequestContext, region: str, server_id: str) -> ServerRow:
    """The server if the caller may see it (its ORM row, to change in ``session``)."""
    row = session.get(ServerRow, server_id)
    _check_visible(row, ctx, region, server_id)
    assert row is not None
    return row


def visible_server(session: Session, ctx: RequestContext, region: str, server_id: str) -> Row[Any]:
    """The server if the caller may see it, to read only: a plain row of its columns (one
    statement built once, no ORM object)."""
    row = run_core(session, SERVER_ROW, {"server_id": server_id}).one_or_none()
    _check_visible(row, ctx, region, server_id)
    assert row is not None
    return row


def check_unlocked(ctx: RequestContext, row: ServerRow | Row[Any]) -> None:
    """A locked server refuses changes from everyone but an admin (Nova's 409)."""
    if row.locked_by is not None and not ctx.is_admin:
        raise Conflict(f"Instance {row.id} is locked")


def host_id(project_id: str, host: str) -> str:
    """Nova's ``hostId``: the host, hashed with the project so projects cannot compare."""
    return hashlib.sha224(f"{project_id}{host}".encode()).hexdigest()


def record(
    row: ServerRow | Row[Any],
    addresses: Sequence[ServerAddress] = (),
    security_groups: Sequence[str] | None = None,
) -> Server:
    """The server as the API shows it; ``security_groups`` as read from its ports (Nova's
    answer for show and lists), else the groups the create asked for."""
    return Server(
        id=row.id,
        region=row.region,
        project_id=row.project_id,
        user_id=row.user_id,
        name=row.name,
        description=row.description,
        flavor_id=row.flavor_id,
        flavor=dict(row.flavor),
        image_id=row.image_id,
        key_name=row.key_name,
        user_data=row.user_data,
        metadata=dict(row.metadata_items),
        tags=tuple(row.tags),
        security_groups=tuple(row.security_groups if security_groups is None else security_groups),
        vm_state=row.vm_state,
        task_state=row.task_state,
        power_state=row.power_state,
        status=status_of(row.vm_state, row.task_state),
        locked=row.locked_by is not None,
        locked_reason=row.locked_reason,
        access_ipv4=row.access_ipv4,
        access_ipv6=row.access_ipv6,
        availability_zone=row.availability_zone,
        config_drive=row.config_drive,
        disk_config=row.disk_config,
        reservation_id=row.reservation_id,
        launch_index=row.launch_index,
        host_id=host_id(row.project_id, row.region) if row.native_ref else "",
        fault=dict(row.fault) if row.fault else None,
        created_at=row.created_at,
        updated_at=row.updated_at,
        launched_at=row.launched_at,
        addresses=tuple(addresses),
        deleted_at=row.deleted_at,
        old_flavor=dict(row.old_flavor) if row.old_flavor else None,
        host=row.region if row.native_ref else None,
        root_device_name=row.root_device_name or "/dev/vda",
    )


def record_action(
    session: Session,
    ctx: RequestContext,
    row: ServerRow | Row[Any],
    action: str,
    events: Sequence[Mapping[str, Any]] = (),
) -> str:
    """Record an ``os-instance-actions`` entry for ``action`` on the server; returns its id
    (written at once, by a statement built once)."""
    now = utcnow()
    action_id = str(uuid.uuid4())
    values = {
        "id": action_id,
        "server_id": row.id,
        "project_id": row.project_id,
        "user_id": ctx.user_id,
        "request_id": ctx.request_id or f"req-{uuid.uuid4()}",
        "action": action,
        "message": None,
        "events": [dict(e) for e in events],
        "start_time": now,
        "updated_at": now,
    }
    run_core(session, INSERT_ACTION, values)
    return action_id


def started_event(name: str) -> dict[str, Any]:
    return {
        "event": name,
        "start_time": utcnow().isoformat(),
        "finish_time": None,
        "result": None,
        "traceback": None,
    }


def ready_ref(row: ServerRow) -> NativeRef:
    """The server's backend ref; Nova's 409 while the backend has not made it yet."""
    if row.native_ref is None:
        raise Conflict(f"Instance {row.id} is not ready")
    return NativeRef(row.native_ref)


def start_action(
    session: Session,
    ctx: RequestContext,
    row: ServerRow,
    action: str,
    event: str,
    task_state: TaskState,
) -> str:
    """The server takes ``task_state`` and ``action`` is recorded with its ``event`` started
    (a task finishes it); returns the action's id."""
    row.task_state = task_state
    touch(row)
    return record_action(session, ctx, row, action, [started_event(event)])


def touch(row: ServerRow, when: datetime | None = None) -> None:
    row.updated_at = when or utcnow()
