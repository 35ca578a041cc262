"""Cinder's volume, snapshot and attachment statuses, and which operations each allows.

A volume rests in ``available``, ``in-use``, ``error`` or ``error_detaching``; every other
status says that something is happening to it (a task runs, or a client reserved it for an
attachment). Cinder refuses an
operation from a status it does not list for it with a 400 ("Invalid volume: ...").
"""

from __future__ import annotations

from enum import StrEnum

from interstack.errors import BadRequest


class VolumeStatus(StrEnum):
    CREATING = "creating"
    AVAILABLE = "available"
    RESERVED = "reserved"
    ATTACHING = "attaching"
    DETACHING = "detaching"
    #: the backend did not let go of the volume (Cinder's failed detach): nothing runs on it;
    #: an administrator resets its status once the backend let go, or force-deletes it
    ERROR_DETACHING = "error_detaching"
    IN_USE = "in-use"
    MAINTENANCE = "maintenance"
    DELETING = "deleting"
    ERROR = "error"
    ERROR_DELETING = "error_deleting"
    EXTENDING = "extending"
    ERROR_EXTENDING = "error_extending"
    UPLOADING = "uploading"
    DOWNLOADING = "downloading"


class SnapshotStatus(StrEnum):
    CREATING = "creating"
    AVAILABLE = "available"
    DELETING = "deleting"
    ERROR = "error"
    ERROR_DELETING = "error_deleting"


class AttachStatus(StrEnum):
    """The status of one attachment (Cinder's ``attach_status``)."""

    RESERVED = "reserved"
    ATTACHING = "attaching"
    ATTACHED = "attached"
    DETACHING = "detaching"
    DETACHED = "detached"


V = VolumeStatus

#: what a volume may be deleted from (Cinder's ``delete`` without ``force``)
DELETABLE = frozenset({V.AVAILABLE, V.ERROR, V.ERROR_EXTENDING})
#: statuses an admin may set with ``os-reset_status``
RESETTABLE = frozenset(s.value for s in VolumeStatus)
#: statuses in which nothing runs on the volume (the task runner owns every other one)
SETTLED = frozenset({V.AVAILABLE, V.IN_USE, V.ERROR, V.ERROR_EXTENDING, V.ERROR_DETACHING})


def check_volume(volume_id: str, status: str, allowed: frozenset[VolumeStatus], doing: str) -> None:
    """400 with Cinder's message if the volume may not ``doing`` from ``status``."""
    if status not in allowed:
        names = " or ".join(sorted(allowed))
        raise BadRequest(
            f"Invalid volume: Volume {volume_id} status must be {names} to {doing}, "
            f"but it is {status}."
        )
