"""``/v2/schemas/*``: the JSON Schemas clients (glanceclient) read to validate and render images.

They describe exactly what this gateway accepts: the core properties with their types and
enums, read-only ones marked ``readOnly``, custom properties as strings.
"""

from __future__ import annotations

from typing import Any

from interstack.api.deps import Caller
from interstack.api.regional import Region
from interstack.api.responses import OrjsonResponse, json_response
from interstack.services.image.model import (
    CONTAINER_FORMATS,
    DISK_FORMATS,
    HASH_ALGO,
    ImageStatus,
    MemberStatus,
    Visibility,
)

_NULLABLE_STRING = {"type": ["null", "string"], "maxLength": 255}
_READ_ONLY_STRING = {"type": ["null", "string"], "readOnly": True}
_TIMESTAMP = {"type": "string", "readOnly": True, "description": "ISO 8601 time, UTC"}


def _image_properties() -> dict[str, Any]:
    return {
        "id": {
            "type": "string",
            "pattern": "^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}"
            "-([0-9a-fA-F]){4}-([0-9a-fA-F]){12}$",
        },
        "name": _NULLABLE_STRING,
        "status": {"type": "string", "readOnly": True, "enum": [s.value for s in ImageStatus]},
        "visibility": {"type": "string", "enum": [v.value for v in Visibility]},
        "protected": {"type": "boolean"},
        "os_hidden": {"type": "boolean"},
        "owner": _NULLABLE_STRING,
        "container_format": {"type": ["null", "string"], "enum": [None, *CONTAINER_FORMATS]},
        "disk_format": {"type": ["null", "string"], "enum": [None, *DISK_FORMATS]},
        "size": {"type": ["null", "integer"], "readOnly": True},
        "virtual_size": {"type": ["null", "integer"], "readOnly": True},
        "checksum": {**_READ_ONLY_STRING, "maxLength": 32},
        "os_hash_algo": {**_READ_ONLY_STRING, "description": f"{HASH_ALGO} for uploads"},
        "os_hash_value": {**_READ_ONLY_STRING, "maxLength": 128},
        "min_disk": {"type": "integer", "minimum": 0},
        "min_ram": {"type": "integer", "minimum": 0},
        "tags": {"type": "array", "items": {"type": "string", "maxLength": 255}},
        "created_at": _TIMESTAMP,
        "updated_at": _TIMESTAMP,
        "self": {"type": "string", "readOnly": True},
        "file": {"type": "string", "readOnly": True},
        "schema": {"type": "string", "readOnly": True},
    }


def image_schema() -> dict[str, Any]:
    return {
        "name": "image",
        "properties": _image_properties(),
        "additionalProperties": {"type": "string"},
        "links": [
            {"rel": "self", "href": "{self}"},
            {"rel": "enclosure", "href": "{file}"},
            {"rel": "describedby", "href": "{schema}"},
        ],
    }


def member_schema() -> dict[str, Any]:
    return {
        "name": "member",
        "properties": {
            "image_id": {"type": "string", "readOnly": True},
            "member_id": {"type": "string", "readOnly": True},
            "status": {"type": "string", "enum": [s.value for s in MemberStatus]},
            "created_at": _TIMESTAMP,
            "updated_at": _TIMESTAMP,
            "schema": {"type": "string", "readOnly": True},
        },
    }


def _collection(name: str, item: dict[str, Any], links: list[dict[str, str]]) -> dict[str, Any]:
    return {
        "name": name,
        "properties": {
            name: {"type": "array", "items": item},
            "schema": {"type": "string"},
            "first": {"type": "string"},
            "next": {"type": "string"},
        },
        "links": links,
    }


async def show_image_schema(region: Region, caller: Caller) -> OrjsonResponse:
    return json_response(image_schema())


async def show_images_schema(region: Region, caller: Caller) -> OrjsonResponse:
    links = [
        {"rel": "first", "href": "{first}"},
        {"rel": "next", "href": "{next}"},
        {"rel": "describedby", "href": "{schema}"},
    ]
    return json_response(_collection("images", image_schema(), links))


async def show_member_schema(region: Region, caller: Caller) -> OrjsonResponse:
    return json_response(member_schema())


async def show_members_schema(region: Region, caller: Caller) -> OrjsonResponse:
    links = [{"rel": "describedby", "href": "{schema}"}]
    return json_response(_collection("members", member_schema(), links))
