"""Shared fixtures: one served gateway per test session, fresh ones where a test needs its own."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.gateway import ServedGateway


@pytest.fixture(scope="session")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedGateway]:
    """A gateway shared by the tests that only read or create uniquely named things."""
    served = ServedGateway(tmp_path_factory.mktemp("gateway") / "data").start()
    yield served
    served.stop()


@pytest.fixture
def fresh_gateway(tmp_path: Path) -> Iterator[ServedGateway]:
    """A gateway of the test's own, for restarts and state the test must control."""
    served = ServedGateway(tmp_path / "data")
    yield served
    served.stop()


@pytest.fixture(scope="session")
def admin_token(gateway: ServedGateway) -> str:
    return gateway.token("interstack-admin")


@pytest.fixture(scope="session")
def demo_token(gateway: ServedGateway) -> str:
    return gateway.token("interstack")
