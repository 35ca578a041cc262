"""tasks (the persisted task runner) and sim_resources (state of the sim backend)

Revision ID: 0002_tasks_sim
Revises: 0001_identity
Create Date: 2026-11-25 06:10:27.012788
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_tasks_sim"
down_revision = "0001_identity"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sim_resources",
        sa.Column("ref", sa.String(length=64), nullable=False),
        sa.Column("region", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("gateway_id", sa.String(length=64), nullable=True),
        sa.Column("parent", sa.String(length=64), nullable=True),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("pending_status", sa.String(length=32), nullable=True),
        sa.Column("ready_at", sa.DateTime(), nullable=True),
        sa.Column("fault", sa.Text(), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("ref"),
        sa.UniqueConstraint("region", "kind", "gateway_id"),
    )
    with op.batch_alter_table("sim_resources", schema=None) as batch_op:
        batch_op.create_index("ix_sim_resources_parent", ["region", "kind", "parent"], unique=False)

    op.create_table(
        "tasks",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("region", sa.String(length=64), nullable=False),
        sa.Column("resource_id", sa.String(length=64), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("locked_by", sa.String(length=128), nullable=True),
        sa.Column("locked_until", sa.DateTime(), nullable=True),
        sa.Column("run_after", sa.DateTime(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.create_index("ix_tasks_claim", ["status", "run_after"], unique=False)
        batch_op.create_index(batch_op.f("ix_tasks_resource_id"), ["resource_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tasks_resource_id"))
        batch_op.drop_index("ix_tasks_claim")

    op.drop_table("tasks")
    with op.batch_alter_table("sim_resources", schema=None) as batch_op:
        batch_op.drop_index("ix_sim_resources_parent")

    op.drop_table("sim_resources")
