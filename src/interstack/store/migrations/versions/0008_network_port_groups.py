"""network: a port's security groups are rows of their own, with foreign keys

Revision ID: 0008_network_port_groups
Revises: 0007_network_deleting_marks
Create Date: 2026-11-27 00:30:00.000000

A port kept its groups' ids in a JSON column (``ports.security_group_ids``) that nothing tied
to the groups: a group's deletion checked "no port uses it" by reading every port of the
region, and a port committed after that check kept a deleted group. ``port_security_groups``
holds one row per port and group, in the port's order; the database refuses to delete a
group a row names and deletes a port's rows with the port. An id naming no group any more
(such a race's leftover) is not carried over: the port does not use a group that is gone.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0008_network_port_groups"
down_revision = "0007_network_deleting_marks"
branch_labels = None
depends_on = None

_PORTS = sa.table("ports", sa.column("id", sa.String), sa.column("security_group_ids", sa.JSON))
_GROUPS = sa.table("security_groups", sa.column("id", sa.String))
_USES = sa.table(
    "port_security_groups",
    sa.column("port_id", sa.String),
    sa.column("security_group_id", sa.String),
    sa.column("position", sa.Integer),
)


def upgrade() -> None:
    op.create_table(
        "port_security_groups",
        sa.Column("port_id", sa.String(64), nullable=False),
        sa.Column("security_group_id", sa.String(64), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["port_id"], ["ports.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["security_group_id"], ["security_groups.id"], ondelete="RESTRICT"),
        sa.PrimaryKeyConstraint("port_id", "security_group_id"),
    )
    op.create_index(
        "ix_port_security_groups_security_group_id",
        "port_security_groups",
        ["security_group_id"],
    )
    bind = op.get_bind()
    groups = set(bind.scalars(sa.select(_GROUPS.c.id)))
    uses: list[dict[str, Any]] = []
    for port_id, ids in bind.execute(sa.select(_PORTS.c.id, _PORTS.c.security_group_ids)):
        kept = [g for g in dict.fromkeys(ids or ()) if g in groups]
        uses.extend(
            {"port_id": port_id, "security_group_id": g, "position": n} for n, g in enumerate(kept)
        )
    if uses:
        bind.execute(_USES.insert(), uses)
    # plain ALTER TABLE, never SQLite's batch copy (see 0007: the copy's drop would cascade)
    op.drop_column("ports", "security_group_ids")


def downgrade() -> None:
    op.add_column(
        "ports",
        sa.Column("security_group_ids", sa.JSON(), nullable=False, server_default="[]"),
    )
    bind = op.get_bind()
    held: dict[str, list[str]] = {}
    rows = bind.execute(
        sa.select(_USES.c.port_id, _USES.c.security_group_id).order_by(
            _USES.c.port_id, _USES.c.position
        )
    )
    for port_id, group_id in rows:
        held.setdefault(port_id, []).append(group_id)
    for port_id, ids in held.items():
        bind.execute(_PORTS.update().where(_PORTS.c.id == port_id).values(security_group_ids=ids))
    op.drop_index("ix_port_security_groups_security_group_id", "port_security_groups")
    op.drop_table("port_security_groups")
