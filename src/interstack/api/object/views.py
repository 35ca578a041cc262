"""Swift's wire formats: timestamps, response headers, and listings in plain text, JSON, XML."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any
from xml.sax.saxutils import escape, quoteattr

import orjson
from fastapi import Request
from starlette.responses import Response

from interstack.api.object.headers import VERSIONS_HEADERS, meta_headers
from interstack.errors import BadRequest, NotAcceptable
from interstack.services.object.common import TEMP_URL_KEYS
from interstack.services.object.model import (
    AccountView,
    ContainerEntry,
    ContainerView,
    LargeKind,
    ObjectEntry,
    ObjectView,
    Subdir,
)

PLAIN = "text/plain; charset=utf-8"
JSON = "application/json; charset=utf-8"
XML = "application/xml; charset=utf-8"
MEDIA_TYPES = {"plain": PLAIN, "json": JSON, "xml": XML}


def _epoch(moment: datetime) -> float:
    return moment.replace(tzinfo=UTC).timestamp()


def x_timestamp(moment: datetime | None) -> str:
    """``X-Timestamp``: Unix seconds with five decimals, as Swift writes them."""
    return f"{_epoch(moment):.5f}" if moment is not None else "0.00000"


def http_date(moment: datetime) -> str:
    """``Last-Modified``: the HTTP date, rounded up to the second as Swift does."""
    seconds = math.ceil(_epoch(moment))
    return format_datetime(datetime.fromtimestamp(seconds, UTC), usegmt=True)


def listing_time(moment: datetime) -> str:
    return moment.replace(tzinfo=None).isoformat(timespec="microseconds")


def _owner_only(meta: dict[str, str], owner: bool) -> dict[str, str]:
    return meta if owner else {k: v for k, v in meta.items() if k not in TEMP_URL_KEYS}


def account_headers(view: AccountView) -> dict[str, str]:
    return {
        "X-Account-Container-Count": str(view.container_count),
        "X-Account-Object-Count": str(view.object_count),
        "X-Account-Bytes-Used": str(view.bytes_used),
        "X-Timestamp": x_timestamp(view.created_at),
        "X-Put-Timestamp": x_timestamp(view.created_at),
        "Accept-Ranges": "bytes",
        "X-Account-Storage-Policy-Policy-0-Container-Count": str(view.container_count),
        "X-Account-Storage-Policy-Policy-0-Object-Count": str(view.object_count),
        "X-Account-Storage-Policy-Policy-0-Bytes-Used": str(view.bytes_used),
        **meta_headers("account", view.meta),
    }


def container_headers(view: ContainerView, owner: bool) -> dict[str, str]:
    headers = {
        "X-Container-Object-Count": str(view.object_count),
        "X-Container-Bytes-Used": str(view.bytes_used),
        "X-Timestamp": x_timestamp(view.created_at),
        "X-Put-Timestamp": x_timestamp(view.updated_at),
        "Last-Modified": http_date(view.updated_at),
        "X-Storage-Policy": "Policy-0",
        "Accept-Ranges": "bytes",
        **meta_headers("container", _owner_only(view.meta, owner)),
    }
    if view.versioning is not None:
        headers[VERSIONS_HEADERS[view.versioning.mode]] = view.versioning.location
    if owner and view.read_acl:
        headers["X-Container-Read"] = view.read_acl
    if owner and view.write_acl:
        headers["X-Container-Write"] = view.write_acl
    return headers


def etag(view: ObjectView) -> str:
    """Large objects' combined ETag is quoted, as Swift sends it."""
    return f'"{view.etag}"' if view.large is not None else view.etag


def object_headers(view: ObjectView) -> dict[str, str]:
    headers = {
        "Content-Type": view.content_type,
        "ETag": etag(view),
        "Last-Modified": http_date(view.modified_at),
        "X-Timestamp": x_timestamp(view.modified_at),
        "Accept-Ranges": "bytes",
        **meta_headers("object", view.meta),
    }
    for name, value in view.headers.items():
        headers[name.title()] = value
    if view.delete_at is not None:
        headers["X-Delete-At"] = str(view.delete_at)
    if view.large is LargeKind.DYNAMIC and view.manifest is not None:
        headers["X-Object-Manifest"] = view.manifest
    if view.large is LargeKind.STATIC:
        headers["X-Static-Large-Object"] = "True"
    return headers


# listings -------------------------------------------------------------------------------------


def listing_format(request: Request) -> str:
    """``json``, ``xml`` or ``plain``, from ``?format=`` or else the Accept header."""
    asked = request.query_params.get("format")
    if asked is not None:
        asked = asked.lower()
        if asked in ("json", "xml", "plain"):
            return asked
        raise BadRequest(f"Invalid format {asked!r}: use json, xml or plain.")
    accept = request.headers.get("accept", "")
    if "application/json" in accept:
        return "json"
    if "application/xml" in accept or "text/xml" in accept:
        return "xml"
    if accept and not any(t in accept for t in ("text/plain", "*/*", "text/*")):
        raise NotAcceptable("Listings are available as text/plain, application/json or XML.")
    return "plain"


def head_response(request: Request, headers: dict[str, str]) -> Response:
    """A HEAD of an account or container: its headers, typed as its listing would be."""
    media = MEDIA_TYPES[listing_format(request)]
    return Response(status_code=204, headers={**headers, "Content-Type": media})


def _json_entry(entry: ObjectEntry | ContainerEntry | Subdir) -> dict[str, Any]:
    if isinstance(entry, Subdir):
        return {"subdir": entry.name}
    if isinstance(entry, ContainerEntry):
        return {
            "name": entry.name,
            "count": entry.count,
            "bytes": entry.bytes,
            "last_modified": listing_time(entry.last_modified),
        }
    return {
        "name": entry.name,
        "hash": entry.hash,
        "bytes": entry.bytes,
        "content_type": entry.content_type,
        "last_modified": listing_time(entry.last_modified),
    }


def _xml_entry(entry: ObjectEntry | ContainerEntry | Subdir) -> str:
    if isinstance(entry, Subdir):
        return f"<subdir name={quoteattr(entry.name)}><name>{escape(entry.name)}</name></subdir>"
    tag = "container" if isinstance(entry, ContainerEntry) else "object"
    fields = "".join(
        f"<{key}>{escape(str(value))}</{key}>" for key, value in _json_entry(entry).items()
    )
    return f"<{tag}>{fields}</{tag}>"


def listing(
    request: Request,
    kind: str,
    name: str,
    entries: Sequence[ObjectEntry | ContainerEntry | Subdir],
    headers: dict[str, str],
) -> Response:
    """A listing response: 204 for an empty plain one, as Swift answers."""
    form = listing_format(request)
    if form == "json":
        body = orjson.dumps([_json_entry(e) for e in entries])
    elif form == "xml":
        inner = "".join(_xml_entry(e) for e in entries)
        body = (
            f'<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<{kind} name={quoteattr(name)}>{inner}</{kind}>"
        ).encode()
    else:
        if not entries:
            return Response(status_code=204, headers={**headers, "Content-Type": PLAIN})
        body = "".join(e.name + "\n" for e in entries).encode()
    return Response(body, status_code=200, headers=headers, media_type=MEDIA_TYPES[form])
