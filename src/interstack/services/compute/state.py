"""Nova's server state machine: ``vm_state`` + ``task_state`` -> the API's ``status``.

``vm_state`` is where the server rests, ``task_state`` what is happening to it now (None when
idle). An action is allowed only from the vm_states listed for it in :data:`ALLOWED` and only
while no task runs; otherwise Nova's 409 message names the offending state.
"""

from __future__ import annotations

from enum import IntEnum, StrEnum

from interstack.errors import Conflict


class VmState(StrEnum):
    BUILDING = "building"
    ACTIVE = "active"
    STOPPED = "stopped"
    PAUSED = "paused"
    SUSPENDED = "suspended"
    RESIZED = "resized"
    ERROR = "error"
    DELETED = "deleted"


class TaskState(StrEnum):
    SCHEDULING = "scheduling"
    #: waiting for the server's boot volumes (Nova's name for it)
    BLOCK_DEVICE_MAPPING = "block_device_mapping"
    SPAWNING = "spawning"
    DELETING = "deleting"
    POWERING_OFF = "powering-off"
    POWERING_ON = "powering-on"
    REBOOTING = "rebooting"
    REBOOTING_HARD = "rebooting_hard"
    PAUSING = "pausing"
    UNPAUSING = "unpausing"
    SUSPENDING = "suspending"
    RESUMING = "resuming"
    REBUILDING = "rebuilding"
    IMAGE_SNAPSHOT = "image_snapshot"
    RESIZE_PREP = "resize_prep"
    RESIZE_FINISH = "resize_finish"
    RESIZE_REVERTING = "resize_reverting"


class PowerState(IntEnum):
    NOSTATE = 0
    RUNNING = 1
    PAUSED = 3
    SHUTDOWN = 4
    CRASHED = 6
    SUSPENDED = 7


_STATUS_BY_VM_STATE = {
    VmState.BUILDING: "BUILD",
    VmState.ACTIVE: "ACTIVE",
    VmState.STOPPED: "SHUTOFF",
    VmState.PAUSED: "PAUSED",
    VmState.SUSPENDED: "SUSPENDED",
    VmState.RESIZED: "VERIFY_RESIZE",
    VmState.ERROR: "ERROR",
    VmState.DELETED: "DELETED",
}

_STATUS_BY_TASK_STATE = {
    TaskState.REBOOTING: "REBOOT",
    TaskState.REBOOTING_HARD: "HARD_REBOOT",
    TaskState.REBUILDING: "REBUILD",
    TaskState.RESIZE_PREP: "RESIZE",
    TaskState.RESIZE_FINISH: "RESIZE",
}

#: vm_states in which a task_state of :data:`_STATUS_BY_TASK_STATE` shows instead (Nova shows
#: REBUILD and RESIZE for stopped servers too, REBOOT only for active ones)
_TASK_STATUS_VM_STATES = {
    "REBOOT": frozenset({VmState.ACTIVE}),
    "HARD_REBOOT": frozenset({VmState.ACTIVE}),
    "REBUILD": frozenset({VmState.ACTIVE, VmState.STOPPED, VmState.ERROR}),
    "RESIZE": frozenset({VmState.ACTIVE, VmState.STOPPED}),
}

#: every API status, for validating the ``status`` list filter
STATUSES = frozenset(
    {*_STATUS_BY_VM_STATE.values(), *_STATUS_BY_TASK_STATE.values(), "UNKNOWN", "RESIZE"}
)


def status_of(vm_state: str, task_state: str | None) -> str:
    """The API ``status`` of a server, as Nova's ``common.status_from_state``."""
    if task_state is not None:
        special = _STATUS_BY_TASK_STATE.get(TaskState(task_state))
        if special is not None and VmState(vm_state) in _TASK_STATUS_VM_STATES[special]:
            return special
        if vm_state == VmState.RESIZED and task_state == TaskState.RESIZE_REVERTING:
            return "REVERT_RESIZE"
    return _STATUS_BY_VM_STATE.get(VmState(vm_state), "UNKNOWN")


def vm_states_for_status(status: str) -> set[str]:
    """The vm_states whose servers show ``status`` (for the list filter)."""
    return {vm for vm, name in _STATUS_BY_VM_STATE.items() if name == status}


def task_states_for_status(status: str) -> set[str]:
    """The task_states that make a server show ``status`` (REBOOT, RESIZE...), else empty."""
    return {task for task, name in _STATUS_BY_TASK_STATE.items() if name == status}


#: action name (as Nova's messages say it) -> vm_states it may start from
ALLOWED: dict[str, frozenset[VmState]] = {
    "stop": frozenset({VmState.ACTIVE, VmState.PAUSED, VmState.SUSPENDED, VmState.ERROR}),
    "start": frozenset({VmState.STOPPED}),
    # a HARD reboot; a soft one only from ACTIVE (:data:`SOFT_REBOOT`)
    "reboot": frozenset(
        {VmState.ACTIVE, VmState.STOPPED, VmState.PAUSED, VmState.SUSPENDED, VmState.ERROR}
    ),
    "pause": frozenset({VmState.ACTIVE}),
    "unpause": frozenset({VmState.PAUSED}),
    "suspend": frozenset({VmState.ACTIVE}),
    "resume": frozenset({VmState.SUSPENDED}),
    "rebuild": frozenset({VmState.ACTIVE, VmState.STOPPED, VmState.ERROR}),
    "resize": frozenset({VmState.ACTIVE, VmState.STOPPED}),
    "confirmResize": frozenset({VmState.RESIZED}),
    "revertResize": frozenset({VmState.RESIZED}),
    "createImage": frozenset({VmState.ACTIVE, VmState.STOPPED, VmState.PAUSED, VmState.SUSPENDED}),
    "changePassword": frozenset({VmState.ACTIVE}),
    "attach_interface": frozenset({VmState.ACTIVE, VmState.PAUSED, VmState.STOPPED}),
    "detach_interface": frozenset({VmState.ACTIVE, VmState.PAUSED, VmState.STOPPED}),
}


SOFT_REBOOT = frozenset({VmState.ACTIVE})


def check_state(
    action: str,
    server_id: str,
    vm_state: str,
    task_state: str | None,
    allowed: frozenset[VmState] | None = None,
) -> None:
    """409 with Nova's message if ``action`` may not start now (from ``allowed`` if given)."""
    if task_state is not None:
        raise Conflict(
            f"Cannot '{action}' instance {server_id} while it is in task_state {task_state}"
        )
    if VmState(vm_state) not in (allowed if allowed is not None else ALLOWED[action]):
        raise Conflict(f"Cannot '{action}' instance {server_id} while it is in vm_state {vm_state}")
