"""network: the ports a router holds (Neutron's routerports), no longer read off ports' devices

Revision ID: 0005_network_router_ports
Revises: 0004_network_pools_quotas
Create Date: 2026-11-26 15:00:00.000000

Until this revision a router's interfaces and gateway were the ports whose device_id named it
with a router's device_owner, which a project could set on a port of its own (another
project's router too, until the DeviceIDNotOwnedByTenant check). The store does not record who
made a port, so a port planted by another project cannot be told from one an admin attached
across projects; the backfill trusts only what a project could have done to its own router:

- an interface: a ``network:router_interface`` port naming the router, of the router's project
  (and region);
- the gateway: a ``network:router_gateway`` port naming the router, of the router's project, on
  the router's gateway network (the gateway's ports are always made in the router's project).

Any other port naming a router keeps its device fields but is no port of that router, and at
start-up the cloud's router stops routing its subnet (services/network/router_claims.py). An
interface an admin attached from another project's port must be attached again: its device
fields cleared first (an admin's port update), as add_router_interface takes an unbound port.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_network_router_ports"
down_revision = "0004_network_pools_quotas"
branch_labels = None
depends_on = None

BACKFILL = """
INSERT INTO router_ports (port_id, router_id, port_type)
SELECT ports.id, routers.id, ports.device_owner
FROM ports JOIN routers ON routers.id = ports.device_id
WHERE ports.project_id = routers.project_id
  AND ports.region = routers.region
  AND (
    ports.device_owner = 'network:router_interface'
    OR (
      ports.device_owner = 'network:router_gateway'
      AND ports.network_id = routers.gateway_network_id
    )
  )
"""


def upgrade() -> None:
    op.create_table(
        "router_ports",
        sa.Column("port_id", sa.String(length=64), nullable=False),
        sa.Column("router_id", sa.String(length=64), nullable=False),
        sa.Column("port_type", sa.String(length=255), nullable=False),
        sa.ForeignKeyConstraint(["port_id"], ["ports.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["router_id"], ["routers.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("port_id"),
    )
    with op.batch_alter_table("router_ports", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_router_ports_router_id"), ["router_id"], unique=False)
    op.execute(BACKFILL)


def downgrade() -> None:
    with op.batch_alter_table("router_ports", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_router_ports_router_id"))
    op.drop_table("router_ports")
