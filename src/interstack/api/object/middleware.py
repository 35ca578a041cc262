"""The headers every Swift response carries, errors and empty answers included, as Swift's
proxy sends them: ``X-Trans-Id`` (also the ``X-Openstack-Request-Id``), a Content-Type and,
on a 204, ``Content-Length: 0``."""

from __future__ import annotations

import re
import time
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

_SWIFT_PATH = re.compile(r"^(/[^/]+/object(/|$)|/info$)")
#: what Swift names an empty (or HTML) body
EMPTY_BODY_TYPE = b"text/html; charset=UTF-8"


def trans_id() -> str:
    """Swift's form: ``tx`` + 21 hex digits + ``-`` + the time in hex."""
    return f"tx{uuid.uuid4().hex[:21]}-{int(time.time()):010x}"


def _complete(headers: list[tuple[bytes, bytes]], status: int, value: bytes) -> None:
    names = {name.lower() for name, _ in headers}
    headers[:] = [(n, v) for n, v in headers if n.lower() != b"x-openstack-request-id"]
    headers += [(b"x-trans-id", value), (b"x-openstack-request-id", value)]
    if b"content-type" not in names:
        headers.append((b"content-type", EMPTY_BODY_TYPE))
    if status == 204 and b"content-length" not in names and b"transfer-encoding" not in names:
        headers.append((b"content-length", b"0"))


class TransIdMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _SWIFT_PATH.match(scope["path"]):
            await self.app(scope, receive, send)
            return
        value = trans_id()
        scope.setdefault("state", {})["request_id"] = value

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                _complete(headers, message["status"], value.encode())
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_id)
