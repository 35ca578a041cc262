"""network: a port's and a router's deletion in progress is a flag of its own, not a status

Revision ID: 0007_network_deleting_marks
Revises: 0006_network_router_claims
Create Date: 2026-11-26 21:40:00.000000

A router being deleted was stored with the status PENDING_DELETE and shown ACTIVE, so a
``status`` filter on the router list matched what the API does not show. The mark is now
``deleting`` (ports get it too: a port's deletion marks it where it checks that it may go, so
that nothing takes it meanwhile), and ``status`` holds only what the API shows: a router a
stopped gateway left PENDING_DELETE is ACTIVE and deleting.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_network_deleting_marks"
down_revision = "0006_network_router_claims"
branch_labels = None
depends_on = None

_ROUTERS = sa.table("routers", sa.column("status", sa.String), sa.column("deleting", sa.Boolean))


def upgrade() -> None:
    # plain ALTER TABLE, never SQLite's batch copy: dropping the old table would delete the
    # rows whose foreign keys cascade from it (a port's addresses, a router's ports)
    for table in ("ports", "routers"):
        op.add_column(
            table, sa.Column("deleting", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    op.execute(
        _ROUTERS.update()
        .where(_ROUTERS.c.status == "PENDING_DELETE")
        .values(status="ACTIVE", deleting=True)
    )


def downgrade() -> None:
    op.execute(
        _ROUTERS.update().where(_ROUTERS.c.deleting == sa.true()).values(status="PENDING_DELETE")
    )
    for table in ("routers", "ports"):
        op.drop_column(table, "deleting")  # SQLite 3.35 drops a column in place
