"""The migrations build exactly the schema the models declare, on both databases.

A model change without its migration (or a migration without its model change) fails here, before
it can fail on an operator's upgraded database.
"""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from interstack.store import Database
from interstack.store.models import Base


def test_no_drift_between_models_and_migrations(database_url: str) -> None:
    db = Database(database_url)
    try:
        db.migrate()
        with db.engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            drift = compare_metadata(context, Base.metadata)
        assert drift == [], f"models and migrations disagree: {drift}"
    finally:
        db.dispose()
