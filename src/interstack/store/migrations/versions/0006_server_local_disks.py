"""servers: the ephemeral and swap disks each server was given (Nova's blank local disks)

Revision ID: 0006_server_local_disks
Revises: 0005_server_passwords
Create Date: 2026-11-26 17:50:00.000000

A server created before this revision had none: its list is empty.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_server_local_disks"
down_revision = "0005_server_passwords"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("compute_servers", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("local_disks", sa.JSON(), nullable=False, server_default=sa.text("'[]'"))
        )


def downgrade() -> None:
    with op.batch_alter_table("compute_servers", schema=None) as batch_op:
        batch_op.drop_column("local_disks")
