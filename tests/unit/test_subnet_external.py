"""A subnet's ``router:external`` is its network's flag, read only where its view needs it."""

from __future__ import annotations

from sqlalchemy import inspect, select

from interstack.services.container import Services
from interstack.services.listing import Page
from interstack.services.network.networks import NetworkCreate
from interstack.services.network.subnets import SubnetCreate
from interstack.store.models import Subnet
from tests.support.image import REGION, caller


def test_a_subnet_shows_its_networks_flag_that_plain_loads_leave_unread(
    services: Services,
) -> None:
    admin = caller("admin-project", "admin", "member", "reader")
    network = services.network.networks.create(
        admin, REGION, NetworkCreate(name="public", external=True)
    )
    made = services.network.subnets.create(
        admin, REGION, SubnetCreate(network_id=network.id, cidr="203.0.113.0/28")
    )
    assert made.external is True
    assert services.network.subnets.get(admin, REGION, made.id).external is True
    listed = services.network.subnets.list_page(
        admin, REGION, {"router:external": ["true"], "network_id": [network.id]}, Page()
    )
    assert [(s.id, s.external) for s in listed] == [(made.id, True)]
    updated = services.network.subnets.update(admin, REGION, made.id, {"name": "renamed"})
    assert (updated.name, updated.external) == ("renamed", True)

    with services.db.session() as session:
        plain = session.scalars(select(Subnet).where(Subnet.id == made.id)).one()
        assert "external" in inspect(plain).unloaded
        assert plain.external is True  # still there when asked for
