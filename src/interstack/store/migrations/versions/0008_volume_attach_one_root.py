"""a server keeps one root attachment (boot index 0)

Revision ID: 0008_volume_attach_one_root
Revises: 0007_volume_attach_boot_index
Create Date: 2026-11-26 08:30:00.000000

Revision 0007 as first written marked every live attachment made at the same instant as a
server's oldest one, so a server could have two roots. Of those, the first by device name, then
by id (0007's rule since), stays its root; the others become data disks again.
"""

from __future__ import annotations

from alembic import op

revision = "0008_volume_attach_one_root"
down_revision = "0007_volume_attach_boot_index"
branch_labels = None
depends_on = None

UNMARK_EXTRA_ROOTS = """
UPDATE volume_attachments SET boot_index = NULL
WHERE boot_index = 0 AND status <> 'detached' AND id NOT IN (
    SELECT id FROM (
        SELECT id, ROW_NUMBER() OVER (
            PARTITION BY server_id
            ORDER BY created_at, mountpoint IS NULL, mountpoint, id
        ) AS place
        FROM volume_attachments
        WHERE boot_index = 0 AND status <> 'detached'
    ) AS ranked
    WHERE place = 1
)
"""


def upgrade() -> None:
    op.execute(UNMARK_EXTRA_ROOTS)


def downgrade() -> None:
    """Nothing to undo: a second root was never meant."""
