"""Two replicas' rule requests on one group at once (PostgreSQL, the replicas' store): the
second replica's rule is written while the first gives the backend the rules it read, and
the backend ends with both. The replicas' realizations of the group take turns by the group's
row, locked ``FOR NO KEY UPDATE`` while the backend is told (the process's own turns do not
reach another replica); the second is seen waiting for it in pg_stat_activity, no timing."""

from __future__ import annotations

import uuid

import pytest

from interstack.backends.contract import Backend
from interstack.backends.sim.network import SimNetwork
from interstack.backends.sim.state import Kind
from interstack.services.network.security_groups import GroupCreate
from interstack.services.network.service import NetworkServices
from interstack.services.regions import Regions
from interstack.store import Database
from tests.support.group_turns import (
    ingress_tcp,
    lock_waited,
    second_request_during_first_backend_call,
    unmade_with_creates_counted,
)
from tests.support.image import caller
from tests.support.routed import REGION


def test_two_replicas_rule_requests_at_once_leave_both_rules_on_the_backend(
    db: Database, cloud: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    if db.dialect != "postgresql":
        pytest.skip("replicas share a PostgreSQL store only")
    first, second = (NetworkServices.build(db, Regions({REGION: cloud})) for _ in range(2))
    ctx = caller(uuid.uuid4().hex)
    group = first.security_groups.create(ctx, REGION, GroupCreate(name="web"))
    web = ingress_tcp(group.id, 80)

    with second_request_during_first_backend_call(
        cloud.network,
        monkeypatch,
        group.id,
        lambda: second.security_groups.create_rule(ctx, REGION, web),
        waits=lock_waited(db),
    ):
        first.security_groups.create_rule(ctx, REGION, ingress_tcp(group.id, 22))

    network = cloud.network
    assert isinstance(network, SimNetwork)
    with network.state.session() as session:
        held = network.state.by_gateway_id(session, Kind.SECURITY_GROUP, group.id)
        assert held is not None
        ports = sorted(r["port_min"] for r in held.data["rules"] if r["port_min"] is not None)
    assert ports == [22, 80]


def test_two_replicas_rule_requests_on_a_group_the_backend_lacks_make_it_once(
    db: Database, cloud: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The group's first realization failed (the backend lacks it): the first replica makes it
    in its turn, the second waits for the group's row meanwhile, then finds it made and gives
    it both rules (before, each replica made it, outside any turn)."""
    if db.dialect != "postgresql":
        pytest.skip("replicas share a PostgreSQL store only")
    first, second = (NetworkServices.build(db, Regions({REGION: cloud})) for _ in range(2))
    ctx = caller(uuid.uuid4().hex)
    group = first.security_groups.create(ctx, REGION, GroupCreate(name="web"))
    network = cloud.network
    assert isinstance(network, SimNetwork)
    creates = unmade_with_creates_counted(db, network, monkeypatch, group.id)
    web = ingress_tcp(group.id, 80)
    with second_request_during_first_backend_call(
        network,
        monkeypatch,
        group.id,
        lambda: second.security_groups.create_rule(ctx, REGION, web),
        waits=lock_waited(db),
        call="create_security_group",
    ):
        first.security_groups.create_rule(ctx, REGION, ingress_tcp(group.id, 22))

    assert creates == [group.id]
    with network.state.session() as session:
        held = network.state.by_gateway_id(session, Kind.SECURITY_GROUP, group.id)
        assert held is not None
        ports = sorted(r["port_min"] for r in held.data["rules"] if r["port_min"] is not None)
    assert ports == [22, 80]
