"""servers: deleted_at (deleted rows stay for admins), old_flavor (resize until confirmed)

Revision ID: 0004_servers
Revises: 0003_compute
Create Date: 2026-11-25 12:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_servers"
down_revision = "0003_compute"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("compute_servers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("deleted_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("old_flavor", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("compute_servers", schema=None) as batch_op:
        batch_op.drop_column("old_flavor")
        batch_op.drop_column("deleted_at")
