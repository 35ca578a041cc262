"""volume_messages: Cinder's user messages

Revision ID: 0009_volume_messages
Revises: 0008_volume_attach_one_root
Create Date: 2026-11-27 03:30:00.000000

Why an operation answered 2xx failed later (a refused extend, a volume that could not be
made), for ``/v3/{project_id}/messages``. Each expires (``expires_at``): the index on it is the
purge's.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_volume_messages"
down_revision = "0008_volume_attach_one_root"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "volume_messages",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("region", sa.String(length=64), nullable=False),
        sa.Column("project_id", sa.String(length=64), nullable=False),
        sa.Column("request_id", sa.String(length=255), nullable=True),
        sa.Column("resource_type", sa.String(length=255), nullable=False),
        sa.Column("resource_uuid", sa.String(length=36), nullable=True),
        sa.Column("event_id", sa.String(length=255), nullable=False),
        sa.Column("action_id", sa.String(length=10), nullable=False),
        sa.Column("detail_id", sa.String(length=10), nullable=False),
        sa.Column("message_level", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("volume_messages", schema=None) as batch_op:
        batch_op.create_index("ix_volume_messages_project", ["project_id", "region"], unique=False)
        batch_op.create_index("ix_volume_messages_expires", ["expires_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("volume_messages", schema=None) as batch_op:
        batch_op.drop_index("ix_volume_messages_expires")
        batch_op.drop_index("ix_volume_messages_project")
    op.drop_table("volume_messages")
