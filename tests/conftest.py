"""Shared fixtures: one served gateway per test session, fresh ones where a test needs its own;
databases of both kinds the store supports (SQLite, and PostgreSQL started by the tests)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.gateway import ServedGateway
from tests.support.postgres import (
    SKIP_ENV,
    PostgresCluster,
    PostgresUnavailable,
    remove_abandoned_clusters,
)


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


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PostgresCluster]:
    """A throwaway PostgreSQL cluster for the whole session, removed at the end.

    Missing binaries fail the test (``make deps`` installs them); set INTERSTACK_SKIP_POSTGRES=1
    to skip the PostgreSQL tests on a developer machine instead.
    """
    if os.environ.get(SKIP_ENV) == "1":
        pytest.skip(f"PostgreSQL tests skipped: {SKIP_ENV}=1")
    try:
        remove_abandoned_clusters()
        cluster = PostgresCluster()
    except PostgresUnavailable as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def postgres_url(postgres_cluster: PostgresCluster) -> str:
    """A new, empty PostgreSQL database (``postgresql+psycopg://...``) for one test."""
    return postgres_cluster.create_database()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database of each kind the store supports: a SQLite file, a PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url
