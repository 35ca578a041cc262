"""Nova's image proxy: ``GET``/``DELETE /images/{image_id}`` answer Glance's images in Nova's
terms, up to microversion 2.35 (later ones are told to ask Glance: 404), as Nova does."""

from __future__ import annotations

from fastapi import Request
from starlette.responses import Response

from interstack.api.compute.versions import Microversion, service_url
from interstack.api.compute.views import images as views
from interstack.api.deps import Caller, ServicesDep
from interstack.api.microversions import APIVersion
from interstack.api.regional import Region
from interstack.api.responses import OrjsonResponse, empty_response, json_response
from interstack.api.routing import Route
from interstack.errors import NotFound

V2_36 = APIVersion(2, 36)  # the proxy APIs are gone: images are Glance's


def _proxied(version: APIVersion) -> None:
    if version >= V2_36:
        raise NotFound("The image proxy API is deprecated from microversion 2.36: use Glance.")


def show_image(
    request: Request,
    region: Region,
    image_id: str,
    services: ServicesDep,
    caller: Caller,
    version: Microversion,
) -> OrjsonResponse:
    """GET /images/{image_id} — another project's private image is a 404, as in Glance."""
    _proxied(version)
    found = services.images.get(caller, region, image_id)
    return json_response({"image": views.image(found, service_url(request, region))})


def delete_image(
    region: Region, image_id: str, services: ServicesDep, caller: Caller, version: Microversion
) -> Response:
    """DELETE /images/{image_id} — 204; Glance's rules decide (only the owner, not protected)."""
    _proxied(version)
    services.images.delete(caller, region, image_id)
    return empty_response(204)


ROUTES: list[Route] = [
    Route("GET", "/images/{image_id}", show_image),
    Route("DELETE", "/images/{image_id}", delete_image, status=204),
]
