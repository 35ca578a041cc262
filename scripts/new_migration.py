"""Generate an Alembic revision from the difference between models.py and the migrations.

Usage: python scripts/new_migration.py "what changed" 0002_short_name [parent_revision]

The store has one branch per area (compute, network, volume, ...): name the revision the new one
follows (e.g. 0007_volume_attach_boot_index) when there is more than one head.
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
    parent = sys.argv[3] if len(sys.argv) > 3 else "head"
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite:///{Path(tmp) / 'autogen.db'}")
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS_DIR))
        config.set_main_option("file_template", "%%(rev)s")  # versions/<rev_id>.py
        with db.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "heads")
            command.revision(config, message=message, autogenerate=True, rev_id=rev_id, head=parent)
        db.dispose()


if __name__ == "__main__":
    main()
