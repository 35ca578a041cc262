"""network: the subnets a cloud's router may still route for ports that only named it, to undo

Revision ID: 0006_network_router_claims
Revises: 0005_network_router_ports
Create Date: 2026-11-26 16:00:00.000000

Before revision 0005 a router's interfaces were the ports naming it, so a cloud's router may
route the subnet of a port that only names it (services/network/router_claims.py). Only that
code could make a router so: since 0005 a router routes the subnets of the interfaces it holds.
So the pairs to undo are listed once, here, and the start-up sweep asks the cloud about these
alone, dropping each once done (a cloud's refusal keeps it for the next start) — not about every
port naming a router at every start, which a project may make at will (its own router's). A
pair goes with its router or subnet (ON DELETE CASCADE): the cloud's router or subnet went too.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_network_router_claims"
down_revision = "0005_network_router_ports"
branch_labels = None
depends_on = None

# a port naming a router as its interface, on a subnet the router holds no interface on
LEFTOVERS = """
INSERT INTO router_claim_leftovers (router_id, subnet_id)
SELECT DISTINCT routers.id, ip_allocations.subnet_id
FROM ports
JOIN routers ON routers.id = ports.device_id
JOIN ip_allocations ON ip_allocations.port_id = ports.id
WHERE ports.device_owner = 'network:router_interface'
  AND ip_allocations.subnet_id IS NOT NULL
  AND NOT EXISTS (
    SELECT 1 FROM router_ports
    JOIN ip_allocations AS held ON held.port_id = router_ports.port_id
    WHERE router_ports.router_id = routers.id
      AND router_ports.port_type = 'network:router_interface'
      AND held.subnet_id = ip_allocations.subnet_id
  )
"""


def upgrade() -> None:
    op.create_table(
        "router_claim_leftovers",
        sa.Column("router_id", sa.String(length=64), nullable=False),
        sa.Column("subnet_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["router_id"], ["routers.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["subnet_id"], ["subnets.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("router_id", "subnet_id"),
    )
    with op.batch_alter_table("router_claim_leftovers", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_router_claim_leftovers_subnet_id"), ["subnet_id"], unique=False
        )
    op.execute(LEFTOVERS)


def downgrade() -> None:
    with op.batch_alter_table("router_claim_leftovers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_router_claim_leftovers_subnet_id"))
    op.drop_table("router_claim_leftovers")
