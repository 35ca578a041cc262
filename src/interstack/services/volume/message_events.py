"""The events a user message reports: what was being done (an action) and what went wrong
(a detail), each with Cinder's number, so that ``event_id`` reads as Cinder's does
(``VOLUME_<resource type>_<action>_<detail>``) and a client that knows Cinder's events knows
ours. The texts are the gateway's own; the store keeps only the numbers, so a text reworded
here reaches the messages already written."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from interstack.backends.contract import NO_VALID_BACKEND


class ResourceType(StrEnum):
    """What a message is about (Cinder's ``message_field.Resource``)."""

    VOLUME = "VOLUME"
    VOLUME_SNAPSHOT = "VOLUME_SNAPSHOT"


@dataclass(frozen=True)
class Step:
    """An action or a detail: Cinder's three-digit number and the gateway's text for it."""

    id: str
    text: str


class Action:
    """What the user asked for when the failure happened (Cinder's numbers)."""

    SCHEDULE_ALLOCATE_VOLUME = Step("001", "find a place for the volume")
    ATTACH_VOLUME = Step("002", "attach the volume to a server")
    COPY_VOLUME_TO_IMAGE = Step("003", "upload the volume to an image")
    COPY_IMAGE_TO_VOLUME = Step("005", "write the image onto the new volume")
    EXTEND_VOLUME = Step("007", "extend the volume")
    CREATE_VOLUME_FROM_BACKEND = Step("008", "create the volume in its storage backend")
    SNAPSHOT_CREATE = Step("009", "create the snapshot")
    SNAPSHOT_DELETE = Step("010", "delete the snapshot")


class Detail:
    """What went wrong (Cinder's numbers); each text says what the user can do next."""

    UNKNOWN_ERROR = Step(
        "001", "The storage backend failed for a reason it did not give; try again later."
    )
    NO_BACKEND_AVAILABLE = Step(
        "003",
        "No storage backend has room for the size asked for, or serves what the volume type's "
        "extra specs ask for; the volume was not changed. Ask for less or another type, or "
        "free capacity, and try again.",
    )
    FAILED_TO_UPLOAD_VOLUME = Step(
        "004", "The storage backend could not copy the volume into the image; no image was kept."
    )
    DRIVER_FAILED_EXTEND = Step(
        "010",
        "The storage backend failed while growing the volume, which is now error_extending; "
        "an administrator can reset its status.",
    )
    DRIVER_FAILED_CREATE = Step(
        "012", "The storage backend failed to create the volume; delete it and create it again."
    )
    SNAPSHOT_CREATE_ERROR = Step(
        "013", "The storage backend failed to create the snapshot; delete it and try again."
    )
    SNAPSHOT_DELETE_ERROR = Step(
        "016", "The storage backend failed to delete the snapshot, which is now error_deleting."
    )
    ATTACH_ERROR = Step(
        "021",
        "The volume could not be attached to the server; it is detaching until the storage "
        "backend has let go of it, then available.",
    )


ACTIONS = {step.id: step for step in vars(Action).values() if isinstance(step, Step)}
DETAILS = {step.id: step for step in vars(Detail).values() if isinstance(step, Step)}


@dataclass(frozen=True)
class MessageEvent:
    """One kind of user message: its resource type, action and detail."""

    resource_type: ResourceType
    action: Step
    detail: Step

    @property
    def event_id(self) -> str:
        return f"VOLUME_{self.resource_type}_{self.action.id}_{self.detail.id}"


def user_message(action_id: str, detail_id: str) -> str:
    """The message's text as Cinder composes it, ``<action>:<detail>``: an unknown action or
    detail (a message written by a later version) reads as unknown, not as an error."""
    action = ACTIONS.get(action_id)
    detail = DETAILS.get(detail_id, Detail.UNKNOWN_ERROR)
    return f"{action.text if action else 'unknown action'}:{detail.text}"


#: the events the gateway reports
EXTEND_NO_ROOM = MessageEvent(
    ResourceType.VOLUME, Action.EXTEND_VOLUME, Detail.NO_BACKEND_AVAILABLE
)
EXTEND_FAILED = MessageEvent(ResourceType.VOLUME, Action.EXTEND_VOLUME, Detail.DRIVER_FAILED_EXTEND)
CREATE_NO_ROOM = MessageEvent(
    ResourceType.VOLUME, Action.SCHEDULE_ALLOCATE_VOLUME, Detail.NO_BACKEND_AVAILABLE
)
CREATE_FAILED = MessageEvent(
    ResourceType.VOLUME, Action.CREATE_VOLUME_FROM_BACKEND, Detail.DRIVER_FAILED_CREATE
)
IMAGE_TO_VOLUME_FAILED = MessageEvent(
    ResourceType.VOLUME, Action.COPY_IMAGE_TO_VOLUME, Detail.UNKNOWN_ERROR
)
UPLOAD_FAILED = MessageEvent(
    ResourceType.VOLUME, Action.COPY_VOLUME_TO_IMAGE, Detail.FAILED_TO_UPLOAD_VOLUME
)
ATTACH_FAILED = MessageEvent(ResourceType.VOLUME, Action.ATTACH_VOLUME, Detail.ATTACH_ERROR)
SNAPSHOT_CREATE_FAILED = MessageEvent(
    ResourceType.VOLUME_SNAPSHOT, Action.SNAPSHOT_CREATE, Detail.SNAPSHOT_CREATE_ERROR
)
SNAPSHOT_DELETE_FAILED = MessageEvent(
    ResourceType.VOLUME_SNAPSHOT, Action.SNAPSHOT_DELETE, Detail.SNAPSHOT_DELETE_ERROR
)


def create_failure(error: str, payload: Mapping[str, Any]) -> MessageEvent:
    """The message of a volume's create that failed with ``error``: no backend had room (as
    Cinder's scheduler reports it), the image could not be written, or the backend failed."""
    if error == NO_VALID_BACKEND:
        return CREATE_NO_ROOM
    return IMAGE_TO_VOLUME_FAILED if payload.get("image_ref") else CREATE_FAILED
