"""a volume attachment keeps its device role tag (Nova's block device tag)

Revision ID: 0006_volume_attach_tag
Revises: 0005_volume_admin_metadata
Create Date: 2026-11-25 23:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_volume_attach_tag"
down_revision = "0005_volume_admin_metadata"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("volume_attachments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("tag", sa.String(length=60), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("volume_attachments", schema=None) as batch_op:
        batch_op.drop_column("tag")
