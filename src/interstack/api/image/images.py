"""Handlers of ``/v2/images``: create, list, show, JSON-patch update, delete, actions, tags."""

from __future__ import annotations

from fastapi import Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from interstack.api.body import read_json
from interstack.api.deps import Caller, ServicesDep
from interstack.api.image import params, schemas, views
from interstack.api.regional import Region
from interstack.api.responses import OrjsonResponse, empty_response, json_response
from interstack.errors import NotFound, UnsupportedMediaType


async def create_image(
    request: Request, region: Region, services: ServicesDep, caller: Caller
) -> OrjsonResponse:
    """POST /v2/images — 201 with a ``queued`` image; its data comes with ``PUT .../file``."""
    new = schemas.new_image(await read_json(request))
    created = await run_in_threadpool(services.images.create, caller, region, new)
    return json_response(
        views.image(created), 201, headers={"Location": f"/v2/images/{created.id}"}
    )


async def list_images(
    request: Request, region: Region, services: ServicesDep, caller: Caller
) -> OrjsonResponse:
    """GET /v2/images — filters, ``sort``/``sort_key``, marker paging with ``next``."""
    query = request.query_params
    filters, page = params.filters(query), params.page(query)
    found = await run_in_threadpool(services.images.list, caller, region, filters, page)
    assert page.limit is not None
    return json_response(views.images(found, query.multi_items(), page.limit))


async def show_image(
    image_id: str, region: Region, services: ServicesDep, caller: Caller
) -> OrjsonResponse:
    """GET /v2/images/{image_id} — 404 for images the caller may not see."""
    found = await run_in_threadpool(services.images.get, caller, region, image_id)
    return json_response(views.image(found))


async def no_image_id(_caller: Caller) -> Response:
    """GET/PATCH/DELETE /v2/images/ — an empty image id names no image: 404, as Glance answers
    (not the list, nor a 405 for a method the list does not take)."""
    raise NotFound("No image found with an empty ID: give one as /v2/images/{image_id}.")


async def update_image(
    image_id: str, request: Request, region: Region, services: ServicesDep, caller: Caller
) -> OrjsonResponse:
    """PATCH /v2/images/{image_id} — JSON patch (v2.1 or v2.0 media type), all or nothing."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip()
    if media_type not in schemas.PATCH_MEDIA_TYPES:
        raise UnsupportedMediaType(
            f"Unsupported Content-Type {media_type or '(none)'!r}: image updates take "
            f"{' or '.join(schemas.PATCH_MEDIA_TYPES)}.",
        )
    ops = schemas.patch_ops(await read_json(request), media_type)
    updated = await run_in_threadpool(services.images.update, caller, region, image_id, ops)
    return json_response(views.image(updated))


async def delete_image(
    image_id: str, region: Region, services: ServicesDep, caller: Caller
) -> Response:
    """DELETE /v2/images/{image_id} — 204; 403 for protected images."""
    await run_in_threadpool(services.images.delete, caller, region, image_id)
    return empty_response(204)


async def deactivate_image(
    image_id: str, region: Region, services: ServicesDep, caller: Caller
) -> Response:
    """POST /v2/images/{image_id}/actions/deactivate — admins; the data is not served then."""
    await run_in_threadpool(services.images.deactivate, caller, region, image_id)
    return empty_response(204)


async def reactivate_image(
    image_id: str, region: Region, services: ServicesDep, caller: Caller
) -> Response:
    """POST /v2/images/{image_id}/actions/reactivate — admins."""
    await run_in_threadpool(services.images.reactivate, caller, region, image_id)
    return empty_response(204)


async def add_tag(
    image_id: str, tag: str, region: Region, services: ServicesDep, caller: Caller
) -> Response:
    """PUT /v2/images/{image_id}/tags/{tag} — 204, also when the tag is there already."""
    schemas.check_value("tags", [tag])
    await run_in_threadpool(services.images.add_tag, caller, region, image_id, tag)
    return empty_response(204)


async def delete_tag(
    image_id: str, tag: str, region: Region, services: ServicesDep, caller: Caller
) -> Response:
    """DELETE /v2/images/{image_id}/tags/{tag} — 204; 404 if the image has no such tag."""
    await run_in_threadpool(services.images.remove_tag, caller, region, image_id, tag)
    return empty_response(204)
