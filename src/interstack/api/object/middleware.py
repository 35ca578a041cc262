"""``X-Trans-Id`` on every Swift response (errors included), as Swift's proxy sends it."""

from __future__ import annotations

import re
import time
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

_SWIFT_PATH = re.compile(r"^(/[^/]+/object(/|$)|/info$)")


def trans_id() -> str:
    """Swift's form: ``tx`` + 21 hex digits + ``-`` + the time in hex."""
    return f"tx{uuid.uuid4().hex[:21]}-{int(time.time()):010x}"


class TransIdMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _SWIFT_PATH.match(scope["path"]):
            await self.app(scope, receive, send)
            return
        value = trans_id().encode()

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (b"x-trans-id", value)]
            await send(message)

        await self.app(scope, receive, send_with_id)
