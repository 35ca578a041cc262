"""object containers keep their versioned-writes settings

Revision ID: 0004_object_versions
Revises: 0003_object
Create Date: 2026-11-25 16:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_object_versions"
down_revision = "0003_object"
branch_labels = None
depends_on = None


def upgrade() -> None:
    name = sa.String(length=256).with_variant(sa.String(length=256, collation="C"), "postgresql")
    with op.batch_alter_table("object_containers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("versions_location", name, nullable=True))
        batch_op.add_column(sa.Column("versions_mode", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("object_containers", schema=None) as batch_op:
        batch_op.drop_column("versions_mode")
        batch_op.drop_column("versions_location")
