"""Applying JSON-patch changes to an image, with Glance's rules for each property.

Values arrive validated (types, enums, lengths) by the API layer; what is decided here is whether
a property may be changed at all, by whom and in which state.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session

from interstack.errors import BadRequest, Conflict, Forbidden
from interstack.services.context import RequestContext
from interstack.services.image.model import ImageStatus, PatchOp, Visibility
from interstack.services.image.records import now
from interstack.store.models import Image

#: core properties a user may write (``tags`` is kept in its own table)
WRITABLE = frozenset(
    {
        "name",
        "visibility",
        "protected",
        "os_hidden",
        "container_format",
        "disk_format",
        "min_disk",
        "min_ram",
        "owner",
        "tags",
    }
)
READ_ONLY = frozenset(
    {
        "id",
        "status",
        "checksum",
        "os_hash_algo",
        "os_hash_value",
        "size",
        "virtual_size",
        "created_at",
        "updated_at",
        "direct_url",
        "self",
        "file",
        "schema",
        "locations",
        "stores",
    }
)
RESERVED = frozenset({"location", "deleted", "deleted_at"})


def check_settable(name: str) -> None:
    """403 for properties nobody may set (on create and on update)."""
    if name in READ_ONLY:
        raise Forbidden(f"Attribute '{name}' is read-only.")
    if name in RESERVED or name.startswith("os_glance"):
        raise Forbidden(f"Attribute '{name}' is reserved.")


def check_visibility(ctx: RequestContext, visibility: str | None) -> None:
    if visibility == Visibility.PUBLIC and not ctx.is_admin:
        raise Forbidden("You are not authorized to publicize an image; only admins may.")


def check_owner(ctx: RequestContext, owner: str | None) -> None:
    if owner is not None and owner != ctx.project_id and not ctx.is_admin:
        raise Forbidden("You are not permitted to create or move an image for another project.")


def _set_core(ctx: RequestContext, row: Image, name: str, value: Any) -> None:
    if name == "visibility":
        check_visibility(ctx, value)
    elif name == "owner":
        check_owner(ctx, value)
    elif (
        name in ("container_format", "disk_format")
        and row.status != ImageStatus.QUEUED
        and getattr(row, name) != value
    ):
        raise Forbidden(f"Attribute {name} can be only replaced for a queued image.")
    setattr(row, name, value)


def apply(
    session: Session, ctx: RequestContext, row: Image, tags: list[str], ops: Sequence[PatchOp]
) -> list[str]:
    """Apply ``ops`` in order to ``row`` and to ``tags``; returns the new tag list."""
    properties = dict(row.properties or {})
    for change in ops:
        name = change.path
        check_settable(name)
        if change.op == "remove":
            if name in WRITABLE:
                raise Forbidden(f"Property {name} may not be removed.")
            if name not in properties:
                raise Conflict(f"Property {name} does not exist.")
            del properties[name]
        elif (
            change.add_only_new and change.op == "add" and (name in WRITABLE or name in properties)
        ):
            raise Conflict(f"Property {name} already present.")
        elif name == "tags":
            tags = list(dict.fromkeys(change.value))
        elif name in WRITABLE:
            _set_core(ctx, row, name, change.value)
        elif change.op == "replace" and name not in properties:
            raise Conflict(f"Property {name} does not exist.")
        elif change.op in ("add", "replace"):
            properties[name] = change.value
        else:
            raise BadRequest(f"Unsupported JSON-patch operation {change.op!r}.")
    row.properties = properties
    row.updated_at = now()
    session.flush()
    return tags
