"""Handlers of ``/servers``: list, detail, create, show, update, delete."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import Depends, Request
from starlette.datastructures import QueryParams
from starlette.responses import Response

from interstack.api.compute import params
from interstack.api.compute.block_devices import block_devices
from interstack.api.compute.schemas import servers as schemas
from interstack.api.compute.versions import Microversion, service_url
from interstack.api.compute.views import servers as views
from interstack.api.compute.views.links import next_links
from interstack.api.deps import Caller, ServicesDep
from interstack.api.microversions import APIVersion
from interstack.api.regional import Region
from interstack.api.responses import OrjsonResponse, empty_response, json_response
from interstack.api.routing import Route
from interstack.errors import BadRequest
from interstack.services.compute.boot_request import BootRequest
from interstack.services.compute.servers import ServerFilters
from interstack.services.container import Services
from interstack.services.context import RequestContext
from interstack.services.interfaces import RequestedNetwork
from interstack.services.listing import Page, parse_sort

V2_1 = APIVersion(2, 1)
V2_19 = APIVersion(2, 19)
V2_26 = APIVersion(2, 26)
V2_32 = APIVersion(2, 32)
V2_36 = APIVersion(2, 36)
V2_37 = APIVersion(2, 37)
V2_42 = APIVersion(2, 42)
V2_52 = APIVersion(2, 52)
V2_57 = APIVersion(2, 57)
V2_66 = APIVersion(2, 66)
V2_73 = APIVersion(2, 73)

CreateBody = Annotated[
    schemas.ServerCreate,
    Depends(
        params.versioned_body(
            (V2_1, schemas.ServerCreate),
            (V2_19, schemas.ServerCreateV219),
            (V2_37, schemas.ServerCreateV237),
            (V2_52, schemas.ServerCreateV252),
            (V2_57, schemas.ServerCreateV257),
        )
    ),
]
UpdateBody = Annotated[
    schemas.ServerUpdate,
    Depends(params.versioned_body((V2_1, schemas.ServerUpdate), (V2_19, schemas.ServerUpdateV219))),
]


# -- list ------------------------------------------------------------------------------------


def _time(query: QueryParams, name: str) -> datetime | None:
    raw = query.get(name)
    if raw is None:
        return None
    try:
        when = datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise BadRequest(
            f"Invalid input for query parameters {name}. Value: {raw}. '{raw}' is not a 'date-time'"
        ) from exc
    return when.astimezone(UTC).replace(tzinfo=None) if when.tzinfo else when


def _csv(query: QueryParams, name: str) -> tuple[str, ...]:
    raw = query.get(name)
    return tuple(t for t in raw.split(",") if t) if raw else ()


def _all_tenants(query: QueryParams) -> bool:
    raw = query.get("all_tenants")
    if raw is None:
        return False
    return raw == "" or params.boolean(raw, "all_tenants")


def _filters(query: QueryParams, caller: RequestContext, version: APIVersion) -> ServerFilters:
    locked = query.get("locked")
    deleted = query.get("deleted")
    before = _time(query, "changes-before") if version >= V2_66 else None
    since = _time(query, "changes-since")
    if since and before and since > before:
        raise BadRequest("The value of changes-since must be less than or equal to changes-before.")
    tagged = version >= V2_26
    return ServerFilters(
        name=query.get("name"),
        status=query.get("status"),
        image=query.get("image"),
        flavor=query.get("flavor"),
        ip=query.get("ip"),
        ip6=query.get("ip6"),
        changes_since=since,
        changes_before=before,
        tags=_csv(query, "tags") if tagged else (),
        tags_any=_csv(query, "tags-any") if tagged else (),
        not_tags=_csv(query, "not-tags") if tagged else (),
        not_tags_any=_csv(query, "not-tags-any") if tagged else (),
        all_tenants=_all_tenants(query),
        project_id=query.get("project_id") or query.get("tenant_id"),
        user_id=query.get("user_id"),
        deleted=caller.is_admin and deleted is not None and params.boolean(deleted, "deleted"),
        availability_zone=query.get("availability_zone"),
        key_name=query.get("key_name"),
        reservation_id=query.get("reservation_id"),
        locked=params.boolean(locked, "locked")
        if locked is not None and version >= V2_73
        else None,
    )


def _page(query: QueryParams) -> Page:
    sort = parse_sort(query.getlist("sort_key"), query.getlist("sort_dir"), "desc")
    return Page(limit=params.integer(query, "limit"), marker=query.get("marker"), sort=tuple(sort))


def _list(
    request: Request,
    region: str,
    services: Services,
    caller: RequestContext,
    version: APIVersion,
    *,
    detail: bool,
) -> OrjsonResponse:
    query = request.query_params
    found = services.compute.servers.list(
        caller, region, _filters(query, caller, version), _page(query), detail=detail
    )
    root = service_url(request, region)
    body: dict[str, Any] = {
        "servers": [
            views.detail(s, root, version, admin=caller.is_admin)
            if detail
            else views.summary(s, root)
            for s in found.servers
        ]
    }
    if found.next_marker is not None:
        path = "servers/detail" if detail else "servers"
        ids = [s.id for s in found.servers]
        body["servers_links"] = next_links(f"{root}/v2.1/{path}", query, ids, len(ids))
    return json_response(body)


def list_servers(
    request: Request, region: Region, services: ServicesDep, caller: Caller, version: Microversion
) -> OrjsonResponse:
    """GET /servers — id, name and links, with Nova's filters and paging."""
    return _list(request, region, services, caller, version, detail=False)


def list_servers_detail(
    request: Request, region: Region, services: ServicesDep, caller: Caller, version: Microversion
) -> OrjsonResponse:
    """GET /servers/detail — every field of each server, ``addresses`` from Neutron."""
    return _list(request, region, services, caller, version, detail=True)


# -- create ----------------------------------------------------------------------------------


def _last_segment(ref: str) -> str:
    return ref.rstrip("/").rsplit("/", 1)[-1]


def _image_id(new: schemas.NewServer) -> str | None:
    """``imageRef``'s image id; None when empty (the server boots from a mapping)."""
    if not new.imageRef:
        return None
    image = _last_segment(new.imageRef)
    if schemas.check_uuid_or_none(image) is None:
        raise BadRequest("Invalid imageRef provided.")
    return image


def _networks(
    new: schemas.NewServer, count: int
) -> list[RequestedNetwork] | Literal["auto", "none"]:
    if isinstance(new.networks, str):
        return "auto" if new.networks == "auto" else "none"
    if new.networks is None:
        return []  # before 2.37: no networks asked for, none allocated
    requested = []
    for entry in new.networks:
        if entry.port is None and entry.uuid is None:
            raise BadRequest("Bad networks format: each entry needs a network uuid or a port.")
        if count > 1 and entry.port is not None:
            raise BadRequest(
                "Unable to launch multiple instances with a single configured port ID. "
                "Please launch your instance one by one with different ports."
            )
        if count > 1 and entry.fixed_ip is not None:
            raise BadRequest("max_count cannot be greater than 1 if an fixed_ip is specified.")
        requested.append(
            RequestedNetwork(
                network_id=entry.uuid, port_id=entry.port, fixed_ip=entry.fixed_ip, tag=entry.tag
            )
        )
    return requested


def _check_device_tags(new: schemas.NewServer, version: APIVersion) -> None:
    """Nova takes device role tags on ``networks`` and ``block_device_mapping_v2`` entries in
    2.32-2.36 and from 2.42 (2.37-2.41 lost them to a bug); elsewhere a tag is a schema error."""
    if V2_32 <= version <= V2_36 or version >= V2_42:
        return
    networks = new.networks if isinstance(new.networks, list) else []
    for field, tags in (
        ("networks", [entry.tag for entry in networks]),
        ("block_device_mapping_v2", [entry.tag for entry in new.block_device_mapping_v2 or []]),
    ):
        if any(tag is not None for tag in tags):
            raise BadRequest(
                f"Invalid input for field/attribute {field}: 'tag' is not allowed at "
                f"microversion {version}; device tags need 2.32-2.36 or 2.42 and later."
            )


def _boot_request(new: schemas.NewServer, version: APIVersion) -> BootRequest:
    _check_device_tags(new, version)
    if new.block_device_mapping_v2 and new.block_device_mapping:
        raise BadRequest(
            "Using different block_device_mapping syntaxes is not allowed in the same request."
        )
    image_id = _image_id(new)
    return BootRequest(
        name=new.name,
        flavor_id=_last_segment(str(new.flavorRef)),
        image_id=image_id,
        block_devices=block_devices(new, image_id is not None),
        legacy_mapping=bool(new.block_device_mapping),
        networks=_networks(new, new.max_count),
        security_groups=tuple(dict.fromkeys(g.name for g in new.security_groups)),
        key_name=new.key_name,
        user_data=new.user_data,
        metadata=dict(new.metadata),
        availability_zone=new.availability_zone,
        min_count=new.min_count,
        max_count=new.max_count,
        config_drive=bool(new.config_drive),
        description=getattr(new, "description", None),
        tags=tuple(getattr(new, "tags", ())),
        disk_config=new.disk_config,
        access_ipv4=new.accessIPv4 or "",
        access_ipv6=new.accessIPv6 or "",
        admin_password=new.adminPass,
    )


def create_server(
    request: Request,
    region: Region,
    services: ServicesDep,
    caller: Caller,
    version: Microversion,
    body: CreateBody,
) -> OrjsonResponse:
    """POST /servers — 202 at once; a task boots each server through the region's backend."""
    result = services.compute.boot.create(caller, region, _boot_request(body.server, version))
    if body.server.return_reservation_id:
        return json_response({"reservation_id": result.reservation_id}, 202)
    first = result.servers[0]
    root = service_url(request, region)
    shown = views.created(first, root, result.admin_password)
    return json_response(
        {"server": shown}, 202, headers={"Location": f"{root}/v2.1/servers/{first.id}"}
    )


# -- show, update, delete --------------------------------------------------------------------


def show_server(
    request: Request,
    region: Region,
    server_id: str,
    services: ServicesDep,
    caller: Caller,
    version: Microversion,
) -> OrjsonResponse:
    """GET /servers/{server_id}"""
    server = services.compute.servers.get(caller, region, server_id)
    root = service_url(request, region)
    return json_response(
        {"server": views.detail(server, root, version, admin=caller.is_admin, show=True)}
    )


def update_server(
    request: Request,
    region: Region,
    server_id: str,
    services: ServicesDep,
    caller: Caller,
    version: Microversion,
    body: UpdateBody,
) -> OrjsonResponse:
    """PUT /servers/{server_id} — name, description, accessIPv4/6."""
    change = body.server
    changes: dict[str, str | None] = {}
    if change.name is not None:
        changes["name"] = change.name
    if "description" in change.model_fields_set:
        changes["description"] = getattr(change, "description", None)
    if change.accessIPv4 is not None:
        changes["access_ipv4"] = change.accessIPv4
    if change.accessIPv6 is not None:
        changes["access_ipv6"] = change.accessIPv6
    server = services.compute.servers.update(caller, region, server_id, changes)
    root = service_url(request, region)
    return json_response({"server": views.changed(server, root, version, admin=caller.is_admin)})


def delete_server(
    region: Region, server_id: str, services: ServicesDep, caller: Caller, _version: Microversion
) -> Response:
    """DELETE /servers/{server_id} — 204; the task deletes the backend server, then its ports."""
    services.compute.servers.delete(caller, region, server_id)
    return empty_response(204)


ROUTES: list[Route] = [
    Route("GET", "/servers", list_servers),
    Route("GET", "/servers/detail", list_servers_detail),
    Route("POST", "/servers", create_server, status=202),
    Route("GET", "/servers/{server_id}", show_server),
    Route("PUT", "/servers/{server_id}", update_server),
    Route("DELETE", "/servers/{server_id}", delete_server, status=204),
]
