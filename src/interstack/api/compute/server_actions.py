"""``POST /servers/{server_id}/action``: one explicit table from action name to handler.

The body names one action (``{"os-stop": null}``, ``{"reboot": {"type": "HARD"}}``); its value is
validated by that action's schema. Nothing is dispatched by looking a name up in a module.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from fastapi import Request
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from interstack.api.body import nova_validation_message, parse, read_json
from interstack.api.compute.schemas import server_actions as schemas
from interstack.api.compute.versions import Microversion, service_url
from interstack.api.compute.views import servers as views
from interstack.api.deps import Caller, ServicesDep
from interstack.api.microversions import APIVersion
from interstack.api.regional import Region
from interstack.api.responses import empty_response, json_response
from interstack.api.routing import Route
from interstack.errors import BadRequest
from interstack.services.compute.server_actions import UNSET, RebuildRequest
from interstack.services.container import Services
from interstack.services.context import RequestContext

Model = TypeVar("Model", bound=BaseModel)

V2_1 = APIVersion(2, 1)
V2_19 = APIVersion(2, 19)
V2_45 = APIVersion(2, 45)
V2_54 = APIVersion(2, 54)
V2_57 = APIVersion(2, 57)
V2_73 = APIVersion(2, 73)


@dataclass(frozen=True)
class ActionCall:
    """One action request, as every action handler receives it."""

    request: Request
    services: Services
    caller: RequestContext
    region: str
    server_id: str
    version: APIVersion
    value: Any

    def body(self, model: type[Model]) -> Model:
        return parse(model, self.value if self.value is not None else {}, nova_validation_message)

    @property
    def root(self) -> str:
        return service_url(self.request, self.region)


def _accepted() -> Response:
    return empty_response(202)


def _power(name: str) -> Callable[[ActionCall], Response]:
    def run(call: ActionCall) -> Response:
        call.services.compute.server_actions.power(call.caller, call.region, call.server_id, name)
        return _accepted()

    return run


def reboot(call: ActionCall) -> Response:
    kind = call.body(schemas.Reboot).type
    name = "reboot_hard" if kind == "HARD" else "reboot_soft"
    call.services.compute.server_actions.power(call.caller, call.region, call.server_id, name)
    return _accepted()


def lock(call: ActionCall) -> Response:
    reason = call.body(schemas.Lock).locked_reason if call.version >= V2_73 else None
    if call.version < V2_73 and call.value:
        raise BadRequest("lock takes no arguments before microversion 2.73.")
    call.services.compute.server_actions.lock(call.caller, call.region, call.server_id, reason)
    return _accepted()


def unlock(call: ActionCall) -> Response:
    call.services.compute.server_actions.unlock(call.caller, call.region, call.server_id)
    return _accepted()


def _rebuild_schema(version: APIVersion) -> type[schemas.Rebuild]:
    if version >= V2_57:
        return schemas.RebuildV257
    if version >= V2_54:
        return schemas.RebuildV254
    if version >= V2_19:
        return schemas.RebuildV219
    return schemas.Rebuild


def rebuild(call: ActionCall) -> Response:
    body = call.body(_rebuild_schema(call.version))
    given = body.model_fields_set
    request = RebuildRequest(
        image_id=body.imageRef.rstrip("/").rsplit("/", 1)[-1],
        name=body.name,
        metadata=body.metadata,
        description=getattr(body, "description", None) if "description" in given else UNSET,
        key_name=getattr(body, "key_name", None) if "key_name" in given else UNSET,
        user_data=getattr(body, "user_data", None) if "user_data" in given else UNSET,
        access_ipv4=body.accessIPv4,
        access_ipv6=body.accessIPv6,
        preserve_ephemeral=bool(body.preserve_ephemeral),
    )
    server, password = call.services.compute.server_actions.rebuild(
        call.caller, call.region, call.server_id, request
    )
    shown = views.changed(server, call.root, call.version, admin=call.caller.is_admin)
    shown["adminPass"] = password
    return json_response({"server": shown}, 202)


def resize(call: ActionCall) -> Response:
    flavor = str(call.body(schemas.Resize).flavorRef).rstrip("/").rsplit("/", 1)[-1]
    call.services.compute.server_actions.resize(call.caller, call.region, call.server_id, flavor)
    return _accepted()


def confirm_resize(call: ActionCall) -> Response:
    actions = call.services.compute.server_actions
    actions.confirm_resize(call.caller, call.region, call.server_id)
    return empty_response(204)


def revert_resize(call: ActionCall) -> Response:
    actions = call.services.compute.server_actions
    actions.revert_resize(call.caller, call.region, call.server_id)
    return _accepted()


def create_image(call: ActionCall) -> Response:
    """202; the new image's id in the body from 2.45, in a ``Location`` header before."""
    body = call.body(schemas.CreateImage)
    image_id = call.services.compute.server_actions.create_image(
        call.caller, call.region, call.server_id, body.name, body.metadata
    )
    if call.version >= V2_45:
        return json_response({"image_id": image_id}, 202)
    glance = call.services.catalog.url_for("image", call.region)
    return empty_response(202, headers={"Location": f"{glance}/v2/images/{image_id}"})


def console_output(call: ActionCall) -> Response:
    length = call.body(schemas.ConsoleOutput).length
    output = call.services.compute.server_actions.console_output(
        call.caller, call.region, call.server_id, None if length == -1 else length
    )
    return json_response({"output": output})


def change_password(call: ActionCall) -> Response:
    password = call.body(schemas.ChangePassword).adminPass
    actions = call.services.compute.server_actions
    actions.change_password(call.caller, call.region, call.server_id, password)
    return _accepted()


def add_security_group(call: ActionCall) -> Response:
    name = call.body(schemas.SecurityGroup).name
    actions = call.services.compute.server_actions
    actions.add_security_group(call.caller, call.region, call.server_id, name)
    return _accepted()


def remove_security_group(call: ActionCall) -> Response:
    name = call.body(schemas.SecurityGroup).name
    actions = call.services.compute.server_actions
    actions.remove_security_group(call.caller, call.region, call.server_id, name)
    return _accepted()


#: the explicit action table: body key -> handler
ACTIONS: dict[str, Callable[[ActionCall], Response]] = {
    "reboot": reboot,
    "os-stop": _power("stop"),
    "os-start": _power("start"),
    "pause": _power("pause"),
    "unpause": _power("unpause"),
    "suspend": _power("suspend"),
    "resume": _power("resume"),
    "lock": lock,
    "unlock": unlock,
    "rebuild": rebuild,
    "resize": resize,
    "confirmResize": confirm_resize,
    "revertResize": revert_resize,
    "createImage": create_image,
    "os-getConsoleOutput": console_output,
    "changePassword": change_password,
    "addSecurityGroup": add_security_group,
    "removeSecurityGroup": remove_security_group,
}


async def server_action(
    request: Request,
    region: Region,
    server_id: str,
    services: ServicesDep,
    caller: Caller,
    version: Microversion,
) -> Response:
    """POST /servers/{server_id}/action"""
    body = await read_json(request)
    if not isinstance(body, dict) or len(body) != 1:
        raise BadRequest("The action body must be an object with exactly one action name.")
    name, value = next(iter(body.items()))
    handler = ACTIONS.get(name)
    if handler is None:
        raise BadRequest(f"There is no such action: {name}")
    call = ActionCall(request, services, caller, region, server_id, version, value)
    return await run_in_threadpool(handler, call)


ROUTES: list[Route] = [
    Route("POST", "/servers/{server_id}/action", server_action, status=202),
]
