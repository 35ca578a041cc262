"""``/v2/images/{id}/file``: upload and download, streamed chunk by chunk both ways.

The request body is read on the event loop and handed, one chunk at a time, to the service
running in a worker thread (which writes it to the backend); the download reads the backend's
chunks in a worker thread and sends each as it comes. Neither holds an image in memory.
"""

from __future__ import annotations

import re
from collections.abc import AsyncGenerator, AsyncIterator, Iterator

import anyio.from_thread
from fastapi import Request
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect
from starlette.responses import Response, StreamingResponse

from interstack.api.deps import Caller, ServicesDep
from interstack.api.regional import Region
from interstack.api.responses import empty_response
from interstack.errors import BadRequest, PayloadTooLarge, RangeNotSatisfiable, UnsupportedMediaType
from interstack.services.image.data import ImageData

UPLOAD_MEDIA_TYPE = "application/octet-stream"
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


async def _next_chunk(body: AsyncIterator[bytes]) -> bytes | None:
    try:
        return await body.__anext__()
    except StopAsyncIteration:
        return None
    except ClientDisconnect:
        raise BadRequest("The client closed the connection before the upload completed.") from None


def _body_chunks(request: Request) -> Iterator[bytes]:
    """The request body for code in a worker thread: each chunk is awaited on the event loop."""
    body = request.stream()
    while (chunk := anyio.from_thread.run(_next_chunk, body)) is not None:
        if chunk:
            yield chunk


async def upload_image_data(
    image_id: str, request: Request, region: Region, services: ServicesDep, caller: Caller
) -> Response:
    """PUT /v2/images/{image_id}/file — 204; queued -> saving -> active, or back to queued."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip()
    if media_type != UPLOAD_MEDIA_TYPE:
        raise UnsupportedMediaType(
            f"Unsupported Content-Type {media_type or '(none)'!r}: image data is uploaded as "
            f"{UPLOAD_MEDIA_TYPE}."
        )
    cap = services.image_data.size_cap
    declared = request.headers.get("content-length", "")
    if cap is not None and declared.isdigit() and int(declared) > cap:
        raise PayloadTooLarge(
            f"Image exceeds the storage limit: at most {cap} bytes may be uploaded."
        )
    size = int(declared) if declared.isdigit() else None
    await run_in_threadpool(
        services.image_data.upload, caller, region, image_id, _body_chunks(request), size
    )
    return empty_response(204)


def _byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The inclusive (first, last) byte of a single ``Range: bytes=a-b``, or None for all."""
    if header is None:
        return None
    match = _RANGE.match(header.strip())
    if match is None or match.group(1) == match.group(2) == "":
        raise RangeNotSatisfiable(f"Unsupported Range {header!r}: use one 'bytes=first-last'.")
    first_text, last_text = match.groups()
    if first_text == "":  # the last N bytes
        first, last = max(size - int(last_text), 0), size - 1
    else:
        first = int(first_text)
        last = min(int(last_text), size - 1) if last_text else size - 1
    if first > last or first >= size:
        raise RangeNotSatisfiable(f"Range {header!r} is outside the image's {size} bytes.")
    return first, last


async def _send(data: ImageData, first: int, last: int | None) -> AsyncGenerator[bytes, None]:
    """Bytes ``first..last`` of the image (to its end if ``last`` is None), read in a worker
    thread; closed however it ends."""
    chunks = data.chunks
    iterator = iter(chunks)
    offset = 0
    try:
        while last is None or offset <= last:
            chunk = await run_in_threadpool(next, iterator, None)
            if chunk is None:
                break
            start, offset = offset, offset + len(chunk)
            if offset <= first:
                continue
            end = None if last is None else last + 1 - start
            yield chunk[max(first - start, 0) : end]
    finally:
        await run_in_threadpool(chunks.close)


async def download_image_data(
    image_id: str, request: Request, region: Region, services: ServicesDep, caller: Caller
) -> Response:
    """GET /v2/images/{image_id}/file — the data with ``Content-MD5``; 204 while it has none.

    An image the cloud provides may not be measured yet (no size: its bytes are produced as
    they are sent, a built root streamed as a tarball): all of it is sent, chunked, and a
    ``Range`` is ignored, as HTTP lets a server do.
    """
    found = await run_in_threadpool(services.image_data.download, caller, region, image_id)
    if found is None:
        return empty_response(204)
    if found.image.size is None:
        return StreamingResponse(
            _send(found, 0, None),
            headers={"Accept-Ranges": "none"},
            media_type="application/octet-stream",
        )
    size = found.image.size
    try:
        wanted = _byte_range(request.headers.get("range"), size)
    except RangeNotSatisfiable:
        await run_in_threadpool(found.chunks.close)
        raise
    headers = {"Accept-Ranges": "bytes"}
    if found.image.checksum:
        headers["Content-MD5"] = found.image.checksum
    first, last = wanted or (0, size - 1)
    headers["Content-Length"] = str(last - first + 1)
    status = 200
    if wanted is not None:
        status = 206
        headers["Content-Range"] = f"bytes {first}-{last}/{size}"
    return StreamingResponse(
        _send(found, first, last),
        status_code=status,
        headers=headers,
        media_type="application/octet-stream",
    )
