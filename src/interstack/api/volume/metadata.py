"""The ``/metadata`` sub-resource of a volume or a snapshot: one route builder for both, since
Cinder serves the same five calls on each (show and replace or merge the set; show, set and
delete one item)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Protocol

from fastapi import Depends, Request
from starlette.responses import Response

from interstack.api.body import json_body
from interstack.api.deps import Caller, ServicesDep
from interstack.api.regional import Region
from interstack.api.responses import OrjsonResponse, empty_response, json_response
from interstack.api.routing import Route
from interstack.api.volume import schemas
from interstack.api.volume.params import UrlProject
from interstack.api.volume.versions import Microversion
from interstack.errors import BadRequest, NotFound
from interstack.services.container import Services
from interstack.services.context import RequestContext


class MetadataStore(Protocol):
    """What a block storage service offers for its resources' metadata."""

    def metadata(self, ctx: RequestContext, region: str, owner_id: str, /) -> dict[str, str]: ...

    def set_metadata(
        self,
        ctx: RequestContext,
        region: str,
        owner_id: str,
        items: Mapping[str, str],
        /,
        *,
        replace: bool,
    ) -> dict[str, str]: ...

    def delete_metadata(
        self, ctx: RequestContext, region: str, owner_id: str, key: str, /
    ) -> None: ...


@dataclass(frozen=True)
class MetadataOwner:
    """A resource whose metadata the routes serve, e.g. ``Volume`` at ``/volumes/{volume_id}``."""

    #: the resource's name in messages ("Volume abc has no metadata with key k.")
    noun: str
    #: the path of the resource's collection, e.g. ``/volumes``
    collection: str
    #: the name of the resource's id in its path, e.g. ``volume_id``
    id_param: str
    #: the service holding the metadata, out of the gateway's services
    store: Callable[[Services], MetadataStore]


def metadata_routes(owner: MetadataOwner) -> list[Route]:
    """The route table of ``<owner.path>/metadata``."""

    def owner_id(request: Request) -> str:
        return str(request.path_params[owner.id_param])

    def show_metadata(
        request: Request,
        region: Region,
        _project: UrlProject,
        services: ServicesDep,
        caller: Caller,
        _version: Microversion,
    ) -> OrjsonResponse:
        found = owner.store(services).metadata(caller, region, owner_id(request))
        return json_response({"metadata": found})

    def set_metadata(replace: bool) -> Callable[..., OrjsonResponse]:
        def handler(
            request: Request,
            region: Region,
            _project: UrlProject,
            services: ServicesDep,
            caller: Caller,
            _version: Microversion,
            body: Annotated[schemas.MetadataBody, Depends(json_body(schemas.MetadataBody))],
        ) -> OrjsonResponse:
            store = owner.store(services)
            result = store.set_metadata(
                caller, region, owner_id(request), body.metadata, replace=replace
            )
            return json_response({"metadata": result})

        return handler

    def show_metadata_item(
        key: str,
        request: Request,
        region: Region,
        _project: UrlProject,
        services: ServicesDep,
        caller: Caller,
        _version: Microversion,
    ) -> OrjsonResponse:
        found_id = owner_id(request)
        metadata = owner.store(services).metadata(caller, region, found_id)
        if key not in metadata:
            raise NotFound(f"{owner.noun} {found_id} has no metadata with key {key}.")
        return json_response({"meta": {key: metadata[key]}})

    def update_metadata_item(
        key: str,
        request: Request,
        region: Region,
        _project: UrlProject,
        services: ServicesDep,
        caller: Caller,
        _version: Microversion,
        body: Annotated[schemas.MetaItem, Depends(json_body(schemas.MetaItem))],
    ) -> OrjsonResponse:
        if len(body.meta) > 1:
            raise BadRequest("Request body contains too many items.")
        if key not in body.meta:
            raise BadRequest("Request body and URI mismatch.")
        store = owner.store(services)
        store.set_metadata(caller, region, owner_id(request), body.meta, replace=False)
        return json_response({"meta": body.meta})

    def delete_metadata_item(
        key: str,
        request: Request,
        region: Region,
        _project: UrlProject,
        services: ServicesDep,
        caller: Caller,
        _version: Microversion,
    ) -> Response:
        owner.store(services).delete_metadata(caller, region, owner_id(request), key)
        return empty_response(200)

    base = f"{owner.collection}/{{{owner.id_param}}}/metadata"
    return [
        Route("GET", base, show_metadata),
        Route("POST", base, set_metadata(replace=False)),
        Route("PUT", base, set_metadata(replace=True)),
        Route("GET", f"{base}/{{key}}", show_metadata_item),
        Route("PUT", f"{base}/{{key}}", update_metadata_item),
        Route("DELETE", f"{base}/{{key}}", delete_metadata_item),
    ]
