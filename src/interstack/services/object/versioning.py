"""Versioned writes, as Swift's versioned_writes middleware keeps them.

A container names an archive container in the same account. Before an object of it is
replaced, its current version is copied to the archive as ``<3 hex digits: name length><name>/
<timestamp>``, so the archive lists an object's versions oldest first. A DELETE then depends on
the mode: ``stack`` (``X-Versions-Location``) brings the newest archived version back in place;
``history`` (``X-History-Location``) archives the current version too, with a delete marker
after it, and deletes the object. Versions are copied as stored: a large object's manifest,
not its content.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from interstack.backends.contract import NativeRef
from interstack.errors import NotFound, PreconditionFailed
from interstack.services.object import records
from interstack.services.object.access import Operation, Requester, authorize
from interstack.services.object.model import (
    LargeKind,
    ObjectPath,
    PutSpec,
    Versioning,
    VersionsMode,
)
from interstack.services.object.objects import ObjectService
from interstack.services.object.publishing import Published, Target, publish
from interstack.store.models import ObjectContainer, StoredObject

#: what Swift names the zero-byte object that records a deletion in history mode
DELETE_MARKER = "application/x-deleted;swift_versions_deleted=1"
_EMPTY_MD5 = hashlib.md5(b"", usedforsecurity=False).hexdigest()


def version_prefix(name: str) -> str:
    """The archive names of an object's versions start so (its length keeps names apart)."""
    return f"{len(name.encode()):03x}{name}/"


def version_name(name: str, moment: datetime) -> str:
    seconds = moment.replace(tzinfo=UTC).timestamp()
    return f"{version_prefix(name)}{seconds:016.5f}"


@dataclass(frozen=True)
class _Version:
    """One stored version, as read from its row: where its bytes are and what it carries."""

    native: NativeRef
    native_name: str
    fields: Published
    spec: PutSpec
    modified_at: datetime

    @classmethod
    def of(cls, row: StoredObject, container: ObjectContainer) -> _Version:
        large = LargeKind(row.large) if row.large else None
        return cls(
            native=NativeRef(container.native_ref),
            native_name=row.native_name,
            fields=Published(row.native_name, row.size, row.etag, large),
            spec=PutSpec(
                content_type=row.content_type,
                meta=dict(row.meta),
                headers=dict(row.headers),
                manifest=row.manifest,
            ),
            modified_at=row.modified_at,
        )


class VersionedWrites:
    """The :class:`~interstack.services.object.objects.Versions` that the object service asks
    before it replaces or deletes an object of a versioned container."""

    def __init__(self, objects: ObjectService) -> None:
        self.objects = objects
        self.storage = objects.storage

    # the archive ------------------------------------------------------------------------------

    def _archive_target(
        self, session: Session, requester: Requester, path: ObjectPath, versioning: Versioning
    ) -> Target:
        """The archive container, which must exist and be writable by the requester."""
        archive = records.container_row(session, path.region, path.account, versioning.location)
        if archive is None:
            raise PreconditionFailed(
                f"The versions container {versioning.location} does not exist; create it "
                f"before writing to {path.container}."
            )
        where = replace(path, container=archive.name, object="")
        authorize(requester, where, Operation.OBJECT_WRITE, archive.read_acl, archive.write_acl)
        limit = self.storage.limits.max_file_size
        return Target(archive.id, NativeRef(archive.native_ref), limit)

    def _current(self, session: Session, path: ObjectPath) -> _Version | None:
        container = records.container_row(session, path.region, path.account, path.container)
        if container is None:
            return None
        row = records.object_row(session, container.id, path.object, self.storage.clock())
        return _Version.of(row, container) if row is not None else None

    def _store(self, path: ObjectPath, target: Target, version: _Version) -> None:
        """Copy a version's stored bytes and fields to ``path`` in ``target``'s container."""
        driver = self.storage.driver(path.region)
        native_name = uuid.uuid4().hex
        _, stream = driver.get_object(version.native, version.native_name)
        try:
            driver.put_object(target.native_ref, native_name, stream, version.spec.content_type)
        finally:
            stream.close()
        try:
            stored = replace(version.fields, native_name=native_name)
            publish(self.storage, path, target, stored, version.spec)
        except BaseException:
            driver.delete_object(target.native_ref, native_name)
            raise

    def archive(self, requester: Requester, path: ObjectPath, versioning: Versioning) -> None:
        """Before ``path`` is replaced: its current version (if any) goes to the archive."""
        with self.storage.db.session() as session:
            current = self._current(session, path)
            if current is None:
                return
            target = self._archive_target(session, requester, path, versioning)
        archived = replace(
            path,
            container=versioning.location,
            object=version_name(path.object, current.modified_at),
        )
        self._store(archived, target, current)

    # deletes ----------------------------------------------------------------------------------

    def delete(self, requester: Requester, path: ObjectPath, versioning: Versioning) -> None:
        if versioning.mode is VersionsMode.HISTORY:
            self._delete_into_history(requester, path, versioning)
        else:
            self._delete_from_stack(requester, path, versioning)

    def _delete_into_history(
        self, requester: Requester, path: ObjectPath, versioning: Versioning
    ) -> None:
        """History mode: archive the current version, then a delete marker, then delete it."""
        with self.storage.db.session() as session:
            if self._current(session, path) is None:
                raise NotFound(f"Object {path.object} not found.")
            target = self._archive_target(session, requester, path, versioning)
        self.archive(requester, path, versioning)
        marker = replace(
            path,
            container=versioning.location,
            object=version_name(path.object, self.storage.now()),
        )
        driver = self.storage.driver(path.region)
        native_name = uuid.uuid4().hex
        driver.put_object(target.native_ref, native_name, [b""], DELETE_MARKER)
        try:
            stored = Published(native_name, 0, _EMPTY_MD5)
            publish(self.storage, marker, target, stored, PutSpec(content_type=DELETE_MARKER))
        except BaseException:
            driver.delete_object(target.native_ref, native_name)
            raise
        self.objects.remove(requester, path)

    def _delete_from_stack(
        self, requester: Requester, path: ObjectPath, versioning: Versioning
    ) -> None:
        """Stack mode: the newest archived version replaces the current one and leaves the
        archive (a delete marker there keeps the object deleted); with none archived, this is
        a plain delete."""
        with self.storage.db.session() as session:
            archive = records.container_row(session, path.region, path.account, versioning.location)
            newest = _newest_version(session, archive, path.object, self.storage.clock())
            if archive is None or newest is None:
                popped = None
            else:
                self._archive_target(session, requester, path, versioning)
                popped = (_Version.of(newest, archive), newest.name, newest.content_type)
                home = records.container_row(session, path.region, path.account, path.container)
                if home is None:
                    raise NotFound(f"Container {path.container} not found.")
                here = Target(home.id, NativeRef(home.native_ref), 0)
        if popped is None:
            self.objects.remove(requester, path)
            return
        version, archived_name, content_type = popped
        archived = replace(path, container=versioning.location, object=archived_name)
        if content_type == DELETE_MARKER:
            self.objects.remove(Requester(internal=True), archived)
            self.objects.remove(requester, path)
            return
        self._store(path, here, version)
        self.objects.remove(Requester(internal=True), archived)


def _newest_version(
    session: Session, archive: ObjectContainer | None, name: str, now: float
) -> StoredObject | None:
    """The archive's newest version of ``name`` (names sort by time within the prefix)."""
    if archive is None:
        return None
    prefix = version_prefix(name)
    return session.scalars(
        select(StoredObject)
        .where(
            StoredObject.container_id == archive.id,
            StoredObject.name.startswith(prefix, autoescape=True),
            records.live(now),
        )
        .order_by(StoredObject.name.desc())
        .limit(1)
    ).first()
