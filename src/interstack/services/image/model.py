"""What the image service hands out: frozen records and the enums of Glance v2."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class ImageStatus(StrEnum):
    QUEUED = "queued"
    SAVING = "saving"
    ACTIVE = "active"
    KILLED = "killed"
    DELETED = "deleted"
    PENDING_DELETE = "pending_delete"
    DEACTIVATED = "deactivated"
    UPLOADING = "uploading"
    IMPORTING = "importing"


class Visibility(StrEnum):
    PUBLIC = "public"
    PRIVATE = "private"
    SHARED = "shared"
    COMMUNITY = "community"


class MemberStatus(StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    REJECTED = "rejected"


DISK_FORMATS = ("ami", "ari", "aki", "vhd", "vhdx", "vmdk", "raw", "qcow2", "vdi", "iso", "ploop")
CONTAINER_FORMATS = ("ami", "ari", "aki", "bare", "ovf", "ova", "docker", "compressed")

#: the hash Glance records beside the legacy md5 ``checksum`` (its default ``hashing_algorithm``)
HASH_ALGO = "sha512"


@dataclass(frozen=True)
class ImageInfo:
    id: str
    region: str
    name: str | None
    owner: str | None
    status: ImageStatus
    visibility: Visibility
    protected: bool
    os_hidden: bool
    container_format: str | None
    disk_format: str | None
    size: int | None
    virtual_size: int | None
    checksum: str | None
    os_hash_algo: str | None
    os_hash_value: str | None
    min_disk: int
    min_ram: int
    tags: tuple[str, ...]
    properties: Mapping[str, Any]
    created_at: datetime
    updated_at: datetime
    has_data: bool = False


@dataclass(frozen=True)
class MemberInfo:
    image_id: str
    member_id: str
    status: MemberStatus
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class ImageFilters:
    """Filters of ``GET /v2/images``; empty or None means "not filtered".

    The tuple filters hold the accepted values (Glance's ``in:`` operator gives several); the time
    filters hold (operator, instant) pairs, operator one of ``eq neq gt gte lt lte``.
    """

    ids: tuple[str, ...] = ()
    names: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    container_formats: tuple[str, ...] = ()
    disk_formats: tuple[str, ...] = ()
    visibility: str | None = None
    owner: str | None = None
    size_min: int | None = None
    size_max: int | None = None
    tags: tuple[str, ...] = ()
    protected: bool | None = None
    os_hidden: bool = False
    #: for shared images: which membership status counts (``all`` for any)
    member_status: str = MemberStatus.ACCEPTED
    created_at: tuple[tuple[str, datetime], ...] = ()
    updated_at: tuple[tuple[str, datetime], ...] = ()
    #: core properties that must have exactly these values (``size``, ``checksum``...)
    exact: Mapping[str, str | int] = field(default_factory=dict)
    #: custom properties that must have exactly these (string) values
    properties: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class NewImage:
    """The body of an image create, validated by the API layer."""

    id: str | None = None
    name: str | None = None
    visibility: Visibility | None = None
    protected: bool = False
    os_hidden: bool = False
    container_format: str | None = None
    disk_format: str | None = None
    min_disk: int = 0
    min_ram: int = 0
    owner: str | None = None
    tags: tuple[str, ...] = ()
    properties: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PatchOp:
    """One JSON-patch operation on an image: ``op`` on the top-level property ``path``."""

    op: str  # add | replace | remove
    path: str
    value: Any = None
    #: ``add`` refuses a property that is present already (the deprecated v2.0 patch format)
    add_only_new: bool = False
