"""Swift tests share the session's gateway: an HTTP client on the demo project's account for
each module, and a new container of the demo's for each test that asks for one."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.support.gateway import ServedGateway
from tests.support.identity import unique
from tests.support.swift import swift_client


@pytest.fixture(scope="module")
def swift(gateway: ServedGateway, demo_token: str) -> Iterator[httpx.Client]:
    with swift_client(gateway, demo_token) as http:
        yield http


@pytest.fixture
def container(swift: httpx.Client) -> str:
    name = unique("c")
    assert swift.put(f"/{name}").status_code == 201
    return name
