"""Two replicas' rule requests on one group at once (PostgreSQL, the replicas' store): the
second replica's rule is written while the first gives the backend the rules it read, and
the backend ends with both. The replicas' realizations of the group take turns by the group's
row, locked ``FOR NO KEY UPDATE`` while the backend is told (the process's own turns do not
reach another replica); the second is seen waiting for it in pg_stat_activity, no timing."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest

from interstack.backends.contract import Backend
from interstack.backends.sim.network import SimNetwork
from interstack.backends.sim.state import Kind
from interstack.services.context import RequestContext
from interstack.services.network.records import SecurityGroupInfo
from interstack.services.network.security_groups import GroupCreate, SecurityGroupService
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


@dataclass
class Replicas:
    """Two replicas' security groups on one store and backend, a caller and its group."""

    db: Database
    cloud: Backend
    first: SecurityGroupService
    second: SecurityGroupService
    ctx: RequestContext
    group: SecurityGroupInfo

    @contextmanager
    def second_adding(
        self, monkeypatch: pytest.MonkeyPatch, port: int, call: str = "set_security_group_rules"
    ) -> Iterator[None]:
        """Within the block, the second replica adds a rule letting TCP in on ``port`` during
        the first replica's first ``call`` of the backend."""
        rule = ingress_tcp(self.group.id, port)
        with second_request_during_first_backend_call(
            self.cloud.network,
            monkeypatch,
            self.group.id,
            lambda: self.second.create_rule(self.ctx, REGION, rule),
            waits=lock_waited(self.db),
            call=call,
        ):
            yield

    def held_ports(self) -> list[int]:
        """The ports of the rules the sim backend's group holds (those with one)."""
        network = self.cloud.network
        assert isinstance(network, SimNetwork)
        with network.state.session() as session:
            held = network.state.by_gateway_id(session, Kind.SECURITY_GROUP, self.group.id)
            assert held is not None
            return sorted(r["port_min"] for r in held.data["rules"] if r["port_min"] is not None)


@pytest.fixture
def replicas(db: Database, cloud: Backend) -> Replicas:
    if db.dialect != "postgresql":
        pytest.skip("replicas share a PostgreSQL store only")
    first, second = (
        NetworkServices.build(db, Regions({REGION: cloud})).security_groups for _ in range(2)
    )
    ctx = caller(uuid.uuid4().hex)
    group = first.create(ctx, REGION, GroupCreate(name="web"))
    return Replicas(db, cloud, first, second, ctx, group)


def test_two_replicas_rule_requests_at_once_leave_both_rules_on_the_backend(
    replicas: Replicas, monkeypatch: pytest.MonkeyPatch
) -> None:
    with replicas.second_adding(monkeypatch, 80):
        replicas.first.create_rule(replicas.ctx, REGION, ingress_tcp(replicas.group.id, 22))

    assert replicas.held_ports() == [22, 80]


def test_two_replicas_rule_requests_on_a_group_the_backend_lacks_make_it_once(
    replicas: Replicas, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The group's first realization failed (the backend lacks it): the first replica makes it
    in its turn, the second waits for the group's row meanwhile, then finds it made and gives
    it both rules (before, each replica made it, outside any turn)."""
    group_id = replicas.group.id
    creates = unmade_with_creates_counted(
        replicas.db, replicas.cloud.network, monkeypatch, group_id
    )
    with replicas.second_adding(monkeypatch, 80, call="create_security_group"):
        replicas.first.create_rule(replicas.ctx, REGION, ingress_tcp(group_id, 22))

    assert creates == [group_id]
    assert replicas.held_ports() == [22, 80]


def test_a_rule_delete_and_another_replicas_create_at_once_leave_the_backend_as_the_api(
    replicas: Replicas, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rule's DELETE gives the backend the rules without it in the group's turn and forgets
    it only then: another replica's create, its rule written meanwhile, waits for the group's
    row and then gives the backend the rules without the deleted one and with its own (the
    rules read by a statement of their own once the row is locked: read with the lock's wait,
    they were those from before the DELETE, and the backend was given the rule again)."""
    ssh = replicas.first.create_rule(replicas.ctx, REGION, ingress_tcp(replicas.group.id, 22))
    with replicas.second_adding(monkeypatch, 80):
        replicas.first.delete_rule(replicas.ctx, REGION, ssh.id)

    assert replicas.held_ports() == [80]
    shown = replicas.first.get(replicas.ctx, REGION, replicas.group.id).rules
    assert sorted(r.port_range_min for r in shown if r.port_range_min) == [80]
