"""Domain objects of object storage; the API layer turns them into Swift's headers and listings."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


@dataclass(frozen=True)
class Limits:
    """The constraints enforced (and published in ``/info``), Swift's defaults."""

    max_file_size: int = 5 * 1024**3
    max_meta_name_length: int = 128
    max_meta_value_length: int = 256
    max_meta_count: int = 90
    max_meta_overall_size: int = 4096
    max_header_size: int = 8192
    max_object_name_length: int = 1024
    max_container_name_length: int = 256
    container_listing_limit: int = 10_000
    account_listing_limit: int = 10_000
    max_manifest_segments: int = 1000
    max_manifest_size: int = 8 * 1024 * 1024
    min_segment_size: int = 1
    max_dlo_segments: int = 10_000
    max_deletes_per_request: int = 10_000
    max_failed_deletes: int = 1000
    max_bulk_body_size: int = 10_000 * 2048


@dataclass(frozen=True)
class ObjectPath:
    """Where a request points: region and account always, container and object when given."""

    region: str
    account: str  # the project id of ``AUTH_<project_id>``
    container: str = ""
    object: str = ""


@dataclass(frozen=True)
class MetaUpdate:
    """``X-<Kind>-Meta-<Key>: value`` headers to set and ``X-Remove-<Kind>-Meta-<Key>`` (or an
    empty value) to remove. Keys are lower-case."""

    set: dict[str, str] = field(default_factory=dict)
    remove: frozenset[str] = frozenset()

    def apply(self, current: dict[str, str]) -> dict[str, str]:
        merged = {k: v for k, v in current.items() if k not in self.remove}
        merged.update(self.set)
        return merged


@dataclass(frozen=True)
class AclUpdate:
    """New ``X-Container-Read`` / ``X-Container-Write`` values; None leaves one as it is, an
    empty string removes it."""

    read: str | None = None
    write: str | None = None


@dataclass(frozen=True)
class AccountView:
    project_id: str
    meta: dict[str, str]
    container_count: int
    object_count: int
    bytes_used: int
    created_at: datetime | None


class VersionsMode(StrEnum):
    """Swift's versioned writes: ``stack`` (``X-Versions-Location``: a DELETE brings the
    previous version back) or ``history`` (``X-History-Location``: a DELETE archives too)."""

    STACK = "stack"
    HISTORY = "history"


@dataclass(frozen=True)
class Versioning:
    """Where a container's older object versions go, and how."""

    location: str
    mode: VersionsMode


@dataclass(frozen=True)
class VersioningUpdate:
    """A container write's versioning headers (no update: left as it is); ``versioning``
    None turns versioning off."""

    versioning: Versioning | None


@dataclass(frozen=True)
class ContainerView:
    name: str
    meta: dict[str, str]
    read_acl: str | None
    write_acl: str | None
    object_count: int
    bytes_used: int
    created_at: datetime
    updated_at: datetime
    versioning: Versioning | None = None


class LargeKind(StrEnum):
    DYNAMIC = "dlo"
    STATIC = "slo"


@dataclass(frozen=True)
class ObjectView:
    """An object as clients see it. For a large object ``size`` and ``etag`` are the whole
    object's (Swift's combined ETag), computed when it is read."""

    name: str
    size: int
    etag: str
    content_type: str
    meta: dict[str, str]
    headers: dict[str, str]
    modified_at: datetime
    delete_at: int | None = None
    large: LargeKind | None = None
    manifest: str | None = None


@dataclass(frozen=True)
class Subdir:
    """A ``delimiter`` listing's collapsed prefix."""

    name: str


@dataclass(frozen=True)
class ContainerEntry:
    name: str
    count: int
    bytes: int
    last_modified: datetime


@dataclass(frozen=True)
class ObjectEntry:
    name: str
    bytes: int
    hash: str
    content_type: str
    last_modified: datetime


@dataclass(frozen=True)
class ListQuery:
    prefix: str = ""
    delimiter: str = ""
    marker: str = ""
    end_marker: str = ""
    limit: int = 10_000
    reverse: bool = False


@dataclass(frozen=True)
class PutSpec:
    """What an object PUT carries besides its bytes."""

    content_type: str
    meta: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    #: the client's ``ETag``: the upload fails with 422 if the bytes hash differently
    etag: str | None = None
    content_length: int | None = None
    delete_at: int | None = None
    #: ``X-Object-Manifest``: a dynamic large object of the segments under this prefix
    manifest: str | None = None
    #: ``If-None-Match: *``: fail with 412 if the object exists
    if_none_match_any: bool = False


@dataclass(frozen=True)
class BulkDeleteResult:
    """What a bulk delete did: counts, and (path, reason) of each failure."""

    deleted: int = 0
    not_found: int = 0
    errors: list[tuple[str, str]] = field(default_factory=list)

    def add(self, other: BulkDeleteResult) -> BulkDeleteResult:
        return BulkDeleteResult(
            self.deleted + other.deleted,
            self.not_found + other.not_found,
            [*self.errors, *other.errors],
        )
