"""``POST /volumes/{volume_id}/action``: one explicit table from action name to handler.

The body names one action (``{"os-extend": {"new_size": 2}}``); its value is validated by that
action's schema. Nothing is dispatched by looking a name up in a module.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from fastapi import Request
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from interstack.api.body import parse, read_json
from interstack.api.deps import Caller, ServicesDep
from interstack.api.microversions import APIVersion
from interstack.api.regional import Region
from interstack.api.responses import empty_response, json_response
from interstack.api.routing import Route
from interstack.api.volume import schemas, views
from interstack.api.volume.params import UrlProject
from interstack.api.volume.versions import Microversion
from interstack.errors import BadRequest, Forbidden
from interstack.services.container import Services
from interstack.services.context import RequestContext
from interstack.services.interfaces import VolumeUpload

Model = TypeVar("Model", bound=BaseModel)

V3_1 = APIVersion(3, 1)  # upload to image: visibility, protected
IMAGE_VISIBILITIES = frozenset({"public", "private", "shared", "community"})


@dataclass(frozen=True)
class ActionCall:
    services: Services
    caller: RequestContext
    region: str
    volume_id: str
    version: APIVersion
    value: Any

    def body(self, model: type[Model]) -> Model:
        return parse(model, self.value if self.value is not None else {})


def _accepted() -> Response:
    return empty_response(202)


def extend(call: ActionCall) -> Response:
    size = call.body(schemas.Extend).new_size
    call.services.volume.actions.extend(call.caller, call.region, call.volume_id, size)
    return _accepted()


def set_bootable(call: ActionCall) -> Response:
    value = call.body(schemas.SetBootable).bootable
    call.services.volume.actions.set_bootable(call.caller, call.region, call.volume_id, value)
    return empty_response(200)


def set_readonly(call: ActionCall) -> Response:
    value = call.body(schemas.SetReadonly).readonly
    call.services.volume.actions.set_readonly(call.caller, call.region, call.volume_id, value)
    return _accepted()


def reset_status(call: ActionCall) -> Response:
    body = call.body(schemas.ResetStatus)
    call.services.volume.actions.reset_status(
        call.caller, call.region, call.volume_id, body.status, body.attach_status
    )
    return _accepted()


def upload_image(call: ActionCall) -> Response:
    body = call.body(schemas.UploadImage)
    given = body.model_fields_set
    if call.version < V3_1 and given & {"visibility", "protected"}:
        raise BadRequest("visibility and protected need microversion 3.1 or later.")
    if body.visibility not in IMAGE_VISIBILITIES:
        raise BadRequest(
            f"Invalid input received: visibility {body.visibility!r} is not one of "
            f"{', '.join(sorted(IMAGE_VISIBILITIES))}."
        )
    volume = call.services.volume.volumes.get(call.caller, call.region, call.volume_id)
    row, image_id = call.services.volume.actions.upload_to_image(
        call.caller,
        call.region,
        call.volume_id,
        VolumeUpload(
            name=body.image_name,
            volume_id=call.volume_id,
            disk_format=body.disk_format,
            container_format=body.container_format,
            visibility=body.visibility,
            protected=body.protected,
            min_disk=volume.size,
        ),
        force=body.force,
    )
    return json_response(
        {
            "os-volume_upload_image": {
                "id": row.id,
                "updated_at": views.timestamp(row.updated_at),
                "status": row.status,
                "display_description": row.description,
                "size": row.size,
                "volume_type": views.volume_type(volume.volume_type)
                if volume.volume_type
                else None,
                "image_id": image_id,
                "container_format": body.container_format,
                "disk_format": body.disk_format,
                "image_name": body.image_name,
                "visibility": body.visibility,
                "protected": body.protected,
            }
        },
        status=202,
    )


def _simple(name: str) -> Callable[[ActionCall], Response]:
    def run(call: ActionCall) -> Response:
        actions = call.services.volume.actions
        table: dict[str, Callable[[RequestContext, str, str], None]] = {
            "os-reserve": actions.reserve,
            "os-unreserve": actions.unreserve,
            "os-begin_detaching": actions.begin_detaching,
            "os-roll_detaching": actions.roll_detaching,
        }
        table[name](call.caller, call.region, call.volume_id)
        return _accepted()

    return run


def attach(call: ActionCall) -> Response:
    body = call.body(schemas.Attach)
    if body.mode not in ("rw", "ro"):
        raise BadRequest(f"Invalid input received: attach mode {body.mode!r} must be rw or ro.")
    if body.instance_uuid is None and body.host_name is None:
        raise BadRequest("Invalid request to attach volume: give instance_uuid or host_name.")
    call.services.volume.actions.attach(
        call.caller,
        call.region,
        call.volume_id,
        server_id=body.instance_uuid,
        mountpoint=body.mountpoint,
        mode=body.mode,
    )
    return _accepted()


def detach(call: ActionCall) -> Response:
    body = call.body(schemas.Detach)
    call.services.volume.actions.detach(
        call.caller, call.region, call.volume_id, body.attachment_id
    )
    return _accepted()


def force_delete(call: ActionCall) -> Response:
    if not call.caller.is_admin:
        raise Forbidden(
            "Policy doesn't allow volume_extension:volume_admin_actions:force_delete to be "
            "performed."
        )
    call.services.volume.volumes.delete(call.caller, call.region, call.volume_id, force=True)
    return _accepted()


#: action name -> handler; the whole set of volume actions served
ACTIONS: dict[str, Callable[[ActionCall], Response]] = {
    "os-extend": extend,
    "os-set_bootable": set_bootable,
    "os-update_readonly_flag": set_readonly,
    "os-reset_status": reset_status,
    "os-volume_upload_image": upload_image,
    "os-reserve": _simple("os-reserve"),
    "os-unreserve": _simple("os-unreserve"),
    "os-begin_detaching": _simple("os-begin_detaching"),
    "os-roll_detaching": _simple("os-roll_detaching"),
    "os-attach": attach,
    "os-detach": detach,
    "os-force_delete": force_delete,
}


async def volume_action(
    volume_id: str,
    request: Request,
    region: Region,
    _project: UrlProject,
    services: ServicesDep,
    caller: Caller,
    version: Microversion,
) -> Response:
    body = await read_json(request)
    if not isinstance(body, dict) or len(body) != 1:
        raise BadRequest(
            'Invalid request body: name exactly one action, e.g. {"os-extend": {...}}.'
        )
    name, value = next(iter(body.items()))
    handler = ACTIONS.get(name)
    if handler is None:
        raise BadRequest(
            f"There is no such action: {name}. Known actions: {', '.join(sorted(ACTIONS))}."
        )
    call = ActionCall(services, caller, region, volume_id, version, value)
    return await run_in_threadpool(handler, call)


ROUTES: list[Route] = [Route("POST", "/volumes/{volume_id}/action", volume_action, status=202)]
