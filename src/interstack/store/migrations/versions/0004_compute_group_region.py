"""server groups belong to a region

Revision ID: 0004_compute_group_region
Revises: 0003_compute
Create Date: 2026-11-25 13:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_compute_group_region"
down_revision = "0003_compute"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("compute_server_groups", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("region", sa.String(length=64), nullable=False, server_default="")
        )


def downgrade() -> None:
    with op.batch_alter_table("compute_server_groups", schema=None) as batch_op:
        batch_op.drop_column("region")
