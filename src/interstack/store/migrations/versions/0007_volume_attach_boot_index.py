"""a volume attachment keeps its boot index (0: the server's root disk, booted from it)

Revision ID: 0007_volume_attach_boot_index
Revises: 0006_volume_attach_tag
Create Date: 2026-11-26 05:30:00.000000

A server booted from a volume before this revision had no image and its root disk was its
oldest live attachment: that one is marked the root here (of attachments made at the same
instant, the first by device name, then by id).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_volume_attach_boot_index"
down_revision = "0006_volume_attach_tag"
branch_labels = None
#: the servers table, whose image tells which servers were booted from a volume
depends_on = "0003_compute"

#: a server's oldest live attachment; attachments made at the same instant (a boot's volumes)
#: go by device name, as the boot orders them, then by id, so that one only is marked
MARK_ROOTS = """
UPDATE volume_attachments SET boot_index = 0
WHERE id IN (
    SELECT id FROM (
        SELECT id, ROW_NUMBER() OVER (
            PARTITION BY server_id
            ORDER BY created_at, mountpoint IS NULL, mountpoint, id
        ) AS place
        FROM volume_attachments
        WHERE status <> 'detached' AND server_id IN (
            SELECT id FROM compute_servers WHERE image_id IS NULL
        )
    ) AS ranked
    WHERE place = 1
)
"""


def upgrade() -> None:
    with op.batch_alter_table("volume_attachments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("boot_index", sa.Integer(), nullable=True))
    op.execute(MARK_ROOTS)


def downgrade() -> None:
    with op.batch_alter_table("volume_attachments", schema=None) as batch_op:
        batch_op.drop_column("boot_index")
