"""network: subnet pools and per-project network quotas

Revision ID: 0004_network_pools_quotas
Revises: 0003_network
Create Date: 2026-11-25 12:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_network_pools_quotas"
down_revision = "0003_network"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "subnet_pools",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("region", sa.String(length=64), nullable=False),
        sa.Column("project_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("ip_version", sa.Integer(), nullable=False),
        sa.Column("prefixes", sa.JSON(), nullable=False),
        sa.Column("default_prefixlen", sa.Integer(), nullable=False),
        sa.Column("min_prefixlen", sa.Integer(), nullable=False),
        sa.Column("max_prefixlen", sa.Integer(), nullable=False),
        sa.Column("shared", sa.Boolean(), nullable=False),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("subnet_pools", schema=None) as batch_op:
        batch_op.create_index(
            "ix_subnet_pools_region_project", ["region", "project_id"], unique=False
        )
    op.create_table(
        "network_quotas",
        sa.Column("region", sa.String(length=64), nullable=False),
        sa.Column("project_id", sa.String(length=64), nullable=False),
        sa.Column("resource", sa.String(length=64), nullable=False),
        sa.Column("hard_limit", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("region", "project_id", "resource"),
    )


def downgrade() -> None:
    op.drop_table("network_quotas")
    with op.batch_alter_table("subnet_pools", schema=None) as batch_op:
        batch_op.drop_index("ix_subnet_pools_region_project")
    op.drop_table("subnet_pools")
