"""Generate an Alembic revision from the difference between models.py and the migrations.

Usage: python scripts/new_migration.py "what changed" 0002_short_name
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from alembic import command
from alembic.config import Config

from interstack.store.db import MIGRATIONS_DIR, Database


def main() -> None:
    message, rev_id = sys.argv[1], sys.argv[2]
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite:///{Path(tmp) / 'autogen.db'}")
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS_DIR))
        with db.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
            command.revision(config, message=message, autogenerate=True, rev_id=rev_id)
        db.dispose()


if __name__ == "__main__":
    main()
