"""servers: the password a guest posts to the metadata service

Revision ID: 0005_server_passwords
Revises: 0004_servers
Create Date: 2026-11-25 15:45:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_server_passwords"
down_revision = "0004_servers"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "compute_server_passwords",
        sa.Column("server_id", sa.String(length=64), nullable=False),
        sa.Column("password", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("server_id"),
    )


def downgrade() -> None:
    op.drop_table("compute_server_passwords")
