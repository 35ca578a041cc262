"""Large objects as Swift builds them from segments.

- **Dynamic** (``X-Object-Manifest: container/prefix``): the segments are whatever objects of
  that container start with the prefix, in name order, when the object is read.
- **Static** (``?multipart-manifest=put``): a fixed list of segments (optionally byte ranges of
  them), checked when the manifest is stored; the manifest is the object's stored bytes.

Either way the ETag is Swift's: the MD5 of the segments' ETags concatenated (``etag:range;`` for
a static segment with a range), shown quoted.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import unquote

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from interstack.backends.contract import NativeRef
from interstack.errors import BackendError, BadRequest, InterstackError
from interstack.services.object import records
from interstack.services.object.common import Storage
from interstack.services.object.data import ObjectReader
from interstack.services.object.model import Limits, ObjectPath, ObjectView
from interstack.store.models import StoredObject

SegmentOpener = Callable[[str, str], ObjectReader]
"""Opens a segment (container, object name) of the manifest's account for reading."""


@dataclass(frozen=True)
class Segment:
    container: str
    name: str
    #: the bytes of the segment object this segment uses: [start, stop)
    start: int
    stop: int

    @property
    def length(self) -> int:
        return self.stop - self.start


def _reader(
    view: ObjectView, segments: list[Segment], opener: SegmentOpener, containers: set[str]
) -> ObjectReader:
    def read(start: int, stop: int) -> Iterator[bytes]:
        offset = 0
        for segment in segments:
            end = offset + segment.length
            if end > start and offset < stop:
                lo = segment.start + max(0, start - offset)
                hi = segment.start + min(segment.length, stop - offset)
                reader = opener(segment.container, segment.name)
                if reader.view.size < hi:
                    raise BackendError(f"segment {segment.name} changed; the object is broken")
                yield from reader.chunks(lo, hi)
            offset = end
            if offset >= stop:
                return

    return ObjectReader(view, read, frozenset(containers))


def combined_etag(parts: list[str]) -> str:
    return hashlib.md5("".join(parts).encode(), usedforsecurity=False).hexdigest()


# dynamic --------------------------------------------------------------------------------------


def split_dlo_manifest(manifest: str) -> tuple[str, str]:
    container, sep, prefix = unquote(manifest).lstrip("/").partition("/")
    if not container or not sep:
        raise BadRequest("X-Object-Manifest must be in the format container/prefix.")
    return container, prefix


def check_dlo_manifest(manifest: str) -> None:
    split_dlo_manifest(manifest)


def dlo_reader(
    session: Session, storage: Storage, path: ObjectPath, view: ObjectView, opener: SegmentOpener
) -> ObjectReader:
    container_name, prefix = split_dlo_manifest(view.manifest or "")
    segments: list[Segment] = []
    etags: list[str] = []
    container = records.container_row(session, path.region, path.account, container_name)
    if container is not None:
        query = (
            select(StoredObject)
            .where(
                StoredObject.container_id == container.id,
                StoredObject.name >= prefix,
                func.substr(StoredObject.name, 1, len(prefix)) == prefix,
                records.live(storage.clock()),
            )
            .order_by(StoredObject.name)
            .limit(storage.limits.max_dlo_segments)
        )
        for row in session.scalars(query):
            segments.append(Segment(container_name, row.name, 0, row.size))
            etags.append(row.etag)
    whole = replace(view, size=sum(s.length for s in segments), etag=combined_etag(etags))
    return _reader(whole, segments, opener, {container_name})


# static ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SegmentSpec:
    """One entry of a ``multipart-manifest=put`` body."""

    container: str
    name: str
    etag: str | None
    size_bytes: int | None
    range: str | None


@dataclass(frozen=True)
class BuiltManifest:
    stored: bytes
    size: int
    etag: str


def parse_slo_put(limits: Limits, body: bytes) -> list[SegmentSpec]:
    if len(body) > limits.max_manifest_size:
        raise BadRequest(f"Manifest is larger than {limits.max_manifest_size} bytes.")
    try:
        entries = json.loads(body)
    except ValueError:
        raise BadRequest("Manifest must be valid JSON: a list of segments.") from None
    if not isinstance(entries, list) or not entries:
        raise BadRequest("Manifest must be a non-empty JSON list of segments.")
    if len(entries) > limits.max_manifest_segments:
        raise BadRequest(f"Too many segments: at most {limits.max_manifest_segments}.")
    specs: list[SegmentSpec] = []
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict) or not isinstance(entry.get("path"), str):
            raise BadRequest(f"Index {index}: every segment needs a 'path' string.")
        container, _, name = entry["path"].lstrip("/").partition("/")
        if not container or not name:
            raise BadRequest(f"Index {index}: path must be /container/object.")
        size = entry.get("size_bytes")
        if size is not None and (not isinstance(size, int) or size < 0):
            raise BadRequest(f"Index {index}: size_bytes must be a non-negative integer.")
        etag = entry.get("etag")
        if etag is not None and not isinstance(etag, str):
            raise BadRequest(f"Index {index}: etag must be a string.")
        specs.append(SegmentSpec(container, name, etag, size, entry.get("range")))
    return specs


def _range(spec: str, size: int) -> tuple[int, int]:
    """A segment's ``range`` ("a-b", "a-", "-n") as [start, stop) within ``size`` bytes."""
    first, sep, last = spec.partition("-")
    try:
        if not sep:
            raise ValueError
        if not first:
            start, stop = max(0, size - int(last)), size
        else:
            start = int(first)
            stop = size if not last else min(size, int(last) + 1)
    except ValueError:
        raise BadRequest(f"Invalid segment range {spec!r}.") from None
    if start >= stop:
        raise BadRequest(f"Segment range {spec!r} selects no bytes.")
    return start, stop


def resolve_segments(
    session: Session, storage: Storage, path: ObjectPath, specs: list[SegmentSpec]
) -> BuiltManifest:
    """Check every segment exists and matches what the manifest says; 400 listing failures."""
    problems: list[str] = []
    stored: list[dict[str, Any]] = []
    etags: list[str] = []
    total = 0
    now = storage.clock()
    for index, spec in enumerate(specs):
        where = f"/{spec.container}/{spec.name}"
        container = records.container_row(session, path.region, path.account, spec.container)
        row = records.object_row(session, container.id, spec.name, now) if container else None
        if row is None:
            problems.append(f"{where}, 404 Not Found")
            continue
        if spec.etag is not None and spec.etag.strip('"') != row.etag:
            problems.append(f"{where}, Etag Mismatch")
        if spec.size_bytes is not None and spec.size_bytes != row.size:
            problems.append(f"{where}, Size Mismatch")
        if row.size < storage.limits.min_segment_size and index < len(specs) - 1:
            problems.append(f"{where}, Too Small; each segment must be at least 1 byte.")
        entry: dict[str, Any] = {
            "name": where,
            "hash": row.etag,
            "bytes": row.size,
            "content_type": row.content_type,
            "last_modified": row.modified_at.isoformat(timespec="microseconds"),
        }
        if spec.range is not None:
            start, stop = _range(spec.range, row.size)
            entry["range"] = f"{start}-{stop - 1}"
            etags.append(f"{row.etag}:{start}-{stop - 1};")
            total += stop - start
        else:
            etags.append(row.etag)
            total += row.size
        stored.append(entry)
    if problems:
        raise BadRequest("Errors:\n" + "\n".join(problems))
    return BuiltManifest(json.dumps(stored).encode(), total, combined_etag(etags))


def load_manifest(storage: Storage, path: ObjectPath, native: NativeRef, native_name: str) -> bytes:
    _, stream = storage.driver(path.region).get_object(native, native_name)
    try:
        data = b"".join(stream)
    finally:
        stream.close()
    if len(data) > storage.limits.max_manifest_size * 2:
        raise BackendError("a stored manifest is larger than any manifest accepted")
    return data


def manifest_segments(data: bytes) -> list[Segment]:
    segments: list[Segment] = []
    for entry in json.loads(data):
        container, _, name = entry["name"].lstrip("/").partition("/")
        start, stop = 0, int(entry["bytes"])
        if "range" in entry:
            first, _, last = entry["range"].partition("-")
            start, stop = int(first), int(last) + 1
        segments.append(Segment(container, name, start, stop))
    return segments


def slo_reader(
    storage: Storage,
    path: ObjectPath,
    view: ObjectView,
    native: NativeRef,
    native_name: str,
    opener: SegmentOpener,
    *,
    manifest: bool,
) -> ObjectReader:
    data = load_manifest(storage, path, native, native_name)
    if manifest:
        listing = replace(
            view,
            size=len(data),
            etag=hashlib.md5(data, usedforsecurity=False).hexdigest(),
            content_type="application/json; charset=utf-8",
        )
        return ObjectReader(listing, lambda start, stop: iter([data[start:stop]]))
    try:
        segments = manifest_segments(data)
    except (ValueError, KeyError) as exc:
        raise InterstackError("The stored manifest of this object is unreadable.") from exc
    return _reader(view, segments, opener, {s.container for s in segments})
