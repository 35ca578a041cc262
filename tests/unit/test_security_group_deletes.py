"""A security group's DELETE that takes other groups' rules naming it along, cut short: by the
backend refusing the group's deletion, or by the gateway stopping after each backend step. Nothing
is lost (the group and the rules naming it stay in the store, the backend enforces them again)
and the DELETE asked again finishes. The sim refuses, as EC2 does, to delete a group another
group's rule names, so the order of the steps is proven too."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from interstack.backends.contract import NativeRef, SecurityGroupRule
from interstack.backends.sim.network import SimNetwork
from interstack.backends.sim.state import Kind
from interstack.errors import BackendError, Conflict, NotFound
from interstack.services.container import Services
from interstack.services.network.networks import NetworkCreate
from interstack.services.network.ports import PortCreate
from interstack.services.network.records import RuleInfo
from interstack.services.network.security_groups import GroupCreate, SecurityGroupService
from interstack.services.network.sg_rules import RuleCreate
from interstack.store.models import SecurityGroup
from tests.support.image import REGION, caller
from tests.support.network import web_and_db


def _sim(services: Services) -> SimNetwork:
    network = services.regions.backend(REGION).network
    assert isinstance(network, SimNetwork)
    return network


def _native(services: Services, group_id: str) -> NativeRef:
    with services.db.session() as session:
        found = session.scalar(select(SecurityGroup.native_ref).where(SecurityGroup.id == group_id))
    assert found is not None
    return NativeRef(found)


def _held(services: Services, group_id: str) -> list[dict[str, Any]] | None:
    """The rules the sim holds for the group; None when it holds no such group."""
    network = _sim(services)
    with network.state.session() as session:
        held = network.state.by_gateway_id(session, Kind.SECURITY_GROUP, group_id)
        return None if held is None else list(held.data["rules"])


def _named_by(services: Services, group_id: str, remote: NativeRef) -> bool:
    held = _held(services, group_id)
    assert held is not None
    return any(r["remote_group"] == remote for r in held)


def _web_and_db(services: Services, project: str) -> tuple[str, str, str]:
    """:func:`web_and_db` of ``project``: their ids and the rule's."""
    web, db, rule = web_and_db(services.network.security_groups, caller(project), REGION)
    return web.id, db.id, rule.id


def test_a_refused_backend_delete_loses_nothing_and_the_delete_asked_again_finishes(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    groups: SecurityGroupService = services.network.security_groups
    ctx = caller("refused")
    web, db, rule = _web_and_db(services, "refused")
    web_ref = _native(services, web)
    network = _sim(services)
    real_delete = network.delete_security_group

    def refused(ref: NativeRef) -> None:
        monkeypatch.setattr(network, "delete_security_group", real_delete)
        raise BackendError("the cloud refused")

    monkeypatch.setattr(network, "delete_security_group", refused)
    with pytest.raises(BackendError):
        groups.delete(ctx, REGION, web)
    assert groups.get(ctx, REGION, web).id == web
    assert groups.get_rule(ctx, REGION, rule).remote_group_id == web
    assert _named_by(services, db, web_ref)  # enforced again, as the API shows it

    groups.delete(ctx, REGION, web)

    with pytest.raises(NotFound):
        groups.get_rule(ctx, REGION, rule)
    assert rule not in {r.id for r in groups.get(ctx, REGION, db).rules}
    assert _held(services, web) is None
    assert not _named_by(services, db, web_ref)


@pytest.mark.parametrize("stopped_after", ["the revoke", "the group's deletion"])
def test_a_delete_the_gateway_stopped_in_finishes_when_asked_again(
    services: Services, stopped_after: str
) -> None:
    """What a gateway stopped after each backend step leaves: the backend changed, the store
    not (the steps are made here on the backend as the DELETE makes them)."""
    groups: SecurityGroupService = services.network.security_groups
    ctx = caller(f"stopped-{len(stopped_after)}")
    web, db, rule = _web_and_db(services, f"stopped-{len(stopped_after)}")
    web_ref, network = _native(services, web), _sim(services)
    held = _held(services, db)
    assert held is not None
    kept = tuple(SecurityGroupRule(**r) for r in held if r["remote_group"] != web_ref)
    network.set_security_group_rules(_native(services, db), kept)
    if stopped_after == "the group's deletion":
        network.delete_security_group(web_ref)
    assert groups.get_rule(ctx, REGION, rule).remote_group_id == web

    groups.delete(ctx, REGION, web)

    with pytest.raises(NotFound):
        groups.get(ctx, REGION, web)
    with pytest.raises(NotFound):
        groups.get_rule(ctx, REGION, rule)
    assert _held(services, web) is None
    assert not _named_by(services, db, web_ref)


def test_a_port_taking_the_group_during_its_delete_keeps_it_made_anew(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A port made with the group after the DELETE's first look, before its store step: the
    DELETE is the 409 and the group, deleted on the backend by then, is made there anew, the
    rules naming it with it."""
    groups: SecurityGroupService = services.network.security_groups
    ctx = caller("raced")
    web, db, rule = _web_and_db(services, "raced")
    net = services.network.networks.create(ctx, REGION, NetworkCreate(name="n"))
    network = _sim(services)
    real_delete = network.delete_security_group

    def then_a_port(ref: NativeRef) -> None:
        real_delete(ref)
        monkeypatch.setattr(network, "delete_security_group", real_delete)
        services.network.ports.create(
            ctx, REGION, PortCreate(network_id=net.id, security_groups=(web,))
        )

    monkeypatch.setattr(network, "delete_security_group", then_a_port)
    with pytest.raises(Conflict) as in_use:
        groups.delete(ctx, REGION, web)
    assert in_use.value.kind == "SecurityGroupInUse"
    assert groups.get_rule(ctx, REGION, rule).remote_group_id == web
    assert _held(services, web) is not None
    assert _named_by(services, db, _native(services, web))


def _another_projects_group(services: Services, project: str) -> str:
    """A group of another project, ``project``, whose rules name nothing yet."""
    groups: SecurityGroupService = services.network.security_groups
    return groups.create(caller(project), REGION, GroupCreate(name="elsewhere")).id


def _late_rule(services: Services, holder: str, web: str) -> RuleInfo:
    """An admin's rule in ``holder`` (another project's group) naming ``web``, as Neutron lets
    an admin make it."""
    return services.network.security_groups.create_rule(
        caller("admins", "admin"),
        REGION,
        RuleCreate(security_group_id=holder, direction="ingress", remote_group_id=web),
    )


def test_a_rule_naming_the_group_made_during_its_delete_goes_with_it_everywhere(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rule naming the group made after the DELETE's first look (another project's, by an
    admin), realized while the backend step runs: the store step cascades it, and its group is
    realized without it after (the "late" rules) — the backend kept it naming a deleted group."""
    groups: SecurityGroupService = services.network.security_groups
    ctx = caller("late")
    web, _db, _rule = _web_and_db(services, "late")
    web_ref, network = _native(services, web), _sim(services)
    holder = _another_projects_group(services, "late-other")
    real_delete = network.delete_security_group
    late: list[RuleInfo] = []

    def then_a_rule(ref: NativeRef) -> None:
        real_delete(ref)
        monkeypatch.setattr(network, "delete_security_group", real_delete)
        late.append(_late_rule(services, holder, web))

    monkeypatch.setattr(network, "delete_security_group", then_a_rule)
    groups.delete(ctx, REGION, web)

    assert _named_by(services, holder, web_ref) is False
    with pytest.raises(NotFound):
        groups.get_rule(caller("admins", "admin"), REGION, late[0].id)
    assert late[0].id not in {r.id for r in groups.get(caller("late-other"), REGION, holder).rules}


def test_a_failed_delete_realizes_the_rules_made_during_it_too(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rule naming the group made during a DELETE that then fails (a port took the group):
    the group made anew on the backend is named by that rule's group too, as the API shows it,
    not the deleted one."""
    groups: SecurityGroupService = services.network.security_groups
    ctx = caller("late-409")
    web, _db, _rule = _web_and_db(services, "late-409")
    web_ref, network = _native(services, web), _sim(services)
    holder = _another_projects_group(services, "late-409-other")
    net = services.network.networks.create(ctx, REGION, NetworkCreate(name="n"))
    real_delete = network.delete_security_group

    def then_a_rule_and_a_port(ref: NativeRef) -> None:
        real_delete(ref)
        monkeypatch.setattr(network, "delete_security_group", real_delete)
        _late_rule(services, holder, web)
        services.network.ports.create(
            ctx, REGION, PortCreate(network_id=net.id, security_groups=(web,))
        )

    monkeypatch.setattr(network, "delete_security_group", then_a_rule_and_a_port)
    with pytest.raises(Conflict):
        groups.delete(ctx, REGION, web)

    made_anew = _native(services, web)
    assert made_anew != web_ref
    assert _named_by(services, holder, made_anew)
    assert not _named_by(services, holder, web_ref)
