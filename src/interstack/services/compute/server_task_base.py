"""What every server task does with its server: read its row unless the server is gone or
being deleted (the delete task owns it then), change the row without ever writing under a
delete that started meanwhile, look at the backend until the server settles, and put the
server in ERROR, or leave it as it was, when the task fails.

:class:`ServerTaskBase` is the base of :class:`.server_tasks.ServerTasks`, whose handlers are
made of these steps.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, NoReturn

from sqlalchemy import Row, update
from sqlalchemy.orm import Session

from interstack.backends.contract import NativeRef, Polling, PowerAction, ServerInfo, ServerStatus
from interstack.errors import BackendError, NotFound
from interstack.services.compute.common import touch
from interstack.services.compute.server_statements import (
    RECORD_SETTLED,
    SERVER_ROW,
    SETTLE,
    SETTLE_LAUNCHED,
    finish_action,
    is_live,
    server_state,
)
from interstack.services.compute.state import TaskState, VmState
from interstack.services.compute.task_steps import Step, fault_of, settle, settled_state
from interstack.services.regions import Regions
from interstack.services.tasks import Task, utcnow
from interstack.store import Database, run_core
from interstack.store.models import Server as ServerRow

LOG = logging.getLogger(__name__)


class ServerTaskBase:
    """The server row and the backend server as the server tasks' steps see them."""

    def __init__(self, db: Database, regions: Regions) -> None:
        self.db = db
        self.regions = regions

    def _polling(self, task: Task) -> Polling:
        """How often the task's backend is looked at while it is still changing."""
        return self.regions.backend(task.region).polling

    def _live(self, session: Session, task: Task) -> Row[Any] | None:
        """The task's server (its whole row, read only), unless it is gone or being deleted
        (the delete task owns it)."""
        row = run_core(session, SERVER_ROW, {"server_id": task.resource_id}).one_or_none()
        return row if is_live(row) else None

    def _live_ref(self, task: Task) -> tuple[bool, NativeRef | None]:
        """Whether the task's server is live (:meth:`_live`), and its backend ref."""
        with self.db.session() as session:
            state = server_state(session, task.resource_id)
        if not is_live(state):
            return False, None
        assert state is not None
        return True, NativeRef(state.native_ref) if state.native_ref is not None else None

    def _is_live(self, task: Task) -> bool:
        return self._live_ref(task)[0]

    def _live_to_change(self, session: Session, task: Task) -> ServerRow | None:
        """The task's server as :meth:`_live`, to change in ``session``: its row is taken for
        writing first by an UPDATE that changes nothing unless the server is deleted or being
        deleted. A delete starting meanwhile then writes after this change, never under it (a
        read, then a write, put SPAWNING over a concurrent DELETING). The row comes back with
        that UPDATE (one statement, not a read after it)."""
        return session.scalars(
            update(ServerRow)
            .where(
                ServerRow.id == task.resource_id,
                ServerRow.deleted_at.is_(None),
                ServerRow.task_state.is_distinct_from(TaskState.DELETING),
            )
            .values(task_state=ServerRow.task_state)
            .returning(ServerRow),
            execution_options={"populate_existing": True},
        ).one_or_none()

    def _update(self, task: Task, change: Callable[[ServerRow], None]) -> bool:
        with self.db.session() as session:
            row = self._live_to_change(session, task)
            if row is None:
                return False
            change(row)
            return True

    @staticmethod
    def _finish_action(session: Session, task: Task, result: str, message: str = "") -> None:
        """:func:`finish_action` of the task's instance action, with the events its payload
        carries where it does (:func:`action_payload`)."""
        started = task.payload.get("action_events")
        action_id = task.payload.get("action_id")
        finish_action(session, action_id, result, message, started)

    def to_error(self, task: Task, error: str, *, of_delete: bool = False) -> None:
        """A failed boot, rebuild or delete leaves the server in ERROR with a fault; a boot or
        rebuild failing under a delete leaves it to the delete (its action says why)."""
        with self.db.session() as session:
            row = session.get(ServerRow, task.resource_id)
            if row is None or row.deleted_at is not None:
                return
            if row.task_state == TaskState.DELETING and not of_delete:
                self._finish_action(session, task, "Error", error)
                return
            row.vm_state = VmState.ERROR
            row.task_state = None
            row.fault = fault_of(error)
            touch(row)
            self._finish_action(session, task, "Error", error)

    def action_failed(self, task: Task, error: str) -> None:
        """A failed power action or resize leaves the server as it was; the action says why."""
        with self.db.session() as session:
            row = session.get(ServerRow, task.resource_id)
            if row is not None and row.task_state != TaskState.DELETING:
                row.task_state = None
                touch(row)
            self._finish_action(session, task, "Error", error)

    def _wait_settled(
        self,
        task: Task,
        expected: frozenset[ServerStatus],
        then: Callable[[ServerRow], None] | None = None,
        ref: NativeRef | None = None,
        *,
        launched: bool = False,
        seen: ServerInfo | NotFound | None = None,
    ) -> Step:
        """Look at the backend once: settled in ``expected`` -> the server takes its state
        (``launched``: and its ``launched_at``, unless it had one), ``then`` applied to its row
        where given; ERROR -> fail. ``ref``: the backend server the step itself just made or
        changed, not read again (the change below is made only if the server is still live);
        ``seen``: what the step's own look at it found already (the backend's answer or its
        NotFound), not asked again."""
        if ref is None:
            live, ref = self._live_ref(task)
            if not live or ref is None:
                return Step()
        try:
            if isinstance(seen, NotFound):
                raise seen
            info = seen or self.regions.backend(task.region).compute.get_server(ref)
        except NotFound:
            if not self._is_live(task):  # the delete task deleted it
                return Step()
            raise
        LOG.debug("server %s: the backend says %s", task.resource_id, info.status.value)
        if info.status is ServerStatus.ERROR:
            if not self._is_live(task):  # the delete task owns it now
                return Step()
            raise BackendError(info.fault or "the server failed in the backend")
        if info.status not in expected:
            if info.boot_ended is not None:
                self._ended_in_boot(task, info, info.boot_ended)
            return Step(task.payload)
        with self.db.session() as session:
            if then is None:
                changed = self._settle(session, task, info, launched=launched)
            else:
                row = self._live_to_change(session, task)
                changed = row is not None
                if row is not None:
                    settle(row, info)
                    then(row)
            if changed:
                self._finish_action(session, task, "Success")
        return Step()

    @staticmethod
    def _settle(
        session: Session,
        task: Task,
        info: ServerInfo,
        *,
        launched: bool,
        ref: NativeRef | None = None,
    ) -> bool:
        """:func:`.task_steps.settle` in one statement on the live server (False: it is gone
        or being deleted); ``ref`` (with ``launched``): the backend server's ref is kept in
        the same statement."""
        state = settled_state(info)
        if state is None:
            raise BackendError(f"the backend's server is {info.status}: it has not settled")
        vm_state, power_state = state
        params = {
            "server_id": task.resource_id,
            "vm_state": vm_state.value,
            "power_state": power_state.value,
            "now": utcnow(),
        }
        if ref is not None:
            assert launched, "a ref is recorded at a boot's end only"
            result = run_core(session, RECORD_SETTLED, {**params, "ref": ref})
        else:
            result = run_core(session, SETTLE_LAUNCHED if launched else SETTLE, params)
        return result.rowcount == 1

    def _ended_in_boot(self, task: Task, info: ServerInfo, why: str) -> NoReturn:
        """The guest ended during the boot the task waits for, before it was up: it will not
        come up by itself, so the task fails now. The server takes the backend's state
        (SHUTOFF, CRASHED for a crash), or ERROR with the fault after a reboot, as Nova puts a
        server whose reboot failed and that does not run; the action's event says why."""
        rebooting = task.payload.get("action") in {PowerAction.REBOOT, PowerAction.HARD_REBOOT}
        with self.db.session() as session:
            row = self._live_to_change(session, task)
            if row is not None:
                settle(row, info)
                if rebooting:
                    row.vm_state = VmState.ERROR
                    row.fault = fault_of(why)
        raise BackendError(why)

    def _native_ref(self, task: Task) -> NativeRef | None:
        """The server's backend ref, whatever its state (None: gone, or none made yet)."""
        with self.db.session() as session:
            state = server_state(session, task.resource_id)
        if state is None or state.native_ref is None:
            return None
        return NativeRef(state.native_ref)

    def _gone(self, task: Task, ref: NativeRef | None) -> bool:
        if ref is None:
            return True
        try:
            self.regions.backend(task.region).compute.get_server(ref)
        except NotFound:
            return True
        return False
