"""Errors become each OpenStack service's own fault body, in exactly one place.

Every error that reaches the app is an :class:`InterstackError` (or is turned into one here); its
status and message go into the body format of the service the request was for, chosen by path
prefix. Nothing else is ever shown: an unexpected exception is logged with its trace and answered
with a generic message.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import Response

from interstack.api.responses import json_response
from interstack.errors import (
    BadRequest,
    InterstackError,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
)

log = logging.getLogger(__name__)

FaultBody = Callable[[InterstackError], Any]
"""Builds a service's JSON fault body from an error."""

_STATUS_PHRASES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    406: "Not Acceptable",
    409: "Conflict",
    411: "Length Required",
    412: "Precondition Failed",
    413: "Request Entity Too Large",
    415: "Unsupported Media Type",
    416: "Requested Range Not Satisfiable",
    422: "Unprocessable Entity",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


def keystone_fault(error: InterstackError) -> Any:
    return {"error": {"code": error.status, "title": error.title, "message": error.message}}


_NOVA_NAMES = {
    400: "badRequest",
    401: "unauthorized",
    403: "forbidden",
    404: "itemNotFound",
    405: "badMethod",
    406: "notAcceptable",
    409: "conflictingRequest",
    413: "overLimit",
    501: "notImplemented",
    503: "serviceUnavailable",
}


def nova_fault(error: InterstackError) -> Any:
    """Nova's (and Cinder's) format: ``{"itemNotFound": {"code": 404, "message": ...}}``."""
    name = _NOVA_NAMES.get(error.status, "computeFault")
    return {name: {"code": error.status, "message": error.message}}


_CINDER_NAMES = {
    400: "badRequest",
    401: "unauthorized",
    403: "forbidden",
    404: "itemNotFound",
    405: "badMethod",
    409: "conflictingRequest",
    413: "overLimit",
    415: "badMediaType",
    501: "notImplemented",
    503: "serviceUnavailable",
}


def cinder_fault(error: InterstackError) -> Any:
    """Cinder's format, Nova's shape with Cinder's names (a 406 is a ``computeFault`` there)."""
    name = _CINDER_NAMES.get(error.status, "computeFault")
    return {name: {"code": error.status, "message": error.message}}


_NEUTRON_TYPES = {
    400: "HTTPBadRequest",
    401: "HTTPUnauthorized",
    403: "HTTPForbidden",
    404: "HTTPNotFound",
    405: "HTTPMethodNotAllowed",
    409: "HTTPConflict",
    413: "HTTPRequestEntityTooLarge",
}


def neutron_fault(error: InterstackError) -> Any:
    kind = error.kind or _NEUTRON_TYPES.get(error.status, "HTTPInternalServerError")
    return {"NeutronError": {"type": kind, "message": error.message, "detail": ""}}


def glance_fault(error: InterstackError) -> Any:
    """Glance's (webob's) JSON error: ``{"code": "404 Not Found", "title", "message"}``."""
    phrase = _STATUS_PHRASES.get(error.status, error.title)
    return {"code": f"{error.status} {phrase}", "title": phrase, "message": error.message}


def swift_fault(error: InterstackError) -> Response:
    """Swift answers errors with a short HTML page, not JSON."""
    phrase = _STATUS_PHRASES.get(error.status, error.title)
    body = f"<html><h1>{html.escape(phrase)}</h1><p>{html.escape(error.message)}</p></html>"
    return Response(body, status_code=error.status, media_type="text/html; charset=UTF-8")


@dataclass
class FaultFormats:
    """Which fault format answers which path prefix; the longest matching prefix wins."""

    default: FaultBody = keystone_fault
    by_prefix: dict[str, FaultBody] = field(default_factory=dict)

    def register(self, prefix: str, body: FaultBody) -> None:
        """Answer errors under ``prefix`` with ``body`` (JSON) or, if it returns one, a Response."""
        self.by_prefix[prefix.rstrip("/")] = body

    def for_path(self, path: str) -> FaultBody:
        best = ""
        chosen: FaultBody = self.default
        for prefix, body in self.by_prefix.items():
            if (path == prefix or path.startswith(prefix + "/")) and len(prefix) > len(best):
                best, chosen = prefix, body
        return chosen


def _validation_message(exc: RequestValidationError) -> str:
    errors = exc.errors()
    if not errors:
        return "Invalid input."
    first = errors[0]
    where = ".".join(str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path"))
    return f"Invalid input for {where or 'request'}: {first.get('msg', 'invalid value')}."


def install_fault_handlers(app: FastAPI, formats: FaultFormats, auth_uri: str) -> None:
    """Register the handlers that turn every error into the right service's fault."""

    def render(request: Request, error: InterstackError) -> Response:
        headers: dict[str, str] = {}
        if error.status == 401:
            headers["WWW-Authenticate"] = f'Keystone uri="{auth_uri}"'
        body = formats.for_path(request.url.path)(error)
        if isinstance(body, Response):
            body.headers.update(headers)
            return body
        return json_response(body, status=error.status, headers=headers)

    async def on_interstack_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, InterstackError)
        if exc.status >= 500:
            log.error("request %s failed: %s", request.url.path, exc.message, exc_info=exc)
        return render(request, exc)

    async def on_http_exception(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        mapped: InterstackError
        if exc.status_code == 404:
            mapped = NotFound("The resource could not be found.")
        elif exc.status_code == 405:
            mapped = MethodNotAllowed("The method is not allowed for the requested URL.")
        elif exc.status_code == 413:
            mapped = PayloadTooLarge("Request is too large.")
        elif exc.status_code < 500:
            mapped = BadRequest(str(exc.detail))
            mapped.status = exc.status_code
        else:
            mapped = InterstackError()
        return render(request, mapped)

    async def on_validation_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        return render(request, BadRequest(_validation_message(exc)))

    async def on_unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unexpected error serving %s %s", request.method, request.url.path)
        return render(request, InterstackError())

    app.add_exception_handler(InterstackError, on_interstack_error)
    app.add_exception_handler(HTTPException, on_http_exception)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(Exception, on_unexpected)
