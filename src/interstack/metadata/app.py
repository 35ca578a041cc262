"""The metadata app of one region: paths resolved as Nova resolves them, for one instance.

``/`` lists the EC2 versions, ``/openstack`` the OpenStack ones; any other path that does not
start with ``/openstack`` is an EC2 path. Every answer is about the one instance the proxy
named (:mod:`interstack.metadata.requester`): a request the proxy did not vouch for is a 400,
an address that is no server's is a 404. Errors are short plain text, never a trace.
"""

from __future__ import annotations

import logging
import posixpath

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from interstack.errors import BadRequest, Conflict
from interstack.metadata import ec2, openstack
from interstack.metadata.requester import requester_of
from interstack.metadata.versions import (
    EC2_VERSIONS,
    GRIZZLY,
    LATEST,
    OPENSTACK_VERSIONS,
    at_least,
    resolve,
)
from interstack.services.compute.server_passwords import MAX_PASSWORD_LENGTH, ServerPasswords
from interstack.services.metadata.lookup import InstanceLookup
from interstack.services.metadata.records import Instance

log = logging.getLogger(__name__)

JSON = "application/json"
TEXT = "text/plain; charset=utf-8"


def _text(body: str | bytes, media_type: str = TEXT) -> Response:
    return Response(body, media_type=media_type)


def _not_found() -> Response:
    return PlainTextResponse("Not Found", status_code=404)


def _is_password(path: list[str]) -> bool:
    """``/openstack/<version>/password`` of a version that has it (Grizzly on)."""
    if len(path) != 2 or path[1] != openstack.PASSWORD:
        return False
    version = resolve(path[0], OPENSTACK_VERSIONS)
    return version is not None and at_least(version, GRIZZLY, OPENSTACK_VERSIONS)


def _openstack(instance: Instance, path: list[str]) -> Response:
    if not path:
        return _text("\n".join([*OPENSTACK_VERSIONS, LATEST]))
    version = resolve(path[0], OPENSTACK_VERSIONS)
    if version is None or len(path) > 2:
        return _not_found()
    if len(path) == 1:
        return _text("\n".join(openstack.entries(instance, version)))
    body = openstack.files(instance, version).get(path[1])
    if body is None:
        return _not_found()
    return _text(body, media_type=JSON if path[1].endswith(".json") else TEXT)


def _ec2(instance: Instance, path: list[str]) -> Response:
    if not path:
        return _text("\n".join([*EC2_VERSIONS, LATEST]))
    version = resolve(path[0], EC2_VERSIONS)
    if version is None:
        return _not_found()
    node = ec2.find(ec2.tree(instance, version), path[1:])
    if node is None:
        return _not_found()
    return _text(ec2.render(node))


class MetadataApp:
    """The request handler of one region's metadata service."""

    def __init__(self, region: str, lookup: InstanceLookup, passwords: ServerPasswords) -> None:
        self.region = region
        self.lookup = lookup
        self.passwords = passwords

    async def handle(self, request: Request) -> Response:
        requester = requester_of(request.headers)
        if requester is None:
            return PlainTextResponse("The request did not come through a metadata proxy.", 400)
        instance = await run_in_threadpool(
            self.lookup.by_address, self.region, requester.network_id, requester.address
        )
        if instance is None:
            log.info(
                "metadata request from %s on network %s: no instance has that address",
                requester.address,
                requester.network_id,
            )
            return _not_found()
        path = posixpath.normpath("/" + request.path_params.get("path", ""))
        tokens = [t for t in path.split("/") if t]
        if tokens[:1] == ["openstack"] and _is_password(tokens[1:]):
            return await self._password(request, instance)
        if request.method == "POST":
            return PlainTextResponse("Only GET is supported here.", 405)
        if tokens[:1] == ["openstack"]:
            return _openstack(instance, tokens[1:])
        return _ec2(instance, tokens)

    async def _password(self, request: Request, instance: Instance) -> Response:
        if request.method != "POST":
            stored = await run_in_threadpool(self.passwords.stored, instance.id)
            return _text(stored or "")
        length = request.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > MAX_PASSWORD_LENGTH:
            return PlainTextResponse("Request is too large.", 400)
        body = await request.body()
        try:
            await run_in_threadpool(
                self.passwords.set_once, instance.id, body.decode("utf-8", errors="replace")
            )
        except Conflict as exc:
            return PlainTextResponse(exc.message, 409)
        except BadRequest as exc:
            return PlainTextResponse(exc.message, 400)
        return _text("")


def create_metadata_app(
    region: str, lookup: InstanceLookup, passwords: ServerPasswords
) -> Starlette:
    handler = MetadataApp(region, lookup, passwords)
    routes = [Route("/{path:path}", handler.handle, methods=["GET", "POST"])]
    return Starlette(routes=routes)
