"""Handlers of ``/v2.0/security-groups`` and ``/v2.0/security-group-rules``."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from starlette.responses import Response

from interstack.api.deps import Caller, ServicesDep
from interstack.api.network import params, views
from interstack.api.network import schemas as s
from interstack.api.network.bodies import changes, wrapped
from interstack.api.regional import Region
from interstack.api.responses import OrjsonResponse, empty_response, json_response
from interstack.services.network.security_groups import GroupCreate
from interstack.services.network.sg_rules import RuleCreate

GroupBody = Annotated[
    s.SecurityGroupCreate, Depends(wrapped("security_group", s.SecurityGroupCreate))
]
GroupChange = Annotated[
    s.SecurityGroupUpdate, Depends(wrapped("security_group", s.SecurityGroupUpdate))
]
RuleBody = Annotated[s.RuleCreate, Depends(wrapped("security_group_rule", s.RuleCreate))]


def list_groups(
    region: Region, request: Request, services: ServicesDep, caller: Caller
) -> OrjsonResponse:
    query = params.list_query(request.query_params)
    found = services.network.security_groups.list_page(caller, region, query.filters, query.page)
    return json_response(
        params.collection("security_groups", found, views.security_group, query, request.url)
    )


def create_group(
    region: Region, request: Request, services: ServicesDep, caller: Caller, body: GroupBody
) -> OrjsonResponse:
    created = services.network.security_groups.create(
        caller,
        region,
        GroupCreate(
            name=body.name,
            description=body.description,
            project_id=body.owner,
            stateful=body.stateful,
        ),
    )
    return params.single("security_group", views.security_group(created), request, 201)


def show_group(
    region: Region, group_id: str, request: Request, services: ServicesDep, caller: Caller
) -> OrjsonResponse:
    found = services.network.security_groups.get(caller, region, group_id)
    return params.single("security_group", views.security_group(found), request)


def update_group(
    region: Region,
    group_id: str,
    request: Request,
    services: ServicesDep,
    caller: Caller,
    body: GroupChange,
) -> OrjsonResponse:
    updated = services.network.security_groups.update(caller, region, group_id, changes(body))
    return params.single("security_group", views.security_group(updated), request)


def delete_group(region: Region, group_id: str, services: ServicesDep, caller: Caller) -> Response:
    services.network.security_groups.delete(caller, region, group_id)
    return empty_response(204)


def list_rules(
    region: Region, request: Request, services: ServicesDep, caller: Caller
) -> OrjsonResponse:
    query = params.list_query(request.query_params)
    found = services.network.security_groups.list_rules(caller, region, query.filters, query.page)
    return json_response(
        params.collection("security_group_rules", found, views.rule, query, request.url)
    )


def create_rule(
    region: Region, request: Request, services: ServicesDep, caller: Caller, body: RuleBody
) -> OrjsonResponse:
    created = services.network.security_groups.create_rule(
        caller,
        region,
        RuleCreate(
            security_group_id=body.security_group_id,
            direction=body.direction,
            ethertype=body.ethertype,
            protocol=body.protocol,
            port_range_min=body.port_range_min,
            port_range_max=body.port_range_max,
            remote_ip_prefix=body.remote_ip_prefix,
            remote_group_id=body.remote_group_id,
            description=body.description,
            project_id=body.owner,
        ),
    )
    return params.single("security_group_rule", views.rule(created), request, 201)


def show_rule(
    region: Region, rule_id: str, request: Request, services: ServicesDep, caller: Caller
) -> OrjsonResponse:
    found = services.network.security_groups.get_rule(caller, region, rule_id)
    return params.single("security_group_rule", views.rule(found), request)


def delete_rule(region: Region, rule_id: str, services: ServicesDep, caller: Caller) -> Response:
    services.network.security_groups.delete_rule(caller, region, rule_id)
    return empty_response(204)
