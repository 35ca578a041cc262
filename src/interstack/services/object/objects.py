"""Objects: uploads published only once complete, reads streamed, metadata, copies, deletes.

An upload is written to a fresh backend object (a temporary name); only when it is complete and
its checksum matches is the object's row pointed at it, and the bytes it replaced are deleted.
A failed or refused upload therefore never shows, and a reader always sees one whole version
(publishing.py holds the quota bounds and that last step).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from dataclasses import replace
from typing import Protocol

from sqlalchemy.orm import Session

from interstack.backends.contract import NativeRef
from interstack.errors import (
    BadRequest,
    InterstackError,
    NotFound,
    PreconditionFailed,
    UnprocessableEntity,
)
from interstack.services.object import large, records
from interstack.services.object.access import Operation, Requester, authorize
from interstack.services.object.common import Storage, check_meta
from interstack.services.object.data import MeasuredUpload, ObjectReader, cut
from interstack.services.object.model import (
    BulkDeleteResult,
    LargeKind,
    ObjectPath,
    ObjectView,
    PutSpec,
    Versioning,
)
from interstack.services.object.publishing import (
    Published,
    Target,
    drop_bytes,
    publish,
    too_large,
    upload_limit,
)
from interstack.store.models import ObjectContainer


class KEEP:
    """Marker: leave a field as it is."""


class Versions(Protocol):
    """Versioned writes (versioning.py), asked in when a versioned container's object is
    about to be replaced or is deleted."""

    def archive(self, requester: Requester, path: ObjectPath, versioning: Versioning) -> None: ...

    def delete(self, requester: Requester, path: ObjectPath, versioning: Versioning) -> None: ...


class ObjectService:
    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        #: set by the facade; None serves no versioning
        self.versions: Versions | None = None

    # locating and authorizing ---------------------------------------------------------------

    def _container(
        self, session: Session, requester: Requester, path: ObjectPath, operation: Operation
    ) -> ObjectContainer:
        row = records.container_row(session, path.region, path.account, path.container)
        authorize(
            requester,
            path,
            operation,
            row.read_acl if row else None,
            row.write_acl if row else None,
        )
        self.storage.driver(path.region)
        if row is None:
            raise NotFound(f"Container {path.container} not found.")
        return row

    def _check_name(self, name: str) -> None:
        if not name:
            raise BadRequest("An object name must not be empty.")
        if len(name.encode()) > self.storage.limits.max_object_name_length:
            raise BadRequest(
                f"Object name is longer than {self.storage.limits.max_object_name_length} bytes."
            )

    # uploads --------------------------------------------------------------------------------

    def _target(
        self, requester: Requester, path: ObjectPath, spec: PutSpec, *, new_bytes: int | None
    ) -> Target:
        """Authorize the upload and work out how many bytes it may hold (file size, quotas)."""
        self._check_name(path.object)
        check_meta(self.storage.limits, spec.meta, "Object")
        now = self.storage.clock()
        with self.storage.db.session() as session:
            container = self._container(session, requester, path, Operation.OBJECT_WRITE)
            if spec.if_none_match_any and records.object_row(
                session, container.id, path.object, now
            ):
                raise PreconditionFailed(f"Object {path.object} exists (If-None-Match: *).")
            target = Target(
                container.id,
                NativeRef(container.native_ref),
                upload_limit(session, self.storage, path, container, now),
                records.versioning_of(container),
            )
        if new_bytes is not None and new_bytes > target.limit:
            raise too_large(self.storage, new_bytes)
        return target

    def _archive(self, requester: Requester, path: ObjectPath, target: Target) -> None:
        """In a versioned container, the version about to be replaced goes to the archive."""
        if target.versioning is not None and self.versions is not None:
            self.versions.archive(requester, path, target.versioning)

    def put(
        self, requester: Requester, path: ObjectPath, data: Iterable[bytes], spec: PutSpec
    ) -> ObjectView:
        """Store an object from a stream; visible only once complete and checked."""
        if spec.manifest is not None:
            large.check_dlo_manifest(spec.manifest)
        target = self._target(requester, path, spec, new_bytes=spec.content_length)
        self._archive(requester, path, target)
        driver = self.storage.driver(path.region)
        native_name = uuid.uuid4().hex
        upload = MeasuredUpload(data, target.limit, lambda: too_large(self.storage, None))
        driver.put_object(target.native_ref, native_name, upload, spec.content_type)
        try:
            if spec.content_length is not None and upload.size != spec.content_length:
                raise BadRequest(
                    f"The body held {upload.size} bytes, not the {spec.content_length} "
                    "Content-Length announced."
                )
            if spec.etag is not None and spec.etag.strip('"').lower() != upload.md5:
                raise UnprocessableEntity(
                    "The body's MD5 does not match the ETag sent; nothing was stored."
                )
            kind = LargeKind.DYNAMIC if spec.manifest is not None else None
            stored = Published(native_name, upload.size, upload.md5, kind)
            return publish(self.storage, path, target, stored, spec)
        except BaseException:
            driver.delete_object(target.native_ref, native_name)
            raise

    def put_static_manifest(
        self, requester: Requester, path: ObjectPath, body: bytes, spec: PutSpec
    ) -> ObjectView:
        """``?multipart-manifest=put``: a static large object of the listed segments."""
        manifest = large.parse_slo_put(self.storage.limits, body)
        target = self._target(requester, path, spec, new_bytes=None)
        with self.storage.db.session() as session:
            self.authorize_segments(session, requester, path, {m.container for m in manifest})
            built = large.resolve_segments(session, self.storage, path, manifest)
        self._archive(requester, path, target)
        driver = self.storage.driver(path.region)
        native_name = uuid.uuid4().hex
        driver.put_object(target.native_ref, native_name, [built.stored], "application/json")
        try:
            stored = Published(native_name, built.size, built.etag, LargeKind.STATIC)
            return publish(self.storage, path, target, stored, replace(spec, manifest=None))
        except BaseException:
            driver.delete_object(target.native_ref, native_name)
            raise

    # reads ----------------------------------------------------------------------------------

    def open(
        self,
        requester: Requester,
        path: ObjectPath,
        *,
        read: bool = True,
        manifest: bool = False,
        whole: bool = True,
    ) -> ObjectReader:
        """The object for GET (``read``) or HEAD.

        For a GET of the ``whole`` object its bytes are opened now (so a concurrent replace
        cannot take them away); a ranged read opens them at its first byte instead.
        ``manifest`` (``?multipart-manifest=get``) gives a static large object's segment list
        instead of its content.
        """
        for _ in range(3):  # an upload may replace the bytes between the row read and the open
            with self.storage.db.session() as session:
                container = self._container(session, requester, path, Operation.OBJECT_READ)
                row = records.object_row(session, container.id, path.object, self.storage.clock())
                if row is None:
                    raise NotFound(f"Object {path.object} not found.")
                view = records.object_view(row)
                native = NativeRef(container.native_ref)
                native_name = row.native_name
                if view.large is LargeKind.DYNAMIC and not manifest:
                    reader = large.dlo_reader(
                        session, self.storage, path, view, self._segment_opener(path)
                    )
                    self.authorize_segments(session, requester, path, reader.segment_containers)
                    return reader
            if view.large is LargeKind.STATIC:
                reader = large.slo_reader(
                    self.storage,
                    path,
                    view,
                    native,
                    native_name,
                    self._segment_opener(path),
                    manifest=manifest,
                )
                with self.storage.db.session() as session:
                    self.authorize_segments(session, requester, path, reader.segment_containers)
                return reader
            if not read:
                return ObjectReader(view, lambda _a, _b: iter(()))
            try:
                return self._plain_reader(path.region, view, native, native_name, whole=whole)
            except NotFound:
                continue
        raise NotFound(f"Object {path.object} keeps changing; try again.")

    def _plain_reader(
        self, region: str, view: ObjectView, native: NativeRef, native_name: str, *, whole: bool
    ) -> ObjectReader:
        """Reads seek: a range is read from the backend at its offset, never from the start."""
        driver = self.storage.driver(region)
        pending = [driver.get_object(native, native_name)[1]] if whole else []

        def read(start: int, stop: int) -> Iterator[bytes]:
            if pending and start == 0:
                return cut(pending.pop(), 0, stop)
            while pending:
                pending.pop().close()
            if stop <= start:
                return iter(())
            try:
                _, stream = driver.get_object(native, native_name, start, stop - start)
            except NotFound:
                raise NotFound(f"Object {view.name} was replaced meanwhile; try again.") from None
            return cut(stream, 0, stop - start)

        return ObjectReader(view, read)

    def authorize_segments(
        self, session: Session, requester: Requester, path: ObjectPath, containers: Iterable[str]
    ) -> None:
        """A large object's reader (or writer) must be allowed to read its segments' containers
        as well, as Swift checks each segment request; a temp URL covers them, as in Swift."""
        if requester.temp_url is not None:
            return
        for name in sorted(set(containers) - {path.container}):
            row = records.container_row(session, path.region, path.account, name)
            authorize(
                requester,
                replace(path, container=name, object=""),
                Operation.OBJECT_READ,
                row.read_acl if row else None,
            )

    def _segment_opener(self, manifest_path: ObjectPath) -> large.SegmentOpener:
        """Segments are read once the requester was authorized for their containers (see
        :meth:`authorize_segments`), within the manifest's account."""

        def open_segment(container: str, name: str) -> ObjectReader:
            path = replace(manifest_path, container=container, object=name)
            return self.open(Requester(internal=True), path, whole=False)

        return open_segment

    # changes --------------------------------------------------------------------------------

    def update(
        self,
        requester: Requester,
        path: ObjectPath,
        meta: dict[str, str],
        *,
        content_type: str | None = None,
        headers: dict[str, str] | None = None,
        delete_at: int | type[KEEP] | None = KEEP,
        manifest: str | None = None,
    ) -> None:
        """POST: the object's user metadata becomes ``meta`` (Swift replaces all of it);
        ``manifest`` (``X-Object-Manifest``) makes it a dynamic large object."""
        check_meta(self.storage.limits, meta, "Object")
        if manifest is not None:
            large.check_dlo_manifest(manifest)
        with self.storage.db.session() as session:
            container = self._container(session, requester, path, Operation.OBJECT_WRITE)
            row = records.object_row(session, container.id, path.object, self.storage.clock())
            if row is None:
                raise NotFound(f"Object {path.object} not found.")
            row.meta = dict(meta)
            if content_type:
                row.content_type = content_type
            if headers:
                row.headers = {**row.headers, **headers}
            if delete_at is not KEEP:
                row.delete_at = delete_at  # type: ignore[assignment]
            if manifest is not None:
                if row.large == LargeKind.STATIC.value:
                    raise BadRequest("A static large object cannot become a dynamic one.")
                row.large, row.manifest = LargeKind.DYNAMIC.value, manifest
            row.modified_at = self.storage.now()

    def delete(self, requester: Requester, path: ObjectPath) -> None:
        """Delete the object (a large object's manifest only), or in a versioned container
        let its versioning decide."""
        with self.storage.db.session() as session:
            container = self._container(session, requester, path, Operation.OBJECT_WRITE)
            versioning = records.versioning_of(container)
        if versioning is not None and self.versions is not None:
            self.versions.delete(requester, path, versioning)
        else:
            self.remove(requester, path)

    def remove(self, requester: Requester, path: ObjectPath) -> ObjectView:
        """Delete the object's current version, whatever the container's versioning."""
        with self.storage.db.session() as session:
            container = self._container(session, requester, path, Operation.OBJECT_WRITE)
            row = records.object_row(session, container.id, path.object, self.storage.clock())
            if row is None:
                raise NotFound(f"Object {path.object} not found.")
            view = records.object_view(row)
            native, native_name = NativeRef(container.native_ref), row.native_name
            session.delete(row)
        drop_bytes(self.storage, path.region, native, native_name)
        return view

    def delete_static(self, requester: Requester, path: ObjectPath) -> BulkDeleteResult:
        """``?multipart-manifest=delete``: the segments of a static large object, then it."""
        reader = self.open(requester, path, read=False)
        if reader.view.large is not LargeKind.STATIC:
            self.delete(requester, path)
            return BulkDeleteResult(deleted=1)
        with self.storage.db.session() as session:
            container = self._container(session, requester, path, Operation.OBJECT_WRITE)
            row = records.object_row(session, container.id, path.object, self.storage.clock())
            if row is None:
                raise NotFound(f"Object {path.object} not found.")
            native, native_name = NativeRef(container.native_ref), row.native_name
        segments = large.manifest_segments(
            large.load_manifest(self.storage, path, native, native_name)
        )
        result = BulkDeleteResult()
        for segment in segments:
            target = replace(path, container=segment.container, object=segment.name)
            result = result.add(self.delete_quietly(requester, target))
        return result.add(self.delete_quietly(requester, path))

    def delete_quietly(self, requester: Requester, path: ObjectPath) -> BulkDeleteResult:
        try:
            self.delete(requester, path)
        except NotFound:
            return BulkDeleteResult(not_found=1)
        except InterstackError as exc:
            failure = (f"/{path.container}/{path.object}", f"{exc.status} {exc.title}")
            return BulkDeleteResult(errors=[failure])
        return BulkDeleteResult(deleted=1)

    def copy(
        self,
        requester: Requester,
        source: ObjectPath,
        destination: ObjectPath,
        spec: PutSpec,
        *,
        fresh_metadata: bool = False,
    ) -> tuple[ObjectView, ObjectView]:
        """Copy ``source`` (a large object's whole content) to ``destination``.

        The copy keeps the source's metadata and content type, updated by ``spec``'s (whose
        empty ``content_type`` means "the source's"), unless ``fresh_metadata``.
        """
        reader = self.open(requester, source)
        chunks = reader.chunks()
        try:
            src = reader.view
            meta = dict(spec.meta) if fresh_metadata else {**src.meta, **spec.meta}
            headers = {**src.headers, **spec.headers}
            copied = replace(
                spec,
                content_type=spec.content_type or src.content_type,
                meta=meta,
                headers=headers,
                content_length=src.size,
                etag=None,
                manifest=None,
            )
            return src, self.put(requester, destination, chunks, copied)
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
