"""Handlers of ``/v1/AUTH_<project>/<container>/<object>``."""

from __future__ import annotations

from dataclasses import replace
from urllib.parse import quote, unquote

from fastapi import Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response, StreamingResponse

from interstack.api.deps import ServicesDep
from interstack.api.object import bulk, views
from interstack.api.object.headers import (
    content_type,
    delete_at,
    kept_headers,
    object_meta,
    put_spec,
    truthy,
)
from interstack.api.object.ranges import multipart, not_modified, parse_range
from interstack.api.object.requests import (
    RESELLER_PREFIX,
    RequestBody,
    SwiftRequester,
    object_path,
    read_bounded,
)
from interstack.api.object.streaming import in_batches
from interstack.api.regional import Region
from interstack.errors import BadRequest
from interstack.services.object.access import Requester
from interstack.services.object.data import ObjectReader
from interstack.services.object.model import ObjectPath, ObjectView
from interstack.services.object.objects import KEEP


def _manifest_query(request: Request) -> str | None:
    return request.query_params.get("multipart-manifest")


def _object_headers(view: ObjectView, who: Requester) -> dict[str, str]:
    """The headers GET and HEAD answer with, the whole object's length in Content-Length (a
    ranged GET changes it). A temp URL's user sees no object metadata but
    ``X-Object-Meta-Public-*``, as in Swift."""
    headers = views.object_headers(view)
    if who.temp_url is not None:
        headers = {
            k: v
            for k, v in headers.items()
            if not k.startswith("X-Object-Meta-") or k.startswith("X-Object-Meta-Public-")
        }
    headers["Content-Length"] = str(view.size)
    return headers


def _unchanged(request: Request, view: ObjectView, headers: dict[str, str]) -> Response | None:
    """304 with the ETag when the caller's copy is current (If-None-Match, If-Modified-Since)."""
    if not_modified(request.headers, view):
        return Response(status_code=304, headers={"ETag": headers["ETag"]})
    return None


async def _open(
    request: Request, path: ObjectPath, services: ServicesDep, who: Requester, *, read: bool
) -> ObjectReader:
    return await run_in_threadpool(
        services.object_storage.objects.open,
        who,
        path,
        read=read,
        manifest=_manifest_query(request) == "get",
        whole="range" not in request.headers,
    )


def _close(reader: ObjectReader) -> None:
    """Release a reader opened for a GET that ends without a body (304, 412, 416)."""
    for chunk in reader.chunks(0, 0):
        del chunk


async def get_object(
    request: Request,
    region: Region,
    account: str,
    container: str,
    name: str,
    services: ServicesDep,
    who: SwiftRequester,
) -> Response:
    """GET — the object's bytes, whole or in ranges; large objects streamed segment by segment."""
    path = object_path(region, account, container, name)
    reader = await _open(request, path, services, who, read=True)
    view = reader.view
    headers = _object_headers(view, who)
    try:
        unchanged = _unchanged(request, view, headers)
        if unchanged is not None:
            _close(reader)
            return unchanged
        ranges = parse_range(request.headers.get("range"), view.size)
    except Exception:
        _close(reader)
        raise
    if ranges is None:
        return StreamingResponse(in_batches(reader.chunks()), status_code=200, headers=headers)
    if len(ranges) == 1:
        start, stop = ranges[0]
        headers["Content-Length"] = str(stop - start)
        headers["Content-Range"] = f"bytes {start}-{stop - 1}/{view.size}"
        body = await run_in_threadpool(reader.chunks, start, stop)  # opens at ``start``
        return StreamingResponse(in_batches(body), status_code=206, headers=headers)
    parts = (reader.chunks(start, stop) for start, stop in ranges)
    boundary, length, body = multipart(parts, ranges, view.size, view.content_type)
    headers["Content-Type"] = f"multipart/byteranges;boundary={boundary}"
    headers["Content-Length"] = str(length)
    return StreamingResponse(in_batches(body), status_code=206, headers=headers)


async def head_object(
    request: Request,
    region: Region,
    account: str,
    container: str,
    name: str,
    services: ServicesDep,
    who: SwiftRequester,
) -> Response:
    """HEAD — the object's headers, its size in Content-Length."""
    path = object_path(region, account, container, name)
    reader = await _open(request, path, services, who, read=False)
    headers = _object_headers(reader.view, who)
    return _unchanged(request, reader.view, headers) or Response(status_code=200, headers=headers)


def _copy_source(raw: str, region: str, account: str) -> ObjectPath:
    container, _, name = unquote(raw).lstrip("/").partition("/")
    if not container or not name:
        raise BadRequest("X-Copy-From / COPY source must be in the form container/object.")
    return ObjectPath(region, account, container, name)


async def put_object(
    request: Request,
    region: Region,
    account: str,
    container: str,
    name: str,
    services: ServicesDep,
    who: SwiftRequester,
) -> Response:
    """PUT — store the body (streamed), copy (``X-Copy-From``) or a static large object."""
    path = object_path(region, account, container, name)
    store = services.object_storage
    copy_from = request.headers.get("x-copy-from")
    if copy_from is not None:
        source = _copy_source(copy_from, region, path.account)
        return await _copy(request, services, who, source, path)
    spec = put_spec(request.headers, name, store.storage.clock())
    if _manifest_query(request) == "put":
        body = await read_bounded(request, store.limits.max_manifest_size, "manifest")
        view = await run_in_threadpool(store.objects.put_static_manifest, who, path, body, spec)
        return _created(view, {})
    view = await run_in_threadpool(store.objects.put, who, path, RequestBody(request), spec)
    return _created(view, {})


def _copied_headers(source: ObjectPath, copied: ObjectView, target: ObjectPath) -> dict[str, str]:
    """What a copy tells of its source, as Swift's copy middleware does."""
    headers = {
        "X-Copied-From": quote(f"{source.container}/{source.object}"),
        "X-Copied-From-Last-Modified": views.http_date(copied.modified_at),
    }
    if source.account != target.account:
        headers["X-Copied-From-Account"] = f"{RESELLER_PREFIX}{source.account}"
    return headers


def _created(view: ObjectView, extra: dict[str, str]) -> Response:
    headers = {
        "ETag": views.etag(view),
        "Last-Modified": views.http_date(view.modified_at),
        "X-Timestamp": views.x_timestamp(view.modified_at),
        **extra,
    }
    return Response(status_code=201, headers=headers)


async def copy_object(
    request: Request,
    region: Region,
    account: str,
    container: str,
    name: str,
    services: ServicesDep,
    who: SwiftRequester,
) -> Response:
    """COPY — copy this object to ``Destination: container/object``."""
    destination = request.headers.get("destination")
    if not destination:
        raise BadRequest("COPY needs a Destination header: container/object.")
    source = object_path(region, account, container, name)
    target_account = request.headers.get("destination-account", account)
    target = _copy_source(destination, region, object_path(region, target_account).account)
    return await _copy(request, services, who, source, target)


async def _copy(
    request: Request, services: ServicesDep, who: Requester, source: ObjectPath, target: ObjectPath
) -> Response:
    """Copy ``source`` to ``target`` with the request's metadata (PUT with ``X-Copy-From``, or
    COPY): 201 with what Swift's copy middleware tells of the source."""
    store = services.object_storage
    spec = put_spec(request.headers, target.object, store.storage.clock(), body=False)
    if "content-type" not in request.headers:
        spec = replace(spec, content_type="")
    copied, view = await run_in_threadpool(
        store.objects.copy,
        who,
        source,
        target,
        spec,
        fresh_metadata=truthy(request.headers.get("x-fresh-metadata")),
    )
    return _created(view, _copied_headers(source, copied, target))


async def post_object(
    request: Request,
    region: Region,
    account: str,
    container: str,
    name: str,
    services: ServicesDep,
    who: SwiftRequester,
) -> Response:
    """POST — replace the object's metadata (and Content-Type, expiry)."""
    path = object_path(region, account, container, name)
    headers = request.headers
    store = services.object_storage
    expiry: int | type[KEEP] | None = KEEP
    if "x-remove-delete-at" in headers:
        expiry = None
    elif "x-delete-at" in headers or "x-delete-after" in headers:
        expiry = delete_at(headers, store.storage.clock())
    await run_in_threadpool(
        store.objects.update,
        who,
        path,
        object_meta(headers),
        content_type=content_type(headers, name) if "content-type" in headers else None,
        headers=kept_headers(headers),
        delete_at=expiry,
        manifest=headers.get("x-object-manifest"),
    )
    return Response(status_code=202)


async def delete_object(
    request: Request,
    region: Region,
    account: str,
    container: str,
    name: str,
    services: ServicesDep,
    who: SwiftRequester,
) -> Response:
    """DELETE — 204; ``?multipart-manifest=delete`` takes a static large object's segments too."""
    path = object_path(region, account, container, name)
    objects = services.object_storage.objects
    if _manifest_query(request) == "delete":
        result = await run_in_threadpool(objects.delete_static, who, path)
        return bulk.result_response(request, result)
    await run_in_threadpool(objects.delete, who, path)
    return Response(status_code=204)
