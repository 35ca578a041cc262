"""a volume attachment remembers whether the volume goes with its server

Revision ID: 0004_volume_attach_dot
Revises: 0003_volume
Create Date: 2026-11-25 17:20:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_volume_attach_dot"
down_revision = "0003_volume"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("volume_attachments", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "delete_on_termination", sa.Boolean(), nullable=False, server_default=sa.false()
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("volume_attachments", schema=None) as batch_op:
        batch_op.drop_column("delete_on_termination")
