"""The parts every server task step is made of: the backend spec of a server row, the state a
settled backend status means, and :class:`Step`, a step's decision with its polling back-off.

A backend server is looked at again until it settles, at first at once and then less often, as
the region's backend declares (:class:`~interstack.backends.contract.Polling`: half a second
apart at most by default, seconds for a public cloud); after :data:`MAX_POLLS` looks the task
fails.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row

from interstack.backends.contract import (
    FlavorSpec,
    NativeRef,
    Polling,
    ServerInfo,
    ServerSpec,
    ServerStatus,
)
from interstack.errors import BackendError
from interstack.services.compute.block_devices import ROOT_DEVICE
from interstack.services.compute.common import touch
from interstack.services.compute.local_disks import loaded
from interstack.services.compute.state import PowerState, VmState
from interstack.services.tasks import RetryAfter, utcnow
from interstack.store.models import Server as ServerRow

#: the longest a task waits between looks at a booting server where the backend says when a
#: boot settles (``settle_notices``): a look is then only the fallback for a word that did not
#: come
NOTIFIED_POLL_SECONDS = 5.0
#: a backend that has not settled after this many looks fails the task
MAX_POLLS = 1200

#: a settled backend status -> the server's vm_state and power_state
SETTLED: dict[ServerStatus, tuple[VmState, PowerState]] = {
    ServerStatus.ACTIVE: (VmState.ACTIVE, PowerState.RUNNING),
    ServerStatus.STOPPED: (VmState.STOPPED, PowerState.SHUTDOWN),
    ServerStatus.PAUSED: (VmState.PAUSED, PowerState.PAUSED),
    ServerStatus.SUSPENDED: (VmState.SUSPENDED, PowerState.SUSPENDED),
}


def fault_of(message: str) -> dict[str, Any]:
    """Nova's ``fault`` of a server in ERROR; ``details`` stays empty (no tracebacks)."""
    return {"code": 500, "message": message, "details": "", "created": utcnow().isoformat()}


def launched_lately(payload: Mapping[str, Any], polling: Polling) -> bool:
    """Whether the boot step launched the server (at ``payload["launched"]``) so lately that
    the backend's reads may not show it yet (``Polling.settling_seconds``: EC2's eventual
    consistency): not seeing it then is not its loss. Read from the task's record, so a
    restarted gateway knows it too."""
    launched = payload.get("launched")
    if launched is None or polling.settling_seconds <= 0:
        return False
    since = datetime.fromisoformat(str(launched))
    return (utcnow() - since).total_seconds() < polling.settling_seconds


def flavor_spec(flavor: Mapping[str, Any]) -> FlavorSpec:
    return FlavorSpec(
        vcpus=int(flavor["vcpus"]),
        ram_mb=int(flavor["ram"]),
        disk_gb=int(flavor["disk"]),
        name=str(flavor.get("original_name") or ""),
    )


def server_spec(row: ServerRow | Row[Any]) -> ServerSpec:
    """The backend spec of the server's row (an ORM row or a plain one with its columns)."""
    ports = tuple(NativeRef(p["native_ref"]) for p in row.port_refs if p.get("native_ref"))
    return ServerSpec(
        gateway_id=row.id,
        name=row.name,
        project_id=row.project_id,
        flavor=flavor_spec(row.flavor),
        image=NativeRef(row.image_ref) if row.image_ref else None,
        ports=ports,
        key_name=row.key_name,
        public_key=row.key_data,
        user_data=base64.b64decode(row.user_data) if row.user_data else None,
        metadata={str(k): str(v) for k, v in row.metadata_items.items()},
        local_disks=loaded(row.local_disks or ()),
        root_device=row.root_device_name or ROOT_DEVICE,
    )


@dataclass(frozen=True)
class Step:
    """What a step decided: done (``None`` to the runner) or look again with a new payload."""

    payload: Mapping[str, Any] | None = None
    #: the longest wait before the next look, where the step sets its own (else the backend's)
    ceiling: float | None = None

    def result(self, polling: Polling) -> RetryAfter | None:
        """A step that moved to another phase runs on at once; one that looks again at the same
        phase waits as the backend's ``polling`` says after that phase's looks so far (at
        most :attr:`ceiling` where the step sets one)."""
        if self.payload is None:
            return None
        polls = int(self.payload.get("polls", 0))
        if polls > MAX_POLLS:
            raise BackendError("the backend did not finish the operation in time")
        phase = self.payload.get("phase")
        if "looked_at" not in self.payload or self.payload["looked_at"] != phase:
            delay, looks = 0.0, 0
        else:
            looks = int(self.payload.get("looks", 0))
            delay, looks = polling.delay(looks, self.ceiling), looks + 1
        again = {**self.payload, "polls": polls + 1, "looks": looks, "looked_at": phase}
        return RetryAfter(delay, again)


def settled_state(info: ServerInfo) -> tuple[VmState, PowerState] | None:
    """The vm_state and power_state of a backend server that settled (None: it has not): those
    of :data:`SETTLED`, with the ``CRASHED`` power state for a stopped server whose guest
    crashed, which Nova records from the hypervisor and keeps while it stays stopped."""
    state = SETTLED.get(info.status)
    if state is not None and info.crashed and state[0] == VmState.STOPPED:
        return VmState.STOPPED, PowerState.CRASHED
    return state


def settle(row: ServerRow, info: ServerInfo) -> None:
    """The row takes the state of a backend server that settled; no task or fault is left."""
    state = settled_state(info)
    if state is None:
        raise BackendError(f"the backend's server is {info.status}: it has not settled")
    vm_state, power_state = state
    row.vm_state = vm_state
    row.power_state = power_state
    row.task_state = None
    row.fault = None
    touch(row)
