"""The start-up work that asks the cloud, done by the task runner (start-up only queues it) on
both databases: a subnet made before the gateway gave each network a DHCP port gets its address
on it, and the cloud's external network is made. Start-up asks no cloud; a refusal is retried
as other tasks are; what the cloud raises unmapped (before: through start-up, the gateway not
started) fails only the task, and the next start queues it again. The runner's steps are taken
by the test on a fake clock."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from interstack.backends.contract import Backend, ExternalNetworkSpec
from interstack.errors import BackendUnavailable
from interstack.services.network import dhcp_ports
from interstack.services.network.dhcp_backfill import GIVE_DHCP, DhcpBackfill
from interstack.services.network.external import MAKE_EXTERNAL, ExternalNetworks
from interstack.services.network.subnets import SubnetCreate
from interstack.services.tasks import TaskStatus
from interstack.store import Database
from interstack.store.models import Network, Subnet
from tests.support.clock import FakeClock
from tests.support.routed import REGION, Routed
from tests.support.task_steps import Steps

SPEC = ExternalNetworkSpec(
    name="public",
    cidr="198.51.100.0/24",
    gateway_ip="198.51.100.1",
    allocation_pool=("198.51.100.2", "198.51.100.9"),
)


@pytest.fixture
def steps(db: Database) -> Steps:
    """A runner whose steps the test takes, on a fake clock."""
    return Steps(db, FakeClock())


class _Answers:
    """A cloud call that raises each of ``failures`` in turn, then answers as ``call``."""

    def __init__(self, call: object, *failures: Exception) -> None:
        self.call = call
        self.failures = list(failures)
        self.asked = 0

    def __call__(self, *args: object) -> object:
        self.asked += 1
        if self.failures:
            raise self.failures.pop(0)
        return self.call(*args)  # type: ignore[operator]


def _statuses(steps: Steps, resource_id: str) -> list[TaskStatus]:
    return [t.status for t in steps.queue.for_resource(resource_id)]


def test_a_subnet_lacking_its_dhcp_port_gets_it_once_the_cloud_answers(
    cloud: Backend, routed: Routed, steps: Steps, monkeypatch: pytest.MonkeyPatch
) -> None:
    services, db, clock = routed.services, steps.db, steps.clock
    subnet = services.subnets.create(
        routed.ctx, REGION, SubnetCreate(network_id=routed.network_id, cidr="10.81.0.0/24")
    )
    with db.session() as session:  # as an older gateway left it: the server holds no port
        held = dhcp_ports.of_subnet(session, subnet.id)
        assert held is not None
        dhcp_ports.remove_of_subnet(session, subnet.id)
    answers = _Answers(
        cloud.network.dhcp_address,
        BackendUnavailable("the cloud does not answer"),
        RuntimeError("the cloud's library broke"),
    )
    monkeypatch.setattr(cloud.network, "dhcp_address", answers)
    backfill = DhcpBackfill(db, services.subnets.regions, steps.queue)
    steps.handle(backfill.handlers())

    backfill.ensure()
    backfill.ensure()  # a second start with the task pending queues no more
    assert answers.asked == 0  # start-up asked no cloud
    assert [t.kind for t in steps.queue.for_resource(subnet.id)] == [GIVE_DHCP]
    steps.run_due()
    assert _statuses(steps, subnet.id) == [TaskStatus.PENDING]  # refused: retried
    clock.advance(60)
    steps.run_due()
    assert _statuses(steps, subnet.id) == [TaskStatus.FAILED]  # unmapped: the task only
    with db.session() as session:
        assert dhcp_ports.of_subnet(session, subnet.id) is None

    backfill.ensure()  # the next start
    steps.run_due()
    assert _statuses(steps, subnet.id) == [TaskStatus.FAILED, TaskStatus.SUCCEEDED]
    with db.session() as session:
        given = dhcp_ports.of_subnet(session, subnet.id)
    assert given is not None and given.address == held.address  # where its server is


def test_a_subnet_whose_dhcp_was_switched_off_before_its_task_ran_is_left_off(
    cloud: Backend, routed: Routed, steps: Steps, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Requests are served between start-up's queueing and the step: a subnet its owner
    switched DHCP off on meanwhile gets no DHCP port, and its cloud is not told to serve DHCP
    on it again (the step looks at the subnet as it is under the network's lock)."""
    services, db = routed.services, steps.db
    subnet = services.subnets.create(
        routed.ctx, REGION, SubnetCreate(network_id=routed.network_id, cidr="10.82.0.0/24")
    )
    with db.session() as session:  # as an older gateway left it: the server holds no port
        dhcp_ports.remove_of_subnet(session, subnet.id)
    backfill = DhcpBackfill(db, services.subnets.regions, steps.queue)
    steps.handle(backfill.handlers())
    backfill.ensure()
    services.subnets.update(routed.ctx, REGION, subnet.id, {"enable_dhcp": False})
    serving: list[object] = []
    monkeypatch.setattr(cloud.network, "set_subnet_dhcp", lambda *given: serving.append(given))

    steps.run_due()

    assert _statuses(steps, subnet.id) == [TaskStatus.SUCCEEDED]
    with db.session() as session:
        assert dhcp_ports.of_subnet(session, subnet.id) is None
    assert serving == []
    assert services.subnets.get(routed.ctx, REGION, subnet.id).enable_dhcp is False


def _externals(db: Database) -> list[tuple[str, int]]:
    """The external networks, each with how many subnets it has."""
    with db.session() as session:
        count = select(func.count(Subnet.id)).where(Subnet.network_id == Network.id)
        rows = session.execute(
            select(Network.name, count.scalar_subquery()).where(Network.external)
        ).all()
    return [(name, subnets) for name, subnets in rows]


def test_the_clouds_external_network_is_made_by_its_task_its_subnet_at_the_retry(
    cloud: Backend, routed: Routed, steps: Steps, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cloud refuses the network once, then the subnet once: one network is made, its
    subnet at the retry; a later start queues nothing."""
    services, db, clock = routed.services, steps.db, steps.clock
    monkeypatch.setattr(cloud.network, "external_network", lambda: SPEC)
    networks = _Answers(cloud.network.create_network, BackendUnavailable("no answer"))
    subnets = _Answers(cloud.network.create_subnet, BackendUnavailable("no answer"))
    monkeypatch.setattr(cloud.network, "create_network", networks)
    monkeypatch.setattr(cloud.network, "create_subnet", subnets)
    external = ExternalNetworks(
        db, services.networks.regions, services.networks, services.subnets, "admin", steps.queue
    )
    steps.handle(external.handlers())

    external.ensure()
    assert (networks.asked, subnets.asked) == (0, 0)  # start-up asked no cloud
    assert [t.kind for t in steps.queue.for_resource(REGION)] == [MAKE_EXTERNAL]
    steps.run_due()
    assert _externals(db) == []  # the network refused: nothing kept
    clock.advance(60)
    steps.run_due()
    assert _externals(db) == [("public", 0)]  # the subnet refused
    clock.advance(60)
    steps.run_due()
    assert _externals(db) == [("public", 1)]
    assert _statuses(steps, REGION) == [TaskStatus.SUCCEEDED]
    external.wait_made(seconds=0)  # nothing left to wait for

    external.ensure()  # a later start
    assert len(steps.queue.for_resource(REGION)) == 1


def test_a_region_with_an_external_network_of_its_own_queues_nothing(
    cloud: Backend, routed: Routed, steps: Steps, monkeypatch: pytest.MonkeyPatch
) -> None:
    services, db = routed.services, steps.db
    monkeypatch.setattr(cloud.network, "external_network", lambda: SPEC)
    with db.session() as session:
        network = session.get_one(Network, routed.network_id)
        network.external = True  # the operator's
    ExternalNetworks(
        db, services.networks.regions, services.networks, services.subnets, "admin", steps.queue
    ).ensure()
    assert steps.queue.for_resource(REGION) == []
