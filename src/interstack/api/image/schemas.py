"""Request bodies of Glance v2: an image create, a JSON patch, a member.

Glance's image schema is open (custom properties are any string-valued members), so bodies are
checked member by member here rather than by a closed pydantic model.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from interstack.errors import BadRequest
from interstack.services.image import patch
from interstack.services.image.model import (
    CONTAINER_FORMATS,
    DISK_FORMATS,
    MemberStatus,
    NewImage,
    PatchOp,
    Visibility,
)

PATCH_MEDIA_TYPE = "application/openstack-images-v2.1-json-patch"
#: deprecated, still what Tempest's image client sends
PATCH_MEDIA_TYPE_V20 = "application/openstack-images-v2.0-json-patch"
PATCH_MEDIA_TYPES = (PATCH_MEDIA_TYPE, PATCH_MEDIA_TYPE_V20)
OPERATIONS = ("add", "remove", "replace")
MAX_STRING = 255


def _string(name: str, value: Any, *, nullable: bool = True) -> str | None:
    if value is None and nullable:
        return None
    if not isinstance(value, str):
        raise BadRequest(f"Invalid value for {name}: {value!r} is not a string.")
    if len(value) > MAX_STRING:
        raise BadRequest(f"Invalid value for {name}: longer than {MAX_STRING} characters.")
    return value


def _one_of(choices: tuple[str, ...]) -> Callable[[str, Any], str | None]:
    def check(name: str, value: Any) -> str | None:
        if value is None:
            return None
        if value not in choices:
            raise BadRequest(
                f"Invalid value {value!r} for {name}: must be one of {', '.join(choices)}."
            )
        checked: str = value
        return checked

    return check


def _boolean(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise BadRequest(f"Invalid value for {name}: {value!r} is not a boolean.")
    return value


def _count(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise BadRequest(f"Invalid value for {name}: {value!r} is not a non-negative integer.")
    return value


def _tags(name: str, value: Any) -> list[str]:
    if not isinstance(value, list):
        raise BadRequest(f"Invalid value for {name}: a list of strings is expected.")
    return [str(_string("tag", tag, nullable=False)) for tag in value]


#: the core properties a user may write, each with its check
CORE: dict[str, Callable[[str, Any], Any]] = {
    "name": _string,
    "visibility": _one_of(tuple(v.value for v in Visibility)),
    "protected": _boolean,
    "os_hidden": _boolean,
    "container_format": _one_of(CONTAINER_FORMATS),
    "disk_format": _one_of(DISK_FORMATS),
    "min_disk": _count,
    "min_ram": _count,
    "owner": _string,
    "tags": _tags,
}
assert set(CORE) == patch.WRITABLE


def check_value(name: str, value: Any) -> Any:
    """A valid value for the property ``name``: core ones by type, custom ones strings."""
    check = CORE.get(name)
    if check is not None:
        return check(name, value)
    patch.check_settable(name)
    if not isinstance(value, str):
        raise BadRequest(
            f"Invalid value for property {name}: custom properties are strings, "
            f"not {type(value).__name__}."
        )
    if len(name) > MAX_STRING:
        raise BadRequest(f"Property name {name[:40]}... is longer than {MAX_STRING} characters.")
    return value


def new_image(body: Any) -> NewImage:
    """The image of ``POST /v2/images``; read-only or reserved members are a 403."""
    if not isinstance(body, Mapping):
        raise BadRequest("The request body must be a JSON object describing the image.")
    core: dict[str, Any] = {}
    custom: dict[str, str] = {}
    image_id = body.get("id")
    if image_id is not None:
        try:
            image_id = str(uuid.UUID(str(image_id)))
        except ValueError:
            raise BadRequest(f"Invalid value for id: {image_id!r} is not a UUID.") from None
    for name, value in body.items():
        if name == "id":
            continue
        if name in CORE:
            core[name] = check_value(name, value)
        else:
            custom[name] = check_value(name, value)
    return NewImage(
        id=image_id,
        name=core.get("name"),
        visibility=Visibility(core["visibility"]) if core.get("visibility") else None,
        protected=bool(core.get("protected", False)),
        os_hidden=bool(core.get("os_hidden", False)),
        container_format=core.get("container_format"),
        disk_format=core.get("disk_format"),
        min_disk=core.get("min_disk", 0),
        min_ram=core.get("min_ram", 0),
        owner=core.get("owner"),
        tags=tuple(core.get("tags", ())),
        properties=custom,
    )


def _property_of(pointer: Any) -> str:
    """``/name`` -> ``name``; only top-level members are addressable (JSON pointer escapes)."""
    if not isinstance(pointer, str) or not pointer.startswith("/"):
        raise BadRequest(f"Invalid JSON pointer {pointer!r}: it must start with '/'.")
    parts = pointer[1:].split("/")
    if len(parts) != 1 or not parts[0]:
        raise BadRequest(f"Invalid JSON pointer for this resource: {pointer!r}.")
    return parts[0].replace("~1", "/").replace("~0", "~")


def _operation_v21(change: Mapping[str, Any]) -> tuple[str, Any]:
    """``{"op": "replace", "path": "/name", "value": ...}`` (RFC 6902 style)."""
    if change.get("op") not in OPERATIONS:
        raise BadRequest(
            "Operation objects must contain an 'op' member of 'add', 'remove' or 'replace'."
        )
    return change["op"], change.get("path")


def _operation_v20(change: Mapping[str, Any]) -> tuple[str, Any]:
    """``{"replace": "/name", "value": ...}`` (the deprecated v2.0 format Tempest still sends)."""
    named = [op for op in OPERATIONS if op in change]
    if len(named) != 1:
        raise BadRequest(
            "Operation objects must contain exactly one member named 'add', 'remove' or 'replace'."
        )
    return named[0], change[named[0]]


def patch_ops(body: Any, media_type: str) -> list[PatchOp]:
    """The operations of a JSON-patch body in one of Glance's two patch media types."""
    if not isinstance(body, list):
        raise BadRequest("A JSON-patch body must be a list of operations.")
    legacy = media_type == PATCH_MEDIA_TYPE_V20
    ops: list[PatchOp] = []
    for change in body:
        if not isinstance(change, Mapping):
            raise BadRequest("Each JSON-patch operation must be an object.")
        op, pointer = _operation_v20(change) if legacy else _operation_v21(change)
        name = _property_of(pointer)
        patch.check_settable(name)
        if op == "remove":
            ops.append(PatchOp("remove", name))
            continue
        if "value" not in change:
            raise BadRequest(f"Operation {op!r} on /{name} must carry a 'value'.")
        value = check_value(name, change["value"])
        ops.append(PatchOp(op, name, value, add_only_new=legacy))
    return ops


class MemberCreate(BaseModel):
    """Glance reads ``member`` and ignores anything else (openstacksdk sends more)."""

    model_config = ConfigDict(extra="ignore")

    member: str = Field(min_length=1, max_length=MAX_STRING)


class MemberUpdate(BaseModel):
    model_config = ConfigDict(extra="ignore")

    status: MemberStatus
