"""Deleting a security group that another group's rule names, through the network service on
every backend: as in Neutron, the group goes and the rule with it, and the cloud itself names
the group nowhere any more (EC2: neither the group nor another group's permission referencing
it; the local host: no record of it, no nft rule or set matching its members). A port using
the group still keeps it (409 ``SecurityGroupInUse``)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from interstack.backends.contract import Backend
from interstack.errors import Conflict
from interstack.services.context import RequestContext
from interstack.services.network.networks import NetworkCreate
from interstack.services.network.ports import PortCreate
from interstack.services.network.service import NetworkServices
from interstack.services.network.subnets import SubnetCreate
from interstack.store.models import SecurityGroup
from tests.conformance.conftest import REGION, BackendUnderTest
from tests.support.network import web_and_db


@pytest.mark.requires("networks", "security_groups")
def test_a_group_another_groups_rule_names_is_deleted_off_the_cloud_with_that_rule(
    under_test: BackendUnderTest,
    backend: Backend,
    services: NetworkServices,
    project: Callable[..., RequestContext],
) -> None:
    ctx = project()
    groups = services.security_groups
    web, db, mysql = web_and_db(groups, ctx, REGION)
    network = services.networks.create(ctx, REGION, NetworkCreate(name="lamp"))
    services.subnets.create(ctx, REGION, SubnetCreate(network_id=network.id, cidr="10.13.0.0/24"))
    # a port in db: the local host matches db's rules (web's members among them) on its traffic
    services.ports.create(ctx, REGION, PortCreate(network_id=network.id, security_groups=(db.id,)))
    assert backend.context.db is not None
    with backend.context.db.session() as session:
        web_ref = session.get_one(SecurityGroup, web.id).native_ref
    assert web_ref is not None
    assert under_test.group_mentions(backend, web_ref), "the cloud should show web, as made"

    user = services.ports.create(
        ctx, REGION, PortCreate(network_id=network.id, security_groups=(web.id,))
    )
    with pytest.raises(Conflict) as in_use:
        groups.delete(ctx, REGION, web.id)
    assert in_use.value.kind == "SecurityGroupInUse"
    assert mysql.id in {r.id for r in groups.get(ctx, REGION, db.id).rules}
    services.ports.delete(ctx, REGION, user.id)

    groups.delete(ctx, REGION, web.id)

    assert mysql.id not in {r.id for r in groups.get(ctx, REGION, db.id).rules}
    assert under_test.group_mentions(backend, web_ref) == []
