"""Handlers of ``/v2/images/{image_id}/members``: share an image with projects."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from interstack.api.body import json_body
from interstack.api.deps import Caller, ServicesDep
from interstack.api.image import schemas, views
from interstack.api.regional import Region
from interstack.api.responses import OrjsonResponse, empty_response, json_response

CreateBody = Annotated[schemas.MemberCreate, Depends(json_body(schemas.MemberCreate))]
UpdateBody = Annotated[schemas.MemberUpdate, Depends(json_body(schemas.MemberUpdate))]


async def create_member(
    image_id: str, region: Region, services: ServicesDep, caller: Caller, body: CreateBody
) -> OrjsonResponse:
    """POST .../members — the owner offers a shared image to a project (status pending)."""
    added = await run_in_threadpool(
        services.image_members.add, caller, region, image_id, body.member
    )
    return json_response(views.member(added))


async def list_members(
    image_id: str, region: Region, services: ServicesDep, caller: Caller
) -> OrjsonResponse:
    """GET .../members — all of them for the owner, its own membership for a member."""
    found = await run_in_threadpool(services.image_members.list, caller, region, image_id)
    return json_response(views.members(found))


async def show_member(
    image_id: str, member_id: str, region: Region, services: ServicesDep, caller: Caller
) -> OrjsonResponse:
    found = await run_in_threadpool(services.image_members.get, caller, region, image_id, member_id)
    return json_response(views.member(found))


async def update_member(
    image_id: str,
    member_id: str,
    region: Region,
    services: ServicesDep,
    caller: Caller,
    body: UpdateBody,
) -> OrjsonResponse:
    """PUT .../members/{member_id} — the member accepts or rejects the image."""
    updated = await run_in_threadpool(
        services.image_members.update, caller, region, image_id, member_id, body.status
    )
    return json_response(views.member(updated))


async def delete_member(
    image_id: str, member_id: str, region: Region, services: ServicesDep, caller: Caller
) -> Response:
    """DELETE .../members/{member_id} — the owner stops sharing with the project."""
    await run_in_threadpool(services.image_members.delete, caller, region, image_id, member_id)
    return empty_response(204)
