"""The sim network driver's creates are idempotent on the gateway id even when two requests
race: the loser of the insert answers the winner's resource instead of an IntegrityError
(which reached clients as a 500 when a new project's first ports were created at once).
A repeated security-group create still leaves exactly the spec's rules, as the contract says."""

from __future__ import annotations

from pathlib import Path

import pytest

from interstack.backends.contract import (
    BackendContext,
    RuleDirection,
    SecurityGroupRule,
    SecurityGroupSpec,
)
from interstack.backends.sim import SimBackend
from interstack.backends.sim.network import SimNetwork
from interstack.backends.sim.state import Kind, SimState
from interstack.store import Database


@pytest.fixture
def backend(db: Database, tmp_path: Path) -> SimBackend:
    return SimBackend(BackendContext(region="r", data_dir=tmp_path, db=db))


def test_a_create_that_loses_the_race_answers_the_winners_resource(
    backend: SimBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = SecurityGroupSpec(gateway_id="group-1", name="default", project_id="p")
    winner = backend.network.create_security_group(spec)

    # the loser looked before the winner's row was there: its check finds nothing once
    real_lookup = SimState.by_gateway_id
    missed: list[bool] = []

    def stale_once(self: SimState, *args: object, **kwargs: object) -> object:
        if not missed:
            missed.append(True)
            return None
        return real_lookup(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(SimState, "by_gateway_id", stale_once)
    loser = backend.network.create_security_group(spec)
    assert missed and loser == winner


def test_a_repeated_group_create_leaves_exactly_the_specs_rules(backend: SimBackend) -> None:
    """The first create's answer was lost and the group's rules changed before the retry."""
    ssh = SecurityGroupRule(
        direction=RuleDirection.INGRESS, protocol="tcp", port_min=22, port_max=22
    )
    egress = SecurityGroupRule(direction=RuleDirection.EGRESS)
    first = backend.network.create_security_group(
        SecurityGroupSpec(gateway_id="group-2", name="web", project_id="p", rules=(ssh, egress))
    )
    again = backend.network.create_security_group(
        SecurityGroupSpec(gateway_id="group-2", name="web", project_id="p", rules=(egress,))
    )

    assert again == first
    network = backend.network
    assert isinstance(network, SimNetwork)
    with network.state.session() as session:
        held = network.state.by_gateway_id(session, Kind.SECURITY_GROUP, "group-2")
        assert held is not None
        assert [rule["direction"] for rule in held.data["rules"]] == ["egress"]
