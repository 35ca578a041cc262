"""Fault checks shared by the services whose faults are one named object (Nova, Cinder)."""

from __future__ import annotations

import httpx


def assert_named_fault(response: httpx.Response, code: int, name: str) -> str:
    """The response is the fault ``{name: {code, message}}``; returns the message."""
    assert response.status_code == code, response.text
    body = response.json()
    assert list(body) == [name], body
    assert body[name]["code"] == code
    message: str = body[name]["message"]
    assert message and "Traceback" not in response.text
    return message
