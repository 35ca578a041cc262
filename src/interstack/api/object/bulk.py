"""Bulk delete (``POST ?bulk-delete``) and the results body it shares with
``?multipart-manifest=delete``, in the format the Accept header asks for."""

from __future__ import annotations

from urllib.parse import unquote

import orjson
from fastapi import Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from interstack.api.deps import ServicesDep
from interstack.api.object.requests import read_bounded
from interstack.errors import BadRequest
from interstack.services.object.access import Requester
from interstack.services.object.model import BulkDeleteResult, ObjectPath


def _status(result: BulkDeleteResult) -> str:
    return "400 Bad Request" if result.errors else "200 OK"


def result_response(request: Request, result: BulkDeleteResult) -> Response:
    """Swift's bulk result: always 200, the outcome in ``Response Status`` and ``Errors``."""
    fields: dict[str, object] = {
        "Number Deleted": result.deleted,
        "Number Not Found": result.not_found,
        "Response Body": "",
        "Response Status": _status(result),
        "Errors": [list(error) for error in result.errors],
    }
    accept = request.headers.get("accept", "")
    if "application/json" in accept:
        return Response(orjson.dumps(fields), media_type="application/json")
    if "xml" in accept:
        inner = "".join(
            f"<{k.lower().replace(' ', '_')}>{v}</{k.lower().replace(' ', '_')}>"
            for k, v in fields.items()
            if k != "Errors"
        )
        errors = "".join(
            f"<object><name>{name}</name><status>{status}</status></object>"
            for name, status in result.errors
        )
        body = (
            f'<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<delete>{inner}<errors>{errors}</errors></delete>"
        )
        return Response(body, media_type="application/xml")
    lines = [f"{k}: {v}" for k, v in fields.items() if k != "Errors"]
    lines.append("Errors:")
    lines += [f"{name}, {status}" for name, status in result.errors]
    return Response("\n".join(lines) + "\n", media_type="text/plain")


def _targets(body: bytes, account: ObjectPath, limit: int) -> list[ObjectPath]:
    targets: list[ObjectPath] = []
    for raw in body.decode("utf-8", errors="replace").splitlines():
        line = unquote(raw.strip())
        if not line:
            continue
        container, _, name = line.lstrip("/").partition("/")
        targets.append(ObjectPath(account.region, account.account, container, name))
    if len(targets) > limit:
        raise BadRequest(f"Maximum Bulk Deletes: {limit} per request.")
    return targets


async def bulk_delete(
    request: Request, account: ObjectPath, services: ServicesDep, who: Requester
) -> Response:
    """Delete the objects (and empty containers) named one per line in the body."""
    store = services.object_storage
    body = await read_bounded(request, store.limits.max_bulk_body_size, "bulk delete list")
    targets = _targets(body, account, store.limits.max_deletes_per_request)
    result = await run_in_threadpool(store.bulk_delete, who, targets)
    return result_response(request, result)
