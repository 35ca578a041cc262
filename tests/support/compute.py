"""Helpers for compute tests: a Nova HTTP client at a microversion, Nova fault checks."""

from __future__ import annotations

import json
from typing import Any

import httpx

from tests.support.faults import assert_named_fault
from tests.support.gateway import ServedGateway

REGION = "RegionOne"


def compute_root(gateway: ServedGateway) -> str:
    """The unversioned compute endpoint of the test region."""
    return f"{gateway.url}/{REGION}/compute"


def nova(gateway: ServedGateway, token: str, version: str | None = None) -> httpx.Client:
    """An httpx client on ``.../compute/v2.1``, asking for ``version`` if given."""
    headers = {"X-Auth-Token": token}
    if version is not None:
        headers["OpenStack-API-Version"] = f"compute {version}"
    return httpx.Client(base_url=f"{compute_root(gateway)}/v2.1", headers=headers, timeout=30)


#: Nova's fault body is one named object
assert_nova_fault = assert_named_fault


def cli_json(gateway: ServedGateway, cloud: str, *args: str) -> Any:
    """Run an ``openstack`` command with ``-f json`` and parse what it prints."""
    return json.loads(gateway.cli(cloud, *args, "-f", "json").stdout)
