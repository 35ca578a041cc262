"""Who a Swift request comes from and what it points at: account path, token or temp URL,
listing parameters, and the request body as a stream a worker thread can read."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Annotated

import anyio.from_thread
from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from interstack.api.deps import ServicesDep
from interstack.errors import BadRequest, Forbidden, PreconditionFailed
from interstack.services.identity.auth import context_of
from interstack.services.object.access import Requester
from interstack.services.object.model import ListQuery, ObjectPath

RESELLER_PREFIX = "AUTH_"


def object_path(region: str, account: str, container: str = "", name: str = "") -> ObjectPath:
    """The path of a request; an account outside ``AUTH_<project_id>`` is refused as in Swift."""
    if not account.startswith(RESELLER_PREFIX) or len(account) == len(RESELLER_PREFIX):
        raise Forbidden(f"Account {account} is not an AUTH_<project_id> account.")
    return ObjectPath(region, account[len(RESELLER_PREFIX) :], container, name)


def _signed_paths(request: Request) -> list[str]:
    """The forms of the path a temp URL may have been signed over: the gateway's full path,
    and Swift's own ``/v1/...`` part of it."""
    full = request.url.path
    marker = full.find("/v1/")
    return [full, full[marker:]] if marker > 0 else [full]


async def requester_of(request: Request, services: ServicesDep) -> Requester:
    """The caller by ``X-Auth-Token`` (or ``X-Storage-Token``); else a temp URL's grant; else
    anonymous, which container ACLs may still let read."""
    referrer = request.headers.get("referer")
    token = request.headers.get("x-auth-token") or request.headers.get("x-storage-token")
    if token:
        cached = services.auth.cached(token)
        context = (
            context_of(cached)
            if cached is not None
            else await run_in_threadpool(services.auth.context, token)
        )
        return Requester(context=context, referrer=referrer)
    query = request.query_params
    signature, expires = query.get("temp_url_sig"), query.get("temp_url_expires")
    if signature is None or expires is None:
        return Requester(referrer=referrer)
    params = request.path_params
    path = object_path(
        params["region"], params["account"], params.get("container", ""), params.get("name", "")
    )
    grant = await run_in_threadpool(
        services.object_storage.tempurl.verify,
        path,
        request.method,
        _signed_paths(request),
        signature,
        expires,
        query.get("temp_url_prefix"),
    )
    return Requester(temp_url=grant, referrer=referrer)


SwiftRequester = Annotated[Requester, Depends(requester_of)]


def list_query(request: Request, limit_max: int) -> ListQuery:
    params = request.query_params
    raw_limit = params.get("limit")
    limit = limit_max
    if raw_limit is not None:
        if not raw_limit.isdigit():
            raise BadRequest("Value of limit must be a non-negative integer.")
        limit = int(raw_limit)
        if limit > limit_max:
            raise PreconditionFailed(f"Maximum limit is {limit_max}.")
    delimiter = params.get("delimiter", "")
    if len(delimiter) > 1:
        raise PreconditionFailed("Bad delimiter: use a single character.")
    return ListQuery(
        prefix=params.get("prefix", ""),
        delimiter=delimiter,
        marker=params.get("marker", ""),
        end_marker=params.get("end_marker", ""),
        limit=limit,
        reverse=params.get("reverse", "").lower() in ("true", "1", "yes", "on", "t", "y"),
    )


class RequestBody:
    """The request body as a plain iterable for a worker thread: each chunk is awaited on the
    event loop, so an upload streams through with one chunk in hand at a time."""

    def __init__(self, request: Request) -> None:
        self._stream: AsyncIterator[bytes] = request.stream()

    async def _next(self) -> bytes | None:
        try:
            return await self._stream.__anext__()
        except StopAsyncIteration:
            return None

    def __iter__(self) -> Iterator[bytes]:
        while (chunk := anyio.from_thread.run(self._next)) is not None:
            yield chunk


async def read_bounded(request: Request, limit: int, what: str) -> bytes:
    """A small body read whole (manifests, bulk delete lists); 400 beyond ``limit``."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BadRequest(f"The {what} is larger than {limit} bytes.")
        chunks.append(chunk)
    return b"".join(chunks)
