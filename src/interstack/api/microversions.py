"""Microversion negotiation for the services that have them (Nova: compute, Cinder: volume).

A client asks with ``OpenStack-API-Version: <service> X.Y`` (several services may share the header,
comma-separated) or, for Nova before 2.27, ``X-OpenStack-Nova-API-Version: X.Y``; ``latest`` means
the maximum. No header means the service's default (2.1 for Nova, 3.0 for Cinder). A malformed
version is a 400, one outside [min, max] a 406. The chosen version is echoed in the response
headers, with ``Vary`` naming the request headers that chose it.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from functools import total_ordering

from fastapi import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from interstack.errors import BadRequest, NotAcceptable

STANDARD_HEADER = "openstack-api-version"
_VERSION = re.compile(r"^([1-9]\d*)\.(0|[1-9]\d*)$")
STATE_KEY = "microversion_headers"


@total_ordering
@dataclass(frozen=True)
class APIVersion:
    major: int
    minor: int

    @classmethod
    def parse(cls, text: str) -> APIVersion:
        match = _VERSION.match(text.strip())
        if match is None:
            raise BadRequest(
                f"API Version String {text.strip()!r} is of invalid format. "
                "Must be of format MajorNum.MinorNum."
            )
        return cls(int(match.group(1)), int(match.group(2)))

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, APIVersion):
            return NotImplemented
        return (self.major, self.minor) < (other.major, other.minor)

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}"


@dataclass(frozen=True)
class VersionRange:
    """The microversions one service supports, and how clients ask for them."""

    service_type: str
    minimum: APIVersion
    maximum: APIVersion
    default: APIVersion
    legacy_header: str | None = None

    def __post_init__(self) -> None:
        if not self.minimum <= self.default <= self.maximum:
            raise ValueError(f"{self.service_type}: default must lie within [min, max]")

    def requested(self, headers: Mapping[str, str]) -> str | None:
        """The version text the client asked for, or None."""
        standard = headers.get(STANDARD_HEADER)
        if standard:
            for entry in standard.split(","):
                parts = entry.strip().split(None, 1)
                if len(parts) == 2 and parts[0].lower() == self.service_type:
                    return parts[1].strip()
        if self.legacy_header:
            legacy = headers.get(self.legacy_header.lower())
            if legacy:
                return legacy.strip()
        return None

    def negotiate(self, headers: Mapping[str, str]) -> APIVersion:
        text = self.requested(headers)
        if text is None:
            return self.default
        if text.lower() == "latest":
            return self.maximum
        version = APIVersion.parse(text)
        if not self.minimum <= version <= self.maximum:
            raise NotAcceptable(
                f"Version {version} is not supported by the API. "
                f"Minimum is {self.minimum} and maximum is {self.maximum}."
            )
        return version

    def response_headers(self, version: APIVersion) -> dict[str, str]:
        headers = {"OpenStack-API-Version": f"{self.service_type} {version}"}
        vary = ["OpenStack-API-Version"]
        if self.legacy_header:
            headers[self.legacy_header] = str(version)
            vary.append(self.legacy_header)
        headers["Vary"] = ", ".join(vary)
        return headers


def microversion(versions: VersionRange) -> Callable[[Request], Awaitable[APIVersion]]:
    """A dependency: the negotiated version of this request (400/406 if unusable).

    It also leaves the response headers for :class:`MicroversionHeadersMiddleware` to add, so
    that every answer, errors included, says which version served it.
    """

    # ``async``: negotiation never blocks, and a plain function would cost every request a
    # trip through the thread pool before its handler's own
    async def dependency(request: Request) -> APIVersion:
        request.scope.setdefault("state", {})[STATE_KEY] = versions.response_headers(
            versions.default
        )
        version = versions.negotiate(request.headers)
        request.scope["state"][STATE_KEY] = versions.response_headers(version)
        return version

    return dependency


class MicroversionHeadersMiddleware:
    """Adds the microversion headers that a request's negotiation left in its scope state."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_version(message: Message) -> None:
            if message["type"] == "http.response.start":
                extra = scope.get("state", {}).get(STATE_KEY)
                if extra:
                    headers = list(message.get("headers", []))
                    headers.extend((k.lower().encode(), v.encode()) for k, v in extra.items())
                    message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_version)
