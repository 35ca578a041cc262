"""The server reconciler: the store's servers compared with what each backend holds.

Like Nova's power-state sync: a server with no task in flight whose backend instance stopped
behind the gateway's back (it died, the host rebooted) shows ``SHUTOFF``, with the power state
``CRASHED`` where the backend says its guest crashed; one whose instance is
gone shows ``ERROR`` with a fault saying it was lost, never silently deleted. Backend servers
tagged with a gateway id the store does not know (orphans) are logged once, not deleted:
``interstack cleanup`` does that. It starts after task recovery and runs in the background, first
at once and then every ``interval`` seconds, so listing every region's servers never delays
serving. It relies on ``ComputeDriver.list_servers`` being complete and surviving
restarts, as the contract promises for every backend; it never asks which backend it is.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select

from interstack.backends.contract import NativeRef, ServerInfo, ServerStatus
from interstack.errors import InterstackError
from interstack.services.compute.common import touch
from interstack.services.compute.state import PowerState, VmState
from interstack.services.compute.task_steps import fault_of, settled_state
from interstack.services.regions import Regions
from interstack.services.tasks import TaskStatus
from interstack.store import Database
from interstack.store.models import Server as ServerRow
from interstack.store.models import Task as TaskRow

LOG = logging.getLogger(__name__)

LOST = (
    "The instance was lost: the backend no longer has it (found missing when the gateway "
    "compared its servers with the backend's)"
)
#: vm_states the reconciler looks at; BUILDING and RESIZED belong to their tasks
RESTING = frozenset(
    {VmState.ACTIVE, VmState.STOPPED, VmState.PAUSED, VmState.SUSPENDED, VmState.ERROR}
)
#: vm_states that become STOPPED when the backend says the instance is stopped
RUNNING = frozenset({VmState.ACTIVE, VmState.PAUSED, VmState.SUSPENDED})


@dataclass(frozen=True)
class StoredServer:
    """What the reconciler read of one store server, ``updated_at`` to detect a change since."""

    id: str
    vm_state: str
    power_state: int
    native_ref: NativeRef
    updated_at: datetime


@dataclass(frozen=True)
class Drift:
    """A correction of one store server to what its backend reports."""

    server: StoredServer
    vm_state: VmState
    power_state: PowerState
    #: the fault message of a server put in ERROR, else None
    fault: str | None = None


def drifts(stored: Iterable[StoredServer], listed: Sequence[ServerInfo]) -> list[Drift]:
    """The corrections that bring resting, task-free store servers in line with ``listed``."""
    by_ref = {info.ref: info for info in listed}
    found = []
    for server in stored:
        drift = _drift(server, by_ref.get(server.native_ref))
        if drift is not None:
            found.append(drift)
    return found


def _drift(server: StoredServer, info: ServerInfo | None) -> Drift | None:
    vm_state = VmState(server.vm_state)
    if vm_state not in RESTING:
        return None
    if info is None or info.status in (ServerStatus.DELETED, ServerStatus.ERROR):
        return _failed(server, vm_state, info)
    settled = settled_state(info)
    if settled is None:  # building, rebooting: the backend is still at work
        return None
    backend_vm, backend_power = settled
    if vm_state in RUNNING and backend_vm == VmState.STOPPED:
        # SHUTDOWN, or CRASHED for a guest that died (Nova records the hypervisor's word)
        return Drift(server, VmState.STOPPED, backend_power)
    if server.power_state != backend_power:
        # Nova keeps the vm_state here and records what the hypervisor says
        return Drift(server, vm_state, backend_power)
    return None


def _failed(server: StoredServer, vm_state: VmState, info: ServerInfo | None) -> Drift | None:
    """ERROR for a server whose instance is gone or failed, unless it already is."""
    if vm_state == VmState.ERROR:
        return None
    if info is None or info.status == ServerStatus.DELETED:
        return Drift(server, VmState.ERROR, PowerState.NOSTATE, LOST)
    message = info.fault or "The backend reports the instance in error"
    return Drift(server, VmState.ERROR, PowerState.NOSTATE, message)


def orphans(listed: Iterable[ServerInfo], known_ids: set[str]) -> list[ServerInfo]:
    """Backend servers tagged with a gateway id the store has never had."""
    return [info for info in listed if info.gateway_id and info.gateway_id not in known_ids]


@dataclass
class ServerReconciler:
    """Compares every compute region's servers with the store; see the module docstring."""

    db: Database
    regions: Regions
    #: seconds between runs after the first; 0 runs only at start-up
    interval: float = 600.0
    _reported: set[str] = field(default_factory=set)
    _stopping: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        """Reconcile in a background thread: once now, then every ``interval`` seconds (0: only
        the first pass). Serving does not wait for it; a failed pass is logged, never a reason
        not to serve."""
        self._stopping.clear()
        self._thread = threading.Thread(
            target=self._passes, name="interstack-reconcile", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(30)
            self._thread = None

    def _passes(self) -> None:
        while not self._stopping.is_set():
            try:
                self.run()
            except Exception:
                LOG.exception("server reconciliation failed")
            if self.interval <= 0 or self._stopping.wait(self.interval):
                return

    def run(self) -> int:
        """One pass over every compute region; returns how many servers were corrected. A
        region whose backend cannot be listed now is skipped with a warning."""
        corrected = 0
        for region in self.regions.names:
            if not self.regions.capabilities(region).compute:
                continue
            try:
                corrected += self.reconcile(region)
            except InterstackError as exc:
                LOG.warning("region %s: servers not reconciled: %s", region, exc.message)
        return corrected

    def reconcile(self, region: str) -> int:
        """Reconcile one region. The store is read before the backend is listed, and a
        correction applies only to a row unchanged since and still without a task, so a task
        finishing meanwhile is never overwritten by an older listing."""
        stored = self._stored(region)
        listed = self.regions.backend(region).compute.list_servers()
        applied = sum(self._apply(region, drift) for drift in drifts(stored, listed))
        self._report_orphans(region, listed)
        return applied

    def _stored(self, region: str) -> list[StoredServer]:
        with self.db.session() as session:
            busy = set(
                session.scalars(
                    select(TaskRow.resource_id).where(
                        TaskRow.region == region,
                        TaskRow.status.in_([TaskStatus.PENDING, TaskStatus.RUNNING]),
                    )
                )
            )
            rows = session.scalars(
                select(ServerRow).where(
                    ServerRow.region == region,
                    ServerRow.deleted_at.is_(None),
                    ServerRow.task_state.is_(None),
                    ServerRow.native_ref.is_not(None),
                )
            )
            return [
                StoredServer(
                    r.id, r.vm_state, r.power_state, NativeRef(r.native_ref or ""), r.updated_at
                )
                for r in rows
                if r.id not in busy
            ]

    def _apply(self, region: str, drift: Drift) -> bool:
        server = drift.server
        with self.db.session() as session:
            busy = session.scalar(
                select(TaskRow.id).where(
                    TaskRow.resource_id == server.id,
                    TaskRow.status.in_([TaskStatus.PENDING, TaskStatus.RUNNING]),
                )
            )
            row = session.get(ServerRow, server.id)
            if (
                busy is not None
                or row is None
                or row.deleted_at is not None
                or row.task_state is not None
                or row.updated_at != server.updated_at
            ):
                return False
            row.vm_state = drift.vm_state
            row.power_state = drift.power_state
            if drift.fault is not None:
                row.fault = fault_of(drift.fault)
            touch(row)
        LOG.warning(
            "region %s: server %s was %s (power %d), now %s (power %d) as its backend says%s",
            region,
            server.id,
            server.vm_state,
            server.power_state,
            drift.vm_state,
            drift.power_state,
            f": {drift.fault}" if drift.fault else "",
        )
        return True

    def _report_orphans(self, region: str, listed: Sequence[ServerInfo]) -> None:
        with self.db.session() as session:
            known = set(session.scalars(select(ServerRow.id).where(ServerRow.region == region)))
        new = [info for info in orphans(listed, known) if info.ref not in self._reported]
        if new:
            self._reported.update(info.ref for info in new)
            LOG.warning(
                "region %s: backend servers unknown to the store (left for `interstack "
                "cleanup`): %s",
                region,
                ", ".join(f"{info.ref} (gateway id {info.gateway_id})" for info in new),
            )
