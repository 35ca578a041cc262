"""HTTP ranges and conditions on object reads, as Swift answers them."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from starlette.datastructures import Headers

from interstack.errors import PreconditionFailed, RangeNotSatisfiable
from interstack.services.object.model import ObjectView

ByteRange = tuple[int, int]
"""[start, stop) of an object's bytes."""


def parse_range(header: str | None, size: int) -> list[ByteRange] | None:
    """The satisfiable ranges of a ``Range: bytes=...`` header; None to send the whole object
    (no header, or one that is not a valid byte range, which HTTP says to ignore).

    Raises 416 when the ranges are valid but none of them overlaps the object.
    """
    if not header:
        return None
    unit, _, spec = header.partition("=")
    if unit.strip().lower() != "bytes" or not spec.strip():
        return None
    ranges: list[ByteRange] = []
    for part in spec.split(","):
        first, dash, last = part.strip().partition("-")
        if not dash or (not first and not last):
            return None
        if not (first or "0").isdigit() or not (last or "0").isdigit():
            return None
        if not first:
            length = int(last)
            if length == 0:
                continue
            ranges.append((max(0, size - length), size))
            continue
        start = int(first)
        stop = size if not last else min(size, int(last) + 1)
        if last and int(last) < start:
            return None
        if start < size:
            ranges.append((start, stop))
    if not ranges:
        raise RangeNotSatisfiable("Requested Range Not Satisfiable")
    return ranges


def multipart(
    chunks: Iterator[Iterator[bytes]], ranges: list[ByteRange], size: int, content_type: str
) -> tuple[str, int, Iterator[bytes]]:
    """A ``multipart/byteranges`` body: boundary, length, and its parts streamed in order."""
    boundary = uuid.uuid4().hex
    heads = [
        (
            f"--{boundary}\r\nContent-Type: {content_type}\r\n"
            f"Content-Range: bytes {start}-{stop - 1}/{size}\r\n\r\n"
        ).encode()
        for start, stop in ranges
    ]
    tail = f"\r\n--{boundary}--\r\n".encode()
    length = sum(len(h) for h in heads) + sum(b - a for a, b in ranges)
    length += 2 * (len(ranges) - 1) + len(tail)

    def body() -> Iterator[bytes]:
        for index, (head, part) in enumerate(zip(heads, chunks, strict=False)):
            if index:
                yield b"\r\n"
            yield head
            yield from part

        yield tail

    return boundary, length, body()


def _etags(header: str) -> set[str]:
    return {tag.strip().removeprefix("W/").strip('"') for tag in header.split(",")}


def _date(header: str | None) -> datetime | None:
    if not header:
        return None
    try:
        return parsedate_to_datetime(header).astimezone(UTC)
    except (TypeError, ValueError):
        return None


def not_modified(headers: Headers, view: ObjectView) -> bool:
    """Evaluate If-Match / If-None-Match / If-(Un)Modified-Since: True means answer 304;
    a failed If-Match or If-Unmodified-Since is a 412."""
    modified = view.modified_at.replace(tzinfo=UTC)
    if_match = headers.get("if-match")
    if if_match is not None:
        tags = _etags(if_match)
        if "*" not in tags and view.etag not in tags:
            raise PreconditionFailed("Precondition Failed: the ETag does not match If-Match.")
    else:
        since = _date(headers.get("if-unmodified-since"))
        if since is not None and modified.replace(microsecond=0) > since:
            raise PreconditionFailed("Precondition Failed: modified since If-Unmodified-Since.")
    if_none_match = headers.get("if-none-match")
    if if_none_match is not None:
        tags = _etags(if_none_match)
        return "*" in tags or view.etag in tags
    since = _date(headers.get("if-modified-since"))
    return since is not None and modified.replace(microsecond=0) <= since
