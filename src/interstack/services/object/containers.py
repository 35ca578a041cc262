"""Accounts and containers: metadata, ACLs, quotas, listings."""

from __future__ import annotations

import logging
import uuid

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from interstack.backends.contract import NativeRef
from interstack.errors import BadRequest, Conflict, Forbidden, NotFound
from interstack.services.object import records
from interstack.services.object.access import (
    Operation,
    Requester,
    authorize,
    validate_acl,
)
from interstack.services.object.common import (
    QUOTA_BYTES,
    QUOTA_COUNT,
    Storage,
    check_meta,
    quota_value,
)
from interstack.services.object.listing import list_names
from interstack.services.object.model import (
    AccountView,
    AclUpdate,
    ContainerEntry,
    ContainerView,
    ListQuery,
    MetaUpdate,
    ObjectEntry,
    ObjectPath,
    Subdir,
    VersioningUpdate,
)
from interstack.services.object.reaper import reap_container
from interstack.store.models import ObjectContainer, StoredObject

log = logging.getLogger(__name__)


def _container_name(storage: Storage, name: str) -> str:
    if not name or "/" in name:
        raise BadRequest("A container name must be non-empty and may not contain '/'.")
    if len(name.encode()) > storage.limits.max_container_name_length:
        raise BadRequest(
            f"Container name is longer than {storage.limits.max_container_name_length} bytes."
        )
    return name


class ContainerService:
    def __init__(self, storage: Storage) -> None:
        self.storage = storage

    # accounts -------------------------------------------------------------------------------

    def account(self, requester: Requester, path: ObjectPath) -> AccountView:
        authorize(requester, path, Operation.ACCOUNT_READ)
        self.storage.driver(path.region)
        with self.storage.db.session() as session:
            return records.account_view(session, path.region, path.account, self.storage.clock())

    def list_containers(
        self, requester: Requester, path: ObjectPath, query: ListQuery
    ) -> tuple[AccountView, list[ContainerEntry | Subdir]]:
        authorize(requester, path, Operation.ACCOUNT_READ)
        self.storage.driver(path.region)
        now = self.storage.clock()
        with self.storage.db.session() as session:
            view = records.account_view(session, path.region, path.account, now)
            base = select(ObjectContainer).where(
                ObjectContainer.region == path.region, ObjectContainer.project_id == path.account
            )
            page = list_names(session, base, ObjectContainer.name, query, lambda r: r.name)
            rows = [r for r in page if isinstance(r, ObjectContainer)]
            totals = records.container_totals(session, [r.id for r in rows], now)
            entries: list[ContainerEntry | Subdir] = []
            for item in page:
                if isinstance(item, Subdir):
                    entries.append(item)
                    continue
                count, size = totals.get(item.id, (0, 0))
                entries.append(ContainerEntry(item.name, count, size, item.updated_at))
        return view, entries

    def update_account(self, requester: Requester, path: ObjectPath, meta: MetaUpdate) -> None:
        authorize(requester, path, Operation.ACCOUNT_WRITE)
        quota_change = QUOTA_BYTES in meta.set or QUOTA_BYTES in meta.remove
        if quota_change and not requester.is_reseller:
            raise Forbidden("Only a reseller admin may set X-Account-Meta-Quota-Bytes.")
        self.storage.driver(path.region)
        with self.storage.db.session() as session:
            row = records.ensure_account(session, path.region, path.account)
            merged = meta.apply(row.meta)
            check_meta(self.storage.limits, merged, "Account")
            quota_value(merged, QUOTA_BYTES, "Account")
            row.meta = merged
            row.updated_at = self.storage.now()

    # containers -----------------------------------------------------------------------------

    def _row(self, session: Session, path: ObjectPath) -> ObjectContainer | None:
        return records.container_row(session, path.region, path.account, path.container)

    def create_container(
        self,
        requester: Requester,
        path: ObjectPath,
        meta: MetaUpdate,
        acl: AclUpdate,
        versions: VersioningUpdate | None = None,
    ) -> bool:
        """Create the container, or update the metadata of the existing one; True if created."""
        authorize(requester, path, Operation.CONTAINER_WRITE)
        name = _container_name(self.storage, path.container)
        check_meta(self.storage.limits, meta.apply({}), "Container")
        acl = _valid_acl(acl)
        versions = _valid_versions(self.storage, versions)
        driver = self.storage.driver(path.region)
        with self.storage.db.session() as session:
            row = self._row(session, path)
            if row is not None:
                _update(self.storage, row, meta, acl, versions)
                return False
        native = driver.create_container(path.account, name)
        now = self.storage.now()
        try:
            with self.storage.db.session() as session:
                records.ensure_account(session, path.region, path.account)
                merged = meta.apply({})
                quota_value(merged, QUOTA_BYTES, "Container")
                quota_value(merged, QUOTA_COUNT, "Container")
                session.add(
                    ObjectContainer(
                        id=str(uuid.uuid4()),
                        region=path.region,
                        project_id=path.account,
                        name=name,
                        native_ref=native,
                        meta=merged,
                        read_acl=acl.read or None,
                        write_acl=acl.write or None,
                        created_at=now,
                        updated_at=now,
                        **_versions_fields(versions),
                    )
                )
        except IntegrityError:  # created meanwhile by another request: update that one
            with self.storage.db.session() as session:
                existing = self._row(session, path)
                if existing is None:
                    raise
                _update(self.storage, existing, meta, acl, versions)
            return False
        return True

    def container(self, requester: Requester, path: ObjectPath) -> tuple[ContainerView, bool]:
        """The container and whether the requester owns it (ACL grantees see less)."""
        with self.storage.db.session() as session:
            row = self._row(session, path)
            owner = authorize(
                requester,
                path,
                Operation.LIST,
                row.read_acl if row else None,
                row.write_acl if row else None,
            )
            self.storage.driver(path.region)
            if row is None:
                raise NotFound(f"Container {path.container} not found.")
            return records.container_view(session, row, self.storage.clock()), owner

    def list_objects(
        self, requester: Requester, path: ObjectPath, query: ListQuery
    ) -> tuple[ContainerView, bool, list[ObjectEntry | Subdir]]:
        view, owner = self.container(requester, path)
        now = self.storage.clock()
        reap_container(self.storage, path)
        with self.storage.db.session() as session:
            row = self._row(session, path)
            if row is None:
                raise NotFound(f"Container {path.container} not found.")
            base = select(StoredObject).where(
                StoredObject.container_id == row.id, records.live(now)
            )
            page = list_names(session, base, StoredObject.name, query, lambda r: r.name)
            entries: list[ObjectEntry | Subdir] = [
                item
                if isinstance(item, Subdir)
                else ObjectEntry(
                    item.name, item.size, item.etag, item.content_type, item.modified_at
                )
                for item in page
            ]
        return view, owner, entries

    def update_container(
        self,
        requester: Requester,
        path: ObjectPath,
        meta: MetaUpdate,
        acl: AclUpdate,
        versions: VersioningUpdate | None = None,
    ) -> None:
        authorize(requester, path, Operation.CONTAINER_WRITE)
        acl = _valid_acl(acl)
        versions = _valid_versions(self.storage, versions)
        self.storage.driver(path.region)
        with self.storage.db.session() as session:
            row = self._row(session, path)
            if row is None:
                raise NotFound(f"Container {path.container} not found.")
            _update(self.storage, row, meta, acl, versions)

    def delete_container(self, requester: Requester, path: ObjectPath) -> None:
        authorize(requester, path, Operation.CONTAINER_WRITE)
        driver = self.storage.driver(path.region)
        reap_container(self.storage, path)
        with self.storage.db.session() as session:
            row = self._row(session, path)
            if row is None:
                raise NotFound(f"Container {path.container} not found.")
            count, _ = records.container_totals(session, [row.id], self.storage.clock()).get(
                row.id, (0, 0)
            )
            if count:
                raise Conflict(
                    f"There was a conflict when trying to complete your request: container "
                    f"{path.container} still holds {count} object(s); delete them first."
                )
            native = row.native_ref
            session.delete(row)
        try:
            driver.delete_container(NativeRef(native))
        except Conflict:
            log.warning("backend container of %s still holds data; left in place", path.container)


def _valid_acl(acl: AclUpdate) -> AclUpdate:
    return AclUpdate(
        read=None if acl.read is None else validate_acl(acl.read, write=False),
        write=None if acl.write is None else validate_acl(acl.write, write=True),
    )


def _valid_versions(storage: Storage, versions: VersioningUpdate | None) -> VersioningUpdate | None:
    if versions is None or versions.versioning is None:
        return versions
    _container_name(storage, versions.versioning.location)
    return versions


def _versions_fields(versions: VersioningUpdate | None) -> dict[str, str | None]:
    chosen = versions.versioning if versions is not None else None
    return {
        "versions_location": chosen.location if chosen else None,
        "versions_mode": chosen.mode.value if chosen else None,
    }


def _update(
    storage: Storage,
    row: ObjectContainer,
    meta: MetaUpdate,
    acl: AclUpdate,
    versions: VersioningUpdate | None = None,
) -> None:
    if versions is not None:
        for key, value in _versions_fields(versions).items():
            setattr(row, key, value)
    merged = meta.apply(row.meta)
    check_meta(storage.limits, merged, "Container")
    quota_value(merged, QUOTA_BYTES, "Container")
    quota_value(merged, QUOTA_COUNT, "Container")
    row.meta = merged
    if acl.read is not None:
        row.read_acl = acl.read or None
    if acl.write is not None:
        row.write_acl = acl.write or None
    row.updated_at = storage.now()
