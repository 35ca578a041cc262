"""volumes keep the admin metadata Cinder shows in ``metadata`` (``readonly`` once set)

Revision ID: 0005_volume_admin_metadata
Revises: 0004_volume_attach_dot
Create Date: 2026-11-25 19:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_volume_admin_metadata"
down_revision = "0004_volume_attach_dot"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("volumes", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("admin_metadata", sa.JSON(), nullable=False, server_default="{}")
        )


def downgrade() -> None:
    with op.batch_alter_table("volumes", schema=None) as batch_op:
        batch_op.drop_column("admin_metadata")
