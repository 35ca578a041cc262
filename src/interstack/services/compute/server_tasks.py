"""The persisted tasks that drive a region's backend for servers: boot, delete, power, resize,
rebuild (and, through :mod:`snapshot_task`, createImage's snapshot).

Each handler step is one backend call and one store write, and runs again safely if a crash cut
it short. The step to run next is ``payload["phase"]``. A server being deleted stops every
other task of it at its next step: the delete task owns the server from then on. How a step
reads, changes and waits for its server is :mod:`server_task_base`'s.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from sqlalchemy import Row, select

from interstack.backends.contract import (
    NativeRef,
    PowerAction,
    ServerInfo,
    ServerSpec,
    ServerStatus,
)
from interstack.errors import BackendUnavailable, InterstackError, NotFound
from interstack.services.compute.common import touch
from interstack.services.compute.server_passwords import ServerPasswords
from interstack.services.compute.server_statements import (
    DELETE_FINISH,
    RECORD_REF,
    START_BOOT,
    server_state,
)
from interstack.services.compute.server_task_base import ServerTaskBase
from interstack.services.compute.snapshot_task import SNAPSHOT, SnapshotTask
from interstack.services.compute.state import TaskState, VmState
from interstack.services.compute.task_steps import (
    NOTIFIED_POLL_SECONDS,
    Step,
    flavor_spec,
    launched_lately,
    server_spec,
)
from interstack.services.interfaces import (
    ConfigDrives,
    ReadyBootVolumes,
    ServerBootVolumes,
    ServerNetworking,
    ServerSnapshots,
    ServerVolumeRelease,
)
from interstack.services.regions import Regions
from interstack.services.tasks import RetryAfter, Task, TaskHandler, utcnow
from interstack.store import Database, run_core
from interstack.store.models import Server as ServerRow
from interstack.store.models import Task as TaskRow

LOG = logging.getLogger(__name__)

BOOT = "compute.server.boot"
DELETE = "compute.server.delete"
POWER = "compute.server.power"
RESIZE = "compute.server.resize"
REBUILD = "compute.server.rebuild"

#: where a boot ends. STOPPED: the guest powered off or crashed before it was up; Nova's server
#: was ACTIVE once its VM ran, and SHUTOFF since its power-state sync
BOOTED = frozenset({ServerStatus.ACTIVE, ServerStatus.STOPPED})

#: the status each power action ends in
POWER_RESULT: dict[PowerAction, ServerStatus] = {
    PowerAction.START: ServerStatus.ACTIVE,
    PowerAction.STOP: ServerStatus.STOPPED,
    PowerAction.REBOOT: ServerStatus.ACTIVE,
    PowerAction.HARD_REBOOT: ServerStatus.ACTIVE,
    PowerAction.PAUSE: ServerStatus.PAUSED,
    PowerAction.UNPAUSE: ServerStatus.ACTIVE,
    PowerAction.SUSPEND: ServerStatus.SUSPENDED,
    PowerAction.RESUME: ServerStatus.ACTIVE,
}


def found(started: Row[Any]) -> dict[str, object]:
    """What a delete's start found of its server (START_DELETE's row), for its task's
    payload: the backend server's ref and whether the server's boot ever settled."""
    return {"ref": started.native_ref, "launched": started.launched_at is not None}


def found_in(payload: Mapping[str, Any]) -> tuple[NativeRef | None, bool]:
    """The ref and the settled-once of :func:`found`, from a delete task's payload."""
    seen = payload["found"]
    return (NativeRef(seen["ref"]) if seen["ref"] else None), bool(seen["launched"])


class ServerTasks(ServerTaskBase):
    """The handlers of the server task kinds, for the app's explicit handler table."""

    def __init__(
        self,
        db: Database,
        regions: Regions,
        networking: ServerNetworking,
        snapshots: ServerSnapshots,
        passwords: ServerPasswords,
        config_drives: ConfigDrives | None = None,
        volumes: ServerVolumeRelease | None = None,
        boot_volumes: ServerBootVolumes | None = None,
    ) -> None:
        super().__init__(db, regions)
        self.networking = networking
        self.passwords = passwords
        self.config_drives = config_drives
        self.volumes = volumes
        self.boot_volumes = boot_volumes
        self.snapshot_task = SnapshotTask(
            db, regions, snapshots, self._native_ref, self.action_failed
        )

    def handlers(self) -> dict[str, TaskHandler]:
        return {
            BOOT: TaskHandler(self.boot, self.boot_failed),
            DELETE: TaskHandler(self.delete, self.delete_failed),
            POWER: TaskHandler(self.power, self.action_failed),
            RESIZE: TaskHandler(self.resize, self.action_failed),
            REBUILD: TaskHandler(self.rebuild, self.to_error),
            SNAPSHOT: self.snapshot_task.handler(),
        }

    # -- boot --------------------------------------------------------------------------------

    def _with_drive(self, region: str, spec: ServerSpec, wanted: bool) -> ServerSpec:
        """The spec with its config drive's files, when the server asked for a drive (read
        outside the step's session: they come from the ports and the keypair too)."""
        if not wanted or self.config_drives is None:
            return spec
        return replace(spec, config_drive=self.config_drives.files(region, spec.gateway_id))

    def _volumes_ready(self, task: Task) -> ReadyBootVolumes | None:
        """The server's boot volumes once each is available (None: wait); none at all when it
        boots from an image without volumes."""
        if "created_volumes" not in task.payload or self.boot_volumes is None:
            return ReadyBootVolumes(root=None, data=())
        root_id = task.payload.get("root_volume")
        return self.boot_volumes.ready_for_boot(
            task.region, task.resource_id, str(root_id) if root_id else None
        )

    def boot(self, task: Task) -> RetryAfter | None:
        if task.payload.get("phase") == "wait":
            return self._boot_wait(task).result(self._polling(task))
        volumes = self._volumes_ready(task)
        state = TaskState.SPAWNING if volumes else TaskState.BLOCK_DEVICE_MAPPING
        params = {"server_id": task.resource_id, "task_state": state.value, "now": utcnow()}
        with self.db.session() as session:
            # one statement: the live server takes the state and comes back as written
            row = run_core(session, START_BOOT, params).one_or_none()
            if row is None:
                return None
            spec = server_spec(row)
            wants_drive = bool(row.config_drive)
        if volumes is None:
            return Step({**task.payload, "phase": "volumes"}).result(self._polling(task))
        spec = replace(spec, root_volume=volumes.root, volumes=volumes.data)
        spec = self._with_drive(task.region, spec, wants_drive)
        info = self.regions.backend(task.region).compute.create_server(spec)
        return self._keep_made(task, info.ref).result(self._polling(task))

    def _keep_made(self, task: Task, ref: NativeRef) -> Step:
        """Keep the backend server the step just made. The first look at it follows at once,
        before its ref is kept: a backend that settles at once (as an emulator does) is done
        in one write, the ref and the settled state together, without another claim; the next
        looks come after a poll delay."""
        seen = self._first_look(task, ref)
        settled = seen if isinstance(seen, ServerInfo) and seen.status in BOOTED else None
        if not self._record_boot(task, ref, settled):
            # the server's delete finished while the backend made this one: nobody else knows
            # of it to remove it
            self.regions.backend(task.region).compute.delete_server(ref)
            return Step()
        # a delete under way sees this ref at its next step and deletes the backend server
        if settled is not None:
            self._booted(task)
            return Step()
        waiting = {
            **task.payload,
            "phase": "wait",
            "looked_at": "wait",
            "looks": 0,
            "launched": utcnow().isoformat(),
        }
        if seen is None:  # the server is made: only the look is to be made again
            return Step(waiting)
        return self._boot_wait(replace(task, payload=waiting), ref, seen)

    def _first_look(self, task: Task, ref: NativeRef) -> ServerInfo | NotFound | None:
        """The backend's server the step just made, as the backend shows it (its NotFound if
        it does not yet; None if the backend did not answer or refused the look). A refusal
        is not raised here: it would fail the task before the ref is kept, and nobody would
        delete the backend server; the wait's look, after the ref is kept, meets it again."""
        try:
            return self.regions.backend(task.region).compute.get_server(ref)
        except NotFound as exc:
            return exc
        except InterstackError as exc:
            LOG.warning("server %s: its first look at %s failed: %s", task.resource_id, ref, exc)
            return None

    def _record_boot(self, task: Task, ref: NativeRef, settled: ServerInfo | None) -> bool:
        """Keep the backend server's ref unless the server is deleted by now, and where the
        first look found it ``settled``, the server's settled state with it (one write, its
        action finished). Each is one statement: a delete finishing at the same moment
        (:meth:`_delete_finish`) either sees the ref or has won, and then this is False."""
        with self.db.session() as session:
            if settled is not None and self._settle(session, task, settled, launched=True, ref=ref):
                self._finish_action(session, task, "Success")
                return True
            # not settled, or a delete under way: the ref only (the delete task owns it)
            params = {"server_id": task.resource_id, "ref": ref}
            return run_core(session, RECORD_REF, params).rowcount == 1

    def _boot_wait(
        self, task: Task, ref: NativeRef | None = None, seen: ServerInfo | NotFound | None = None
    ) -> Step:
        try:
            step = self._wait_settled(task, BOOTED, ref=ref, launched=True, seen=seen)
        except NotFound:
            if not launched_lately(task.payload, self._polling(task)):
                raise
            step = Step(task.payload)  # launched, not shown yet: looked at again
        if step.payload is not None and self.regions.capabilities(task.region).settle_notices:
            step = replace(step, ceiling=NOTIFIED_POLL_SECONDS)  # the backend says when
        if step.payload is None:
            self._booted(task)
        return step

    def _booted(self, task: Task) -> None:
        """The boot settled: the volumes it was given are the server's attachments now."""
        if self.boot_volumes is not None and "created_volumes" in task.payload:
            self.boot_volumes.attached_at_boot(task.region, task.resource_id)

    def boot_failed(self, task: Task, error: str) -> None:
        """The server goes to ERROR; its boot volumes are detached, the ones made for it
        deleted (nothing the failed boot made is left)."""
        self.to_error(task, error)
        if self.boot_volumes is None or "created_volumes" not in task.payload:
            return
        created = [str(v) for v in task.payload.get("created_volumes", [])]
        try:
            self.boot_volumes.abandon_boot(task.region, task.resource_id, created)
        except InterstackError as exc:
            LOG.warning("server %s: its boot volumes stay: %s", task.resource_id, exc.message)

    # -- delete ------------------------------------------------------------------------------

    def delete(self, task: Task) -> RetryAfter | None:
        phases = {
            "backend": self._delete_backend,
            "gone": self._delete_gone,
            "finish": self._delete_finish,  # tasks an older gateway left after their look
        }
        return phases[task.payload.get("phase", "backend")](task).result(self._polling(task))

    def delete_failed(self, task: Task, error: str) -> None:
        """The server goes to ERROR with the delete's fault (Nova's failed delete)."""
        self.to_error(task, error, of_delete=True)

    def _delete_backend(self, task: Task) -> Step:
        # the first step goes on from what the delete's start found (:func:`found`), read with
        # its write of DELETING; a step back here (a boot recorded another ref) reads again
        first = "phase" not in task.payload and "found" in task.payload
        ref, settled_once = found_in(task.payload) if first else self._ref_and_settled(task)
        if ref is None:  # a boot may be making it: its record comes before the next look
            return Step({**task.payload, "phase": "gone", "ref": ref})
        self.regions.backend(task.region).compute.delete_server(ref)
        # the first look follows at once in this step (a backend that deletes at once, as an
        # emulator does, is done without another step), the next ones after a poll delay. It
        # goes on from the ref read above, not read again: a boot recording another one now
        # started its step while the server was live, and the server's end is written only if
        # its ref is still this one (DELETE_FINISH); else this task comes back for the other
        looking = {**task.payload, "phase": "gone", "ref": ref, "looked_at": "gone", "looks": 0}
        try:
            return self._delete_gone(replace(task, payload=looking), (ref, settled_once))
        except BackendUnavailable:  # the server is deleted: only the look is to be made again
            return Step(looking)

    def _delete_gone(self, task: Task, known: tuple[NativeRef | None, bool] | None = None) -> Step:
        """``known``: the server's ref and whether it settled once (:meth:`_ref_and_settled`),
        where the step read them already."""
        ref, settled_once = known or self._ref_and_settled(task)
        if ref is not None and ref != task.payload.get("ref"):
            # a boot step made the backend server after this task looked: nobody deletes that
            # one unless this task goes back and does
            return Step({**task.payload, "phase": "backend"})
        if not self._gone(task, ref):
            if task.payload.get("unseen"):  # shown at last: the delete found none to delete
                return Step({**task.payload, "phase": "backend", "unseen": False, "seen": True})
            return Step({**task.payload, "seen": True})
        if not settled_once and not task.payload.get("seen") and self._launched_lately(task):
            # launched moments ago and never shown to this task: the backend may not show it
            # yet (a gateway restarted since the boot, whose delete found nothing to delete)
            return Step({**task.payload, "unseen": True})
        self.networking.release_for_server(task.region, task.resource_id)
        if self.volumes is not None:
            self.volumes.release_for_server(task.region, task.resource_id)
        # the server row's end follows in this step: a step cut short before it releases
        # again (nothing is left to release) and then ends it
        return self._delete_finish(task)

    def _delete_finish(self, task: Task) -> Step:
        params = {"server_id": task.resource_id, "ref": task.payload.get("ref"), "now": utcnow()}
        with self.db.session() as session:
            # one statement, so that a boot step recording its backend server at the same moment
            # either came first (the ref is not the one deleted: delete that server too) or
            # finds the server deleted (:meth:`_record_boot`)
            if run_core(session, DELETE_FINISH, params).rowcount != 1:
                state = server_state(session, task.resource_id)
                if state is None or state.deleted_at is not None:
                    return Step()
                return Step({**task.payload, "phase": "backend"})
            self.passwords.forget(session, task.resource_id)
            self._finish_action(session, task, "Success")
        return Step()

    def _ref_and_settled(self, task: Task) -> tuple[NativeRef | None, bool]:
        """The server's backend ref, and whether its boot ever settled (``launched_at``)."""
        with self.db.session() as session:
            state = server_state(session, task.resource_id)
        if state is None or state.native_ref is None:
            return None, True
        return NativeRef(state.native_ref), state.launched_at is not None

    def _launched_lately(self, task: Task) -> bool:
        """Whether the server's boot task launched it within the backend's settling window
        (:func:`launched_lately` of its record): read only for a server that never settled."""
        polling = self._polling(task)
        if polling.settling_seconds <= 0:
            return False
        with self.db.session() as session:
            payload = session.scalar(
                select(TaskRow.payload)
                .where(TaskRow.resource_id == task.resource_id, TaskRow.kind == BOOT)
                .order_by(TaskRow.created_at.desc())
                .limit(1)
            )
        return payload is not None and launched_lately(payload, polling)

    # -- power -------------------------------------------------------------------------------

    def power(self, task: Task) -> RetryAfter | None:
        action = PowerAction(task.payload["action"])
        expected = frozenset({POWER_RESULT[action]})
        if task.payload.get("phase") == "wait":
            return self._wait_settled(task, expected).result(self._polling(task))
        live, ref = self._live_ref(task)
        if not live or ref is None:
            return None
        self.regions.backend(task.region).compute.power_action(ref, action)
        if self._wait_settled(task, expected, ref=ref).payload is None:
            return None  # settled at once
        return Step({**task.payload, "phase": "wait"}).result(self._polling(task))

    # -- resize ------------------------------------------------------------------------------

    def resize(self, task: Task) -> RetryAfter | None:
        """Resize to ``payload["flavor"]``; ``revert`` goes back to the old flavor instead."""
        revert = bool(task.payload.get("revert"))
        settled = frozenset({ServerStatus.ACTIVE, ServerStatus.STOPPED})

        def resized(row: ServerRow) -> None:
            if revert:
                row.flavor = dict(row.old_flavor or row.flavor)
                row.flavor_id = str(row.flavor["id"])
                row.old_flavor = None
            else:
                row.vm_state = VmState.RESIZED

        if task.payload.get("phase") == "wait":
            return self._wait_settled(task, settled, resized).result(self._polling(task))
        flavor: Mapping[str, Any] = task.payload["flavor"]
        with self.db.session() as session:
            row = self._live_to_change(session, task)
            if row is None or row.native_ref is None:
                return None
            ref = NativeRef(row.native_ref)
            if not revert:
                row.task_state = TaskState.RESIZE_FINISH
                touch(row)
        self.regions.backend(task.region).compute.resize_server(ref, flavor_spec(flavor))
        if not revert:

            def switch(row: ServerRow) -> None:
                row.old_flavor = dict(row.flavor)
                row.flavor = dict(flavor)
                row.flavor_id = str(flavor["id"])

            self._update(task, switch)
        return Step({**task.payload, "phase": "wait"}).result(self._polling(task))

    # -- rebuild ------------------------------------------------------------------------------

    def rebuild(self, task: Task) -> RetryAfter | None:
        """Replace the backend server by one booted from the new image (a volume-backed one:
        from its root volume again), on the same ports and volumes; a server stopped before is
        stopped again afterwards, as Nova keeps it."""
        if not self._is_live(task):
            return None
        phases: dict[str, Callable[[Task], Step]] = {
            "delete": self._rebuild_delete,
            "gone": self._rebuild_boot,
            "wait": self._rebuild_wait,
            "stop": self._rebuild_stop,
            "stopped": self._rebuild_stopped,
        }
        return phases[task.payload.get("phase", "delete")](task).result(self._polling(task))

    def _rebuild_delete(self, task: Task) -> Step:
        ref = self._native_ref(task)
        if ref is not None:
            self.regions.backend(task.region).compute.delete_server(ref)
        # the old ref goes with the task: the next step tells it from the one it makes
        return Step({**task.payload, "phase": "gone", "old": ref})

    def _rebuild_boot(self, task: Task) -> Step:
        ref = self._native_ref(task)
        if "old" in task.payload and ref != task.payload["old"]:
            # this step made and kept the new one, and was cut short before the runner kept
            # its next phase: waiting for that one to be gone would wait for ever
            return Step({**task.payload, "phase": "wait"})
        if not self._gone(task, ref):
            return Step(task.payload)
        with self.db.session() as session:
            row = self._live(session, task)
            if row is None:
                return Step()
            spec = server_spec(row)
            wants_drive = bool(row.config_drive)
        if self.boot_volumes is not None:
            # its volumes stay: the root one keeps its data (Nova before 2.93), the others
            # are attached again where they were
            volumes = self.boot_volumes.attached_for_rebuild(task.region, task.resource_id)
            spec = replace(spec, root_volume=volumes.root, volumes=volumes.data)
        spec = self._with_drive(task.region, spec, wants_drive)
        info = self.regions.backend(task.region).compute.create_server(spec)
        # kept as a boot keeps the server it made (:meth:`_record_boot`): a delete that started
        # while the backend made it deletes it at its next step, one that finished already
        # left it to this step; kept only while the server is live, nobody removed it
        if not self._record_boot(task, info.ref, None):
            self.regions.backend(task.region).compute.delete_server(info.ref)
            return Step()
        return Step({**task.payload, "phase": "wait"})

    def _rebuild_wait(self, task: Task) -> Step:
        step = self._wait_settled(task, frozenset({ServerStatus.ACTIVE}))
        if step.payload is not None or not task.payload.get("stopped"):
            return step
        self._update(task, lambda r: setattr(r, "task_state", TaskState.POWERING_OFF))
        return Step({**task.payload, "phase": "stop"})

    def _rebuild_stop(self, task: Task) -> Step:
        ref = self._native_ref(task)
        if ref is not None:
            self.regions.backend(task.region).compute.power_action(ref, PowerAction.STOP)
        return Step({**task.payload, "phase": "stopped"})

    def _rebuild_stopped(self, task: Task) -> Step:
        return self._wait_settled(task, frozenset({ServerStatus.STOPPED}))
