"""Where an upload may go and how its bytes become the object.

An upload is bounded before any byte is read (file size, container and account quotas) and
written under a fresh backend name; :func:`publish` then points the object's row at those bytes
in one transaction and drops the bytes the row pointed at before. Plain uploads, static large
object manifests and versioned copies all end here.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from interstack.backends.contract import NativeRef
from interstack.errors import InterstackError, NotFound, PayloadTooLarge
from interstack.services.object import records
from interstack.services.object.common import QUOTA_BYTES, QUOTA_COUNT, Storage, quota_value
from interstack.services.object.model import LargeKind, ObjectPath, ObjectView, PutSpec, Versioning
from interstack.store.models import ObjectContainer, StoredObject

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Target:
    """The container an upload goes to, resolved and authorized before any byte is read."""

    container_id: str
    native_ref: NativeRef
    limit: int
    versioning: Versioning | None = None


@dataclass(frozen=True)
class Published:
    """The row fields of an upload that completed."""

    native_name: str
    size: int
    etag: str
    large: LargeKind | None = None


def upload_limit(
    session: Session, storage: Storage, path: ObjectPath, container: ObjectContainer, now: float
) -> int:
    """How many bytes one more object of ``container`` may hold: the file size limit, less
    what the container's and the account's byte quotas leave; a full object-count quota
    refuses it."""
    limit = storage.limits.max_file_size
    count, used = records.container_totals(session, [container.id], now).get(container.id, (0, 0))
    quota_count = quota_value(container.meta, QUOTA_COUNT, "Container")
    if quota_count is not None and count + 1 > quota_count:
        raise PayloadTooLarge("Upload exceeds quota: the container holds its maximum.")
    quota_bytes = quota_value(container.meta, QUOTA_BYTES, "Container")
    if quota_bytes is not None:
        limit = min(limit, quota_bytes - used)
    account = records.account_row(session, path.region, path.account)
    account_quota = quota_value(account.meta, QUOTA_BYTES, "Account") if account else None
    if account_quota is not None:
        _, _, account_used = records.account_totals(session, path.region, path.account, now)
        limit = min(limit, account_quota - account_used)
    return max(limit, -1)


def publish(
    storage: Storage, path: ObjectPath, target: Target, stored: Published, spec: PutSpec
) -> ObjectView:
    """Point the object's row at newly written bytes, then drop the bytes it replaced."""
    now = storage.now()
    fields = {
        "native_name": stored.native_name,
        "size": stored.size,
        "etag": stored.etag,
        "content_type": spec.content_type,
        "meta": dict(spec.meta),
        "headers": dict(spec.headers),
        "large": stored.large.value if stored.large else None,
        "manifest": spec.manifest,
        "delete_at": spec.delete_at,
        "modified_at": now,
    }
    replaced: str | None = None
    for attempt in range(2):
        try:
            with storage.db.session() as session:
                if session.get(ObjectContainer, target.container_id) is None:
                    raise NotFound(f"Container {path.container} was deleted meanwhile.")
                row = session.scalars(
                    select(StoredObject).where(
                        StoredObject.container_id == target.container_id,
                        StoredObject.name == path.object,
                    )
                ).first()
                if row is None:
                    row = StoredObject(
                        id=str(uuid.uuid4()),
                        container_id=target.container_id,
                        name=path.object,
                        **fields,
                    )
                    session.add(row)
                else:
                    replaced = row.native_name
                    for key, value in fields.items():
                        setattr(row, key, value)
                session.flush()
                view = records.object_view(row)
            break
        except IntegrityError:  # a concurrent upload of the same name inserted first
            if attempt:
                raise
    if replaced is not None and replaced != stored.native_name:
        drop_bytes(storage, path.region, target.native_ref, replaced)
    return view


def drop_bytes(storage: Storage, region: str, container: NativeRef, native_name: str) -> None:
    """Delete bytes no row points at any more; a failure is logged, never the caller's."""
    try:
        storage.driver(region).delete_object(container, native_name)
    except InterstackError as exc:
        log.warning("deleting replaced object bytes failed: %s", exc.message)


def too_large(storage: Storage, size: int | None) -> PayloadTooLarge:
    """The 413 for an upload of ``size`` bytes (None: it outgrew its quota while streaming)."""
    if size is not None and size > storage.limits.max_file_size:
        return PayloadTooLarge(
            f"Your request is too large: objects may hold at most "
            f"{storage.limits.max_file_size} bytes; upload larger ones in segments."
        )
    return PayloadTooLarge("Upload exceeds quota.")
