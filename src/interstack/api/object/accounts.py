"""Handlers of ``/v1/AUTH_<project>``: account metadata and its container listing; bulk delete."""

from __future__ import annotations

from fastapi import Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from interstack.api.deps import ServicesDep
from interstack.api.object import bulk, views
from interstack.api.object.headers import meta_update
from interstack.api.object.requests import SwiftRequester, list_query, object_path
from interstack.api.regional import Region


async def show_account(
    request: Request, region: Region, account: str, services: ServicesDep, who: SwiftRequester
) -> Response:
    """GET — the account's containers, in the format asked for."""
    path = object_path(region, account)
    store = services.object_storage
    query = list_query(request, store.limits.account_listing_limit)
    view, entries = await run_in_threadpool(store.containers.list_containers, who, path, query)
    return views.listing(request, "account", account, entries, views.account_headers(view))


async def head_account(
    request: Request, region: Region, account: str, services: ServicesDep, who: SwiftRequester
) -> Response:
    """HEAD — counts, bytes used and metadata."""
    path = object_path(region, account)
    view = await run_in_threadpool(services.object_storage.containers.account, who, path)
    return views.head_response(request, views.account_headers(view))


async def post_account(
    request: Request, region: Region, account: str, services: ServicesDep, who: SwiftRequester
) -> Response:
    """POST — set or remove ``X-Account-Meta-*``; ``?bulk-delete`` deletes many objects."""
    path = object_path(region, account)
    if "bulk-delete" in request.query_params:
        return await bulk.bulk_delete(request, path, services, who)
    update = meta_update(request.headers, "account")
    await run_in_threadpool(services.object_storage.containers.update_account, who, path, update)
    return Response(status_code=204)
