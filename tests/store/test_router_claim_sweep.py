"""The sweep of what routers did for ports that only named them, on both databases: start-up
only queues tasks, asking no cloud (one that hangs or raises what the gateway does not map
stalled or stopped start-up before); the task runner's steps (taken by the test, on a fake
clock) ask the cloud's router to stop routing the subnet of a port naming it that it does not
hold (never one it holds an interface on), as revision 0006 listed them, and disassociate a
floating IP reaching its port through a router without an interface on the port's subnet
(one reached through a held interface is kept); what the cloud refuses is retried as other
tasks are, what it raises unmapped fails only the task and is queued again at the next start;
once done, a start queues nothing, whatever ports name a router."""

from __future__ import annotations

from typing import Any, cast

import pytest
from sqlalchemy import select

from interstack.backends.contract import NativeRef
from interstack.backends.sim.settings import FULL_CAPABILITIES
from interstack.errors import BackendUnavailable
from interstack.services.network.router_claims import UNFORWARD, UNROUTE, RouterClaimSweep
from interstack.services.regions import Regions
from interstack.services.tasks import TaskStatus
from interstack.store import Database
from interstack.store.models import FloatingIp, RouterClaimLeftover, RouterPort, Subnet
from tests.support.clock import FakeClock
from tests.support.network_rows import (
    AT,
    INTERFACE,
    add_ports,
    address_row,
    network_row,
    port_row,
    router_row,
    subnet_row,
)
from tests.support.store import store_before
from tests.support.task_steps import Steps

BEFORE = "0005_network_router_ports"


# A store of each kind as it was before revision 0006 listed what to undo.
database = store_before(BEFORE)


class _Cloud:
    """Region ``R``'s cloud as the sweep sees it, noting what it is asked."""

    names = ("R",)

    def __init__(self, refusing: Exception | None = None) -> None:
        self.asked: list[tuple[str, str, str | None]] = []
        self.network = self
        self.refusing = refusing

    def capabilities(self, _region: str) -> Any:
        return FULL_CAPABILITIES

    def require(self, _region: str, _capability: str) -> _Cloud:
        return self

    def remove_router_interface(self, router: NativeRef, subnet: NativeRef) -> None:
        self.asked.append(("unroute", router, subnet))
        if self.refusing:
            raise self.refusing

    def associate_floating_ip(
        self, ref: NativeRef, port: NativeRef | None, fixed_address: str | None = None
    ) -> None:
        self.asked.append(("forward", ref, port))
        if self.refusing:
            raise self.refusing


def _floating_ip(fip_id: str, port_id: str, fixed: str) -> FloatingIp:
    return FloatingIp(
        id=fip_id, region="R", project_id="p", description="", floating_network_id="public",
        floating_subnet_id="s-public", floating_ip_address=f"203.0.113.{len(fip_id)}",
        port_id=port_id, fixed_ip_address=fixed, router_id="router", status="ACTIVE", tags=[],
        native_ref=f"{fip_id}-ref", created_at=AT, updated_at=AT,
    )  # fmt: skip


def _as_the_old_code_left_it(db: Database) -> None:
    """A router holding an interface on its project's subnet, a port of another project naming
    it on another subnet, and a floating IP reaching an instance through it on each subnet."""
    mine, theirs = network_row("mine", "a"), network_row("theirs", "b")
    public = network_row("public", "admin", external=True)
    my_subnet = subnet_row("s-mine", mine, "10.74.0.0/24")
    their_subnet = subnet_row("s-theirs", theirs, "10.73.0.0/24")
    interface = port_row("interface", "a", "mine", INTERFACE, "router")
    claim = port_row("claim", "b", "theirs", INTERFACE, "router")
    # the router's project's own claim on the subnet it holds an interface on: not unrouted
    own_claim = port_row("own-claim", "a", "mine", INTERFACE, "router")
    my_vm = port_row("my-vm", "a", "mine", "compute:nova", "vm")
    their_vm = port_row("their-vm", "b", "theirs", "compute:nova", "vm2")
    with db.session() as session:
        session.add_all([mine, theirs, public, router_row("router", "a", "public")])
        session.flush()
        session.add_all([my_subnet, their_subnet])
        session.flush()
        add_ports(session, [interface, claim, own_claim, my_vm, their_vm])
        session.add_all(
            [
                RouterPort(port_id="interface", router_id="router", port_type=INTERFACE),
                address_row(interface, my_subnet, "10.74.0.1"),
                address_row(own_claim, my_subnet, "10.74.0.2"),
                address_row(claim, their_subnet, "10.73.0.1"),
                address_row(my_vm, my_subnet, "10.74.0.5"),
                address_row(their_vm, their_subnet, "10.73.0.5"),
                _floating_ip("kept", "my-vm", "10.74.0.5"),
                _floating_ip("unreached", "their-vm", "10.73.0.5"),
            ]
        )


def _floating_ips(db: Database) -> dict[str, FloatingIp]:
    with db.session() as session:
        return {f.id: f for f in session.scalars(select(FloatingIp))}


def _leftovers(db: Database) -> set[tuple[str, str]]:
    with db.session() as session:
        return {(r.router_id, r.subnet_id) for r in session.scalars(select(RouterClaimLeftover))}


def _swept(database: Database, cloud: _Cloud, clock: FakeClock) -> tuple[RouterClaimSweep, Steps]:
    """The sweep over ``cloud`` and the runner of the tasks it queues, on ``clock``."""
    steps = Steps(database, clock)
    sweep = RouterClaimSweep(database, cast(Regions, cloud), steps.queue)
    steps.handle(sweep.handlers())
    return sweep, steps


def _kinds(steps: Steps) -> list[str]:
    return sorted(
        t.kind for r in ("router", "unreached", "kept") for t in steps.queue.for_resource(r)
    )


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def test_the_sweep_undoes_only_what_a_port_naming_a_router_made_it_do(
    database: Database, clock: FakeClock
) -> None:
    _as_the_old_code_left_it(database)
    database.migrate()
    assert _leftovers(database) == {("router", "s-theirs")}
    cloud = _Cloud()
    sweep, steps = _swept(database, cloud, clock)

    sweep.ensure()
    sweep.ensure()  # a second start with the tasks still pending queues no more
    assert cloud.asked == []  # start-up asked no cloud
    assert _kinds(steps) == sorted([UNROUTE, UNFORWARD])
    steps.run_due()

    assert sorted(cloud.asked) == [
        ("forward", "unreached-ref", None),
        ("unroute", "router-ref", "s-theirs-ref"),
    ]
    fips = _floating_ips(database)
    kept, unreached = fips["kept"], fips["unreached"]
    assert (kept.port_id, kept.router_id, kept.status) == ("my-vm", "router", "ACTIVE")
    assert (unreached.port_id, unreached.fixed_ip_address) == (None, None)
    assert (unreached.router_id, unreached.status) == (None, "DOWN")
    # done once: the next start queues nothing, though the claim still names the router
    assert _leftovers(database) == set()
    again = _Cloud()
    sweep, steps = _swept(database, again, clock)
    sweep.ensure()
    steps.run_due()
    assert again.asked == []
    assert len(_kinds(steps)) == 2


def _started_on(database: Database, clock: FakeClock, refusing: Exception) -> tuple[_Cloud, Steps]:
    """The store as the old code left it, migrated, started over a cloud ``refusing`` and the
    runner's due steps taken."""
    _as_the_old_code_left_it(database)
    database.migrate()
    cloud = _Cloud(refusing=refusing)
    sweep, steps = _swept(database, cloud, clock)
    sweep.ensure()
    steps.run_due()
    return cloud, steps


def test_what_the_cloud_refuses_is_retried_until_it_answers(
    database: Database, clock: FakeClock
) -> None:
    refused = BackendUnavailable("the cloud does not answer")
    cloud, steps = _started_on(database, clock, refused)

    assert sorted(what for what, _, _ in cloud.asked) == ["forward", "unroute"]
    unreached = _floating_ips(database)["unreached"]
    assert (unreached.port_id, unreached.router_id, unreached.status) == (
        "their-vm",
        "router",
        "ACTIVE",
    )
    assert _leftovers(database) == {("router", "s-theirs")}
    pending = [t.status for r in ("router", "unreached") for t in steps.queue.for_resource(r)]
    assert pending == [TaskStatus.PENDING, TaskStatus.PENDING]  # retried as other tasks are
    cloud.refusing = None
    cloud.asked.clear()
    clock.advance(60)
    steps.run_due()
    assert sorted(what for what, _, _ in cloud.asked) == ["forward", "unroute"]
    assert _leftovers(database) == set()
    assert _floating_ips(database)["unreached"].status == "DOWN"


def test_what_the_cloud_raises_unmapped_fails_only_its_task_and_is_queued_at_the_next_start(
    database: Database, clock: FakeClock
) -> None:
    """Before, it went through start-up: the gateway did not start."""
    _cloud, steps = _started_on(database, clock, RuntimeError("the cloud's library broke"))

    failed = [t for r in ("router", "unreached") for t in steps.queue.for_resource(r)]
    assert [t.status for t in failed] == [TaskStatus.FAILED, TaskStatus.FAILED]
    assert all(t.error is not None and "library broke" in t.error for t in failed)
    assert _leftovers(database) == {("router", "s-theirs")}
    answering = _Cloud()
    sweep, steps = _swept(database, answering, clock)
    sweep.ensure()  # the next start
    steps.run_due()
    assert sorted(what for what, _, _ in answering.asked) == ["forward", "unroute"]
    assert _leftovers(database) == set()


def test_a_subnet_the_router_holds_an_interface_on_meanwhile_stays_routed(
    database: Database, clock: FakeClock
) -> None:
    """An interface added on the listed subnet after start-up queued the task and before its
    step (a request served meanwhile): the cloud's router keeps routing it, the floating IP
    keeps its association (reached now), and the pair is done."""
    _as_the_old_code_left_it(database)
    database.migrate()
    cloud = _Cloud()
    sweep, steps = _swept(database, cloud, clock)
    sweep.ensure()
    with database.session() as session:
        interface = port_row("their-interface", "a", "theirs", INTERFACE, "router")
        session.add(interface)
        session.flush()
        session.add_all(
            [
                RouterPort(port_id=interface.id, router_id="router", port_type=INTERFACE),
                address_row(interface, session.get_one(Subnet, "s-theirs"), "10.73.0.9"),
            ]
        )

    steps.run_due()

    assert [what for what, _, _ in cloud.asked] == []  # the floating IP is reached now too
    assert _leftovers(database) == set()
    assert _floating_ips(database)["unreached"].status == "ACTIVE"


def test_a_port_naming_a_router_since_is_nothing_to_undo(db: Database, clock: FakeClock) -> None:
    """The store migrated first: the claim is one a project makes now (its own router's),
    which no router routes; the sweep asks the cloud nothing about it, at no start."""
    _as_the_old_code_left_it(db)
    cloud = _Cloud()
    sweep, steps = _swept(db, cloud, clock)

    sweep.ensure()
    steps.run_due()

    assert [what for what, _, _ in cloud.asked] == ["forward"]
