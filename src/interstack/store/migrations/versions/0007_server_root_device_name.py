"""servers: the device each server's root is at (Nova's root_device_name)

Revision ID: 0007_server_root_device_name
Revises: 0006_server_local_disks
Create Date: 2026-11-26 18:20:00.000000

A server created before this revision keeps none: it is shown at /dev/vda, as it booted.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_server_root_device_name"
down_revision = "0006_server_local_disks"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("compute_servers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("root_device_name", sa.String(255), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("compute_servers", schema=None) as batch_op:
        batch_op.drop_column("root_device_name")
