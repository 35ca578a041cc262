"""Swift request headers read into domain values: metadata, ACLs, expiry, content type."""

from __future__ import annotations

import mimetypes
from collections.abc import Mapping
from urllib.parse import unquote

from starlette.datastructures import Headers

from interstack.errors import BadRequest, LengthRequired
from interstack.services.object.model import (
    AclUpdate,
    MetaUpdate,
    PutSpec,
    Versioning,
    VersioningUpdate,
    VersionsMode,
)

#: headers Swift keeps with an object besides its metadata
KEPT_OBJECT_HEADERS = ("content-disposition", "content-encoding")
_TRUE = {"true", "1", "yes", "on", "t", "y"}


def truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in _TRUE


def meta_update(headers: Headers, kind: str) -> MetaUpdate:
    """``X-<kind>-Meta-*`` to set, ``X-Remove-<kind>-Meta-*`` or an empty value to remove."""
    set_prefix, remove_prefix = f"x-{kind}-meta-", f"x-remove-{kind}-meta-"
    to_set: dict[str, str] = {}
    to_remove: set[str] = set()
    for name, value in headers.items():
        if name.startswith(remove_prefix):
            to_remove.add(name[len(remove_prefix) :])
        elif name.startswith(set_prefix):
            key = name[len(set_prefix) :]
            if value.strip():
                to_set[key] = value.strip()
            else:
                to_remove.add(key)
    return MetaUpdate(to_set, frozenset(to_remove - set(to_set)))


def object_meta(headers: Headers) -> dict[str, str]:
    """An object's metadata as a PUT or POST gives it whole."""
    return meta_update(headers, "object").set


def acl_update(headers: Headers) -> AclUpdate:
    def pick(kind: str) -> str | None:
        if f"x-remove-container-{kind}" in headers:
            return ""
        return headers.get(f"x-container-{kind}")

    return AclUpdate(read=pick("read"), write=pick("write"))


#: the container header naming each versioning mode's archive, as Swift's versioned_writes
VERSIONS_HEADERS = {
    VersionsMode.STACK: "X-Versions-Location",
    VersionsMode.HISTORY: "X-History-Location",
}


def versioning_update(headers: Headers) -> VersioningUpdate | None:
    """``X-Versions-Location`` (stack mode) or ``X-History-Location`` (history mode); their
    ``X-Remove-`` forms or an empty value turn versioning off; None: not mentioned."""
    chosen: list[Versioning] = []
    removed = False
    for mode, header in VERSIONS_HEADERS.items():
        name = header.lower()
        value = headers.get(name)
        if f"x-remove-{name.removeprefix('x-')}" in headers or (value is not None and not value):
            removed = True
        elif value is not None and value.strip():
            chosen.append(Versioning(unquote(value.strip()), mode))
    if len(chosen) > 1:
        raise BadRequest("Only one of X-Versions-Location or X-History-Location may be set.")
    if chosen:
        return VersioningUpdate(chosen[0])
    return VersioningUpdate(None) if removed else None


def container_changes(headers: Headers) -> tuple[MetaUpdate, AclUpdate, VersioningUpdate | None]:
    """What a container PUT or POST asks to change: metadata, ACLs, versioning."""
    return meta_update(headers, "container"), acl_update(headers), versioning_update(headers)


def delete_at(headers: Headers, now: float) -> int | None:
    """``X-Delete-At`` (Unix seconds) or ``X-Delete-After`` (seconds from now); 400 if bad."""
    after = headers.get("x-delete-after")
    if after is not None:
        try:
            seconds = int(after)
        except ValueError:
            raise BadRequest("Non-integer X-Delete-After.") from None
        if seconds < 0:
            raise BadRequest("X-Delete-After in past.")
        return int(now) + seconds
    at = headers.get("x-delete-at")
    if at is None:
        return None
    try:
        value = int(float(at))
    except ValueError:
        raise BadRequest("Non-integer X-Delete-At.") from None
    if value < now:
        raise BadRequest("X-Delete-At in past.")
    return value


def content_type(headers: Headers, object_name: str) -> str:
    """The Content-Type sent, or one guessed from the name (always with X-Detect-Content-Type)."""
    sent = headers.get("content-type")
    if sent and not truthy(headers.get("x-detect-content-type")):
        return sent
    guessed, _ = mimetypes.guess_type(object_name)
    return guessed or "application/octet-stream"


def content_length(headers: Headers) -> int | None:
    """The announced body length; None for a chunked body; 411 when neither is given."""
    raw = headers.get("content-length")
    if raw is None:
        if "chunked" in headers.get("transfer-encoding", "").lower():
            return None
        raise LengthRequired("Length Required: send Content-Length or a chunked body.")
    if not raw.isdigit():
        raise BadRequest("Invalid Content-Length.")
    return int(raw)


def kept_headers(headers: Headers) -> dict[str, str]:
    return {name: headers[name] for name in KEPT_OBJECT_HEADERS if name in headers}


def put_spec(headers: Headers, object_name: str, now: float, *, body: bool = True) -> PutSpec:
    """What an object PUT asks for besides its bytes."""
    if_none_match = headers.get("if-none-match")
    if if_none_match is not None and if_none_match.strip() != "*":
        raise BadRequest("Only If-None-Match: * is supported on PUT.")
    return PutSpec(
        content_type=content_type(headers, object_name),
        meta=object_meta(headers),
        headers=kept_headers(headers),
        etag=headers.get("etag"),
        content_length=content_length(headers) if body else None,
        delete_at=delete_at(headers, now),
        manifest=headers.get("x-object-manifest"),
        if_none_match_any=if_none_match is not None,
    )


def meta_headers(kind: str, meta: Mapping[str, str]) -> dict[str, str]:
    """``X-<Kind>-Meta-<Key>`` response headers, title-cased as Swift shows them."""
    title = kind.title()
    return {f"X-{title}-Meta-{key.title()}": value for key, value in meta.items()}
