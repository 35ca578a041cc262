"""The image route table: every Glance v2 path served, in one place."""

from __future__ import annotations

from fastapi import APIRouter

from interstack.api.faults import FaultFormats, glance_fault
from interstack.api.image import data, images, jsonschemas, members, versions
from interstack.api.regional import prefix, register_faults
from interstack.api.routing import Route, add_routes
from interstack.services.catalog import ServiceSpec

SERVICE = ServiceSpec(type="image", name="glance", path="image")

_IMAGE = "/v2/images/{image_id}"
_MEMBER = _IMAGE + "/members/{member_id}"

ROUTES: list[Route] = [
    Route("GET", "", versions.list_versions),
    Route("GET", "/", versions.list_versions),
    Route("GET", "/versions", versions.show_versions),
    # images
    Route("GET", "/v2/images", images.list_images),
    Route("POST", "/v2/images", images.create_image, status=201),
    Route("GET", "/v2/images/", images.no_image_id),  # an empty image id: 404
    Route("PATCH", "/v2/images/", images.no_image_id),
    Route("DELETE", "/v2/images/", images.no_image_id),
    Route("GET", _IMAGE, images.show_image),
    Route("PATCH", _IMAGE, images.update_image),
    Route("DELETE", _IMAGE, images.delete_image, status=204),
    Route("POST", _IMAGE + "/actions/deactivate", images.deactivate_image, status=204),
    Route("POST", _IMAGE + "/actions/reactivate", images.reactivate_image, status=204),
    Route("PUT", _IMAGE + "/tags/{tag}", images.add_tag, status=204),
    Route("DELETE", _IMAGE + "/tags/{tag}", images.delete_tag, status=204),
    # data
    Route("PUT", _IMAGE + "/file", data.upload_image_data, status=204),
    Route("GET", _IMAGE + "/file", data.download_image_data),
    # members
    Route("GET", _IMAGE + "/members", members.list_members),
    Route("POST", _IMAGE + "/members", members.create_member),
    Route("GET", _MEMBER, members.show_member),
    Route("PUT", _MEMBER, members.update_member),
    Route("DELETE", _MEMBER, members.delete_member, status=204),
    # schemas
    Route("GET", "/v2/schemas/image", jsonschemas.show_image_schema),
    Route("GET", "/v2/schemas/images", jsonschemas.show_images_schema),
    Route("GET", "/v2/schemas/member", jsonschemas.show_member_schema),
    Route("GET", "/v2/schemas/members", jsonschemas.show_members_schema),
]


def add_to(router: APIRouter) -> None:
    add_routes(router, ROUTES, prefix=prefix(SERVICE))


def register(formats: FaultFormats, regions: list[str]) -> None:
    """Answer errors under every region's ``/image`` in Glance's fault format."""
    register_faults(formats, regions, SERVICE, glance_fault)
