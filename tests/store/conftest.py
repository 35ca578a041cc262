"""The store tests' fixtures: a migrated store on each kind of database, and one gateway on
PostgreSQL for the store's gateway modules: each works in a project of its own (or the demo
project's network quota only, or restarts the gateway and leaves it running), so they share it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from interstack.backends.contract import Backend
from interstack.backends.registry import load_backend
from interstack.store import Database
from tests.support.gateway import ServedGateway
from tests.support.postgres import PostgresCluster
from tests.support.routed import REGION, Routed, routed_project
from tests.support.store import migrated_store


@pytest.fixture(scope="session")
def pg_gateway(
    tmp_path_factory: pytest.TempPathFactory, postgres_cluster: PostgresCluster
) -> Iterator[ServedGateway]:
    database = {"database": postgres_cluster.create_database()}
    with ServedGateway(tmp_path_factory.mktemp("pg") / "data", config=database) as served:
        yield served


@pytest.fixture
def db(
    database_url: str,
    tmp_path: Path,
    migrated_sqlite: Callable[[Path], Database],
) -> Iterator[Database]:
    """A store migrated to the newest schema, on each kind of database the store supports (on
    SQLite a copy of the session's once-migrated file: the migrations' own tests migrate)."""
    if not database_url.startswith("sqlite:"):
        with migrated_store(database_url) as database:
            yield database
        return
    database = migrated_sqlite(tmp_path / "migrated.db")
    try:
        yield database
    finally:
        database.dispose()


@pytest.fixture
def cloud(db: Database, tmp_path: Path) -> Iterator[Backend]:
    """A started sim cloud (region ``R``) on the test's store."""
    backend = load_backend("sim", REGION, {}, data_dir=tmp_path / "data", db=db)
    backend.start()
    try:
        yield backend
    finally:
        backend.close()


@pytest.fixture
def routed(db: Database, cloud: Backend) -> Routed:
    """A new project's network services over ``cloud``, with a network and a router."""
    return routed_project(db, cloud)
