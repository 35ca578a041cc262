"""The server tasks' hot statements on servers and instance actions, built once at import and
run by :func:`~interstack.store.run_core` on a unit of work's connection (plain rows back).

A boot and a delete run each of these once or more per server; the ORM's ``session.get`` or
``session.execute`` of the same statement builds its compile state and loads objects into the
identity map, several times the Python work of the statement. Every value is a ``bindparam``
(the statements compile once per engine, whatever the values).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Insert, Row, Select, Update, bindparam, func, insert, null, select, update
from sqlalchemy.orm import Session

from interstack.services.compute.state import PowerState, TaskState, VmState
from interstack.services.tasks import utcnow
from interstack.store import run_core, table_of
from interstack.store.models import InstanceAction as ActionRow
from interstack.store.models import Server as ServerRow

_SERVERS = table_of(ServerRow)
_S = _SERVERS.c
_ACTIONS = table_of(ActionRow)
_A = _ACTIONS.c
_WHEN = _S.updated_at.type

#: the server, not deleted and not being deleted (the delete task owns it then)
_LIVE = (
    _S.id == bindparam("server_id"),
    _S.deleted_at.is_(None),
    _S.task_state.is_distinct_from(TaskState.DELETING.value),
)

#: what a task looks at before it calls its backend: where the server is in its life
SERVER_STATE: Select[Any] = select(
    _S.native_ref, _S.launched_at, _S.deleted_at, _S.task_state
).where(_S.id == bindparam("server_id"))

#: the whole server row (a task that makes the backend server again reads its spec)
SERVER_ROW: Select[Any] = select(_SERVERS).where(_S.id == bindparam("server_id"))

#: a boot step's start: the live server takes ``task_state``, and comes back as written (one
#: statement: a delete starting meanwhile writes after this, never under it)
START_BOOT: Update = (
    update(_SERVERS)
    .where(*_LIVE)
    .values(
        task_state=bindparam("task_state", type_=_S.task_state.type),
        updated_at=bindparam("now", type_=_WHEN),
    )
    .returning(*_S)
)


#: a delete's start: the live server is DELETING (a second delete at the same moment changes
#: nothing, and starts no second task), its backend server's ref and ``launched_at`` returned
#: as of this write (the delete task's first step goes on from them)
START_DELETE: Update = (
    update(_SERVERS)
    .where(*_LIVE)
    .values(task_state=TaskState.DELETING.value, updated_at=bindparam("now", type_=_WHEN))
    .returning(_S.native_ref, _S.launched_at)
)


def _settling(*, launched: bool, records: bool = False) -> Update:
    """The live server takes the state of a backend server that settled, no task and no fault
    left; ``launched``: its ``launched_at`` is set unless it was before (a boot's end);
    ``records``: and its backend server's ref (``ref``: a boot step that made its backend
    server and found it settled at its first look keeps both in one write)."""
    now = bindparam("now", type_=_WHEN)
    also: dict[str, Any] = {}
    if launched:
        also["launched_at"] = func.coalesce(_S.launched_at, now)
    if records:
        also["native_ref"] = bindparam("ref", type_=_S.native_ref.type)
    return (
        update(_SERVERS)
        .where(*_LIVE)
        .values(
            vm_state=bindparam("vm_state", type_=_S.vm_state.type),
            power_state=bindparam("power_state", type_=_S.power_state.type),
            task_state=None,
            fault=null(),
            updated_at=now,
            **also,
        )
    )


SETTLE = _settling(launched=False)
SETTLE_LAUNCHED = _settling(launched=True)
#: :data:`SETTLE_LAUNCHED` with the backend server's ref (no row changed: the server is gone or
#: being deleted, and only :data:`RECORD_REF` may keep the ref then)
RECORD_SETTLED = _settling(launched=True, records=True)

#: the backend server's ref, kept unless the server is deleted by now (a delete under way
#: reads it at its next step and deletes that backend server)
RECORD_REF: Update = (
    update(_SERVERS)
    .where(_S.id == bindparam("server_id"), _S.deleted_at.is_(None))
    .values(native_ref=bindparam("ref", type_=_S.native_ref.type))
)

#: a delete's end: the server is deleted if its ref is still the one the delete removed (a
#: boot recording another at the same moment makes this change nothing)
DELETE_FINISH: Update = (
    update(_SERVERS)
    .where(
        _S.id == bindparam("server_id"),
        _S.deleted_at.is_(None),
        _S.native_ref.is_not_distinct_from(bindparam("ref", type_=_S.native_ref.type)),
    )
    .values(
        vm_state=VmState.DELETED.value,
        task_state=None,
        power_state=PowerState.NOSTATE.value,
        deleted_at=bindparam("now", type_=_WHEN),
        updated_at=bindparam("now", type_=_WHEN),
    )
)

#: a new server: every column a parameter or its default, the row as written returned
INSERT_SERVER: Insert = insert(_SERVERS).returning(*_S)
#: a new instance action, every column a parameter
INSERT_ACTION: Insert = insert(_ACTIONS)

_ACTION_EVENTS: Select[Any] = select(_A.events).where(_A.id == bindparam("action_id"))
#: ``message`` None keeps the action's message (a success says nothing)
_FINISH_ACTION: Update = (
    update(_ACTIONS)
    .where(_A.id == bindparam("action_id"))
    .values(
        events=bindparam("events", type_=_A.events.type),
        updated_at=bindparam("now", type_=_WHEN),
        message=func.coalesce(bindparam("message", type_=_A.message.type), _A.message),
    )
)


def server_state(session: Session, server_id: str) -> Row[Any] | None:
    """The server's ``native_ref``, ``launched_at``, ``deleted_at`` and ``task_state``."""
    return run_core(session, SERVER_STATE, {"server_id": server_id}).one_or_none()


def is_live(state: Row[Any] | None) -> bool:
    """Whether a server (:func:`server_state`) is neither gone nor being deleted."""
    return state is not None and state.deleted_at is None and state.task_state != TaskState.DELETING


def action_payload(action_id: str, events: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """A task's payload naming the instance action it finishes, with the events its start
    wrote: the task's end writes the action without reading it (:func:`finish_action`)."""
    return {"action_id": action_id, "action_events": [dict(e) for e in events]}


def finish_action(
    session: Session,
    action_id: str | None,
    result: str,
    message: str = "",
    started: Sequence[Mapping[str, Any]] | None = None,
) -> None:
    """Mark the task-driven event of an instance action finished (``Success``/``Error``); an
    error is the action's message too. ``started``: the action's events as its start wrote
    them, carried by the task (:func:`action_payload`; nothing else writes them before the
    task's end), not read again."""
    if action_id is None:
        return
    events = started
    if events is None:
        events = run_core(session, _ACTION_EVENTS, {"action_id": action_id}).scalar_one_or_none()
    if events is None:
        return
    now = utcnow()
    finished = [dict(e) for e in events]
    for event in finished:
        if event.get("finish_time") is None:
            event["finish_time"] = now.isoformat()
            event["result"] = result
            if message:
                event["traceback"] = message
    params = {
        "action_id": action_id,
        "events": finished,
        "now": now,
        "message": (message or "Error") if result == "Error" else None,
    }
    run_core(session, _FINISH_ACTION, params)
