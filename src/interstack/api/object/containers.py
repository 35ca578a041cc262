"""Handlers of ``/v1/AUTH_<project>/<container>``."""

from __future__ import annotations

from fastapi import Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from interstack.api.deps import ServicesDep
from interstack.api.object import views
from interstack.api.object.headers import container_changes
from interstack.api.object.requests import SwiftRequester, list_query, object_path
from interstack.api.regional import Region


async def create_container(
    request: Request,
    region: Region,
    account: str,
    container: str,
    services: ServicesDep,
    who: SwiftRequester,
) -> Response:
    """PUT — 201 when created, 202 when it existed (its metadata is updated)."""
    path = object_path(region, account, container)
    changes = container_changes(request.headers)
    created = await run_in_threadpool(
        services.object_storage.containers.create_container, who, path, *changes
    )
    return Response(status_code=201 if created else 202)


async def list_objects(
    request: Request,
    region: Region,
    account: str,
    container: str,
    services: ServicesDep,
    who: SwiftRequester,
) -> Response:
    """GET — the container's objects, in the format asked for."""
    path = object_path(region, account, container)
    store = services.object_storage
    query = list_query(request, store.limits.container_listing_limit)
    view, owner, entries = await run_in_threadpool(store.containers.list_objects, who, path, query)
    headers = views.container_headers(view, owner)
    return views.listing(request, "container", container, entries, headers)


async def head_container(
    request: Request,
    region: Region,
    account: str,
    container: str,
    services: ServicesDep,
    who: SwiftRequester,
) -> Response:
    """HEAD — counts, bytes used, metadata and (to the owner) ACLs."""
    path = object_path(region, account, container)
    view, owner = await run_in_threadpool(services.object_storage.containers.container, who, path)
    return views.head_response(request, views.container_headers(view, owner))


async def post_container(
    request: Request,
    region: Region,
    account: str,
    container: str,
    services: ServicesDep,
    who: SwiftRequester,
) -> Response:
    """POST — set or remove metadata, ACLs and quotas."""
    path = object_path(region, account, container)
    changes = container_changes(request.headers)
    await run_in_threadpool(
        services.object_storage.containers.update_container, who, path, *changes
    )
    return Response(status_code=204)


async def delete_container(
    region: Region, account: str, container: str, services: ServicesDep, who: SwiftRequester
) -> Response:
    """DELETE — 204; 409 while it holds objects."""
    path = object_path(region, account, container)
    await run_in_threadpool(services.object_storage.containers.delete_container, who, path)
    return Response(status_code=204)
