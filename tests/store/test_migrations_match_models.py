"""The migrations build exactly the schema the models declare, on both databases.

A model change without its migration (or a migration without its model change) fails here, before
it can fail on an operator's upgraded database.
"""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from interstack.store.models import Base
from tests.support.store import migrated_store


def test_no_drift_between_models_and_migrations(database_url: str) -> None:
    with migrated_store(database_url) as db, db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        drift = compare_metadata(context, Base.metadata)
    assert drift == [], f"models and migrations disagree: {drift}"
