"""Fixtures shared by the unit tests."""

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from interstack.config import RegionConfig
from interstack.services.container import Services
from interstack.services.regions import Regions
from interstack.store import Database
from tests.support.image import started_services


@pytest.fixture
def db(tmp_path: Path, migrated_sqlite: Callable[[Path], Database]) -> Iterator[Database]:
    """A migrated SQLite store of the test's own."""
    database = migrated_sqlite(tmp_path / "store.db")
    yield database
    database.dispose()


@pytest.fixture
def sim_regions(db: Database, tmp_path: Path) -> Iterator[Regions]:
    """One sim region, ``R``, started on the test's store."""
    regions = Regions.load([RegionConfig(name="R", backend="sim")], db=db, data_dir=tmp_path)
    regions.start()
    yield regions
    regions.close()


@pytest.fixture(scope="module")
def services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    """The gateway's services on a sim region, one set per module (a module needing a fresh set
    per test defines its own)."""
    with started_services(tmp_path_factory.mktemp("services") / "data") as found:
        yield found
