"""ASGI middleware: a request id on every response, the same id in the logs."""

from __future__ import annotations

import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUEST_ID_HEADER = b"x-openstack-request-id"
#: Nova answers the id under its older name too; Tempest reads it to find instance actions
COMPUTE_REQUEST_ID_HEADER = b"x-compute-request-id"


def _is_compute(path: str) -> bool:
    """``/{region}/compute/...``: the regional Nova API."""
    parts = path.split("/", 3)
    return len(parts) > 2 and parts[2] == "compute"


class RequestIdMiddleware:
    """Gives each request an id ``req-<uuid>`` and returns it in ``x-openstack-request-id``
    (and, for Nova, also in ``x-compute-request-id``).

    An outer middleware may have chosen the id already (Swift's transaction id doubles as it).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        request_id = state.get("request_id") or f"req-{uuid.uuid4()}"
        state["request_id"] = request_id
        names = [REQUEST_ID_HEADER]
        if _is_compute(scope["path"]):
            names.append(COMPUTE_REQUEST_ID_HEADER)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.extend((name, request_id.encode()) for name in names)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_id)
