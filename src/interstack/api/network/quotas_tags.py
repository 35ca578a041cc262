"""Handlers of ``/v2.0/quotas`` and of the ``/tags`` sub-resource of every taggable collection."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from starlette.responses import Response

from interstack.api.body import parse, read_json
from interstack.api.deps import Caller, ServicesDep
from interstack.api.network import schemas as s
from interstack.api.network.bodies import wrapped
from interstack.api.regional import Region
from interstack.api.responses import OrjsonResponse, empty_response, json_response

QuotaBody = Annotated[s.QuotaValues, Depends(wrapped("quota", s.QuotaValues))]


async def tags_body(request: Request) -> s.Tags:
    return parse(s.Tags, await read_json(request))


TagsBody = Annotated[s.Tags, Depends(tags_body)]


def list_quotas(region: Region, services: ServicesDep, caller: Caller) -> OrjsonResponse:
    found = services.network.quotas.list_overridden(caller, region)
    return json_response(
        {"quotas": [{**limits, "project_id": p, "tenant_id": p} for p, limits in found.items()]}
    )


def show_quota(
    region: Region, project_id: str, services: ServicesDep, caller: Caller
) -> OrjsonResponse:
    return json_response({"quota": services.network.quotas.show(caller, region, project_id)})


def show_quota_defaults(
    region: Region, project_id: str, services: ServicesDep, caller: Caller
) -> OrjsonResponse:
    del region, project_id, caller  # the defaults are the same for every project
    return json_response({"quota": services.network.quotas.defaults()})


def show_quota_details(
    region: Region, project_id: str, services: ServicesDep, caller: Caller
) -> OrjsonResponse:
    return json_response({"quota": services.network.quotas.details(caller, region, project_id)})


def update_quota(
    region: Region, project_id: str, services: ServicesDep, caller: Caller, body: QuotaBody
) -> OrjsonResponse:
    values = {k: v for k, v in body.model_dump().items() if v is not None}
    return json_response(
        {"quota": services.network.quotas.update(caller, region, project_id, values)}
    )


def reset_quota(region: Region, project_id: str, services: ServicesDep, caller: Caller) -> Response:
    services.network.quotas.reset(caller, region, project_id)
    return empty_response(204)


def list_tags(
    region: Region, collection: str, item_id: str, services: ServicesDep, caller: Caller
) -> OrjsonResponse:
    return json_response({"tags": services.network.tags.get(caller, region, collection, item_id)})


def replace_tags(
    region: Region,
    collection: str,
    item_id: str,
    services: ServicesDep,
    caller: Caller,
    body: TagsBody,
) -> OrjsonResponse:
    tags = services.network.tags.replace(caller, region, collection, item_id, body.tags)
    return json_response({"tags": tags})


def clear_tags(
    region: Region, collection: str, item_id: str, services: ServicesDep, caller: Caller
) -> Response:
    services.network.tags.clear(caller, region, collection, item_id)
    return empty_response(204)


def check_tag(
    region: Region, collection: str, item_id: str, tag: str, services: ServicesDep, caller: Caller
) -> Response:
    services.network.tags.check(caller, region, collection, item_id, tag)
    return empty_response(204)


def add_tag(
    region: Region, collection: str, item_id: str, tag: str, services: ServicesDep, caller: Caller
) -> Response:
    services.network.tags.add(caller, region, collection, item_id, tag)
    return empty_response(201)


def remove_tag(
    region: Region, collection: str, item_id: str, tag: str, services: ServicesDep, caller: Caller
) -> Response:
    services.network.tags.remove(caller, region, collection, item_id, tag)
    return empty_response(204)
