"""Shared fixtures: one served gateway per test session, fresh ones where a test needs its own;
databases of both kinds the store supports (SQLite, and PostgreSQL started by the tests)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import openstack.utils
import pytest

from interstack.store import Database
from tests.support import sdk_looks
from tests.support.gateway import ServedGateway
from tests.support.postgres import (
    SKIP_ENV,
    PostgresCluster,
    PostgresUnavailable,
    remove_abandoned_clusters,
)
from tests.support.store import migrated_store


@pytest.fixture(scope="session", autouse=True)
def quicker_sdk_looks() -> Iterator[None]:
    """openstacksdk's waits (the cloud layer's ``wait=True``, a proxy's ``wait_for_*`` without
    an interval) look every 0.2 s instead of every 2-5 s: tests/support/sdk_looks.py."""
    with pytest.MonkeyPatch.context() as patch:
        looks = sdk_looks.shortened(openstack.utils.iterate_timeout)
        patch.setattr(openstack.utils, "iterate_timeout", looks)
        yield


@pytest.fixture(scope="session")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedGateway]:
    """A gateway shared by the tests that only read or create uniquely named things."""
    with ServedGateway(tmp_path_factory.mktemp("gateway") / "data") as served:
        yield served


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
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Callable[[Path], Database]:
    """Makes a migrated SQLite store at a path: a copy of one store migrated once a session
    (alembic takes about half a second a store, the copy is the same file)."""
    template = tmp_path_factory.mktemp("migrated") / "store.db"
    with migrated_store(f"sqlite:///{template}"):
        pass  # closed after: the last connection's close folds the WAL into the file

    def copy(path: Path) -> Database:
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(template, path)
        return Database(f"sqlite:///{path}")

    return copy


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
