"""Two rule requests racing on a security group EC2 does not hold yet (its first realization
failed, the backend was down) make it once: the first makes it in its turn, and the second,
run in a thread while EC2 makes it, waits for that turn, then finds it made and gives it the
rules as they are then, both requests' (before, both made it outside the turn, EC2 refused
the second by name and the driver adopted the first's group, and the second gave it the rules
it read before the first's rule was written: EC2's group was right only once its reset came).

On a group EC2 holds, the second request runs in a thread while the first gives EC2 its rules
(tests/support/group_turns.py): the rules given last are the newest, and EC2 holds both.

A rule's create or delete that fails leaves EC2 no more open than the API shows the group."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from interstack.backends.aws.native_ids import unwrapped
from interstack.backends.aws.network import AwsNetwork
from interstack.errors import InterstackError, NotFound
from interstack.services.container import Services
from interstack.services.context import RequestContext
from interstack.services.network.records import SecurityGroupInfo
from interstack.services.network.security_groups import GroupCreate, SecurityGroupService
from interstack.services.network.sg_rules import RuleCreate
from interstack.store.models import SecurityGroup
from tests.backends.aws.support import PROJECT, REGION, aws_region_services, refuse_once
from tests.support.group_turns import (
    second_request_during_first_backend_call,
    unmade_with_creates_counted,
)
from tests.support.image import caller


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    with aws_region_services(tmp_path) as started:
        yield started


def web_group(
    services: Services,
) -> tuple[RequestContext, SecurityGroupService, AwsNetwork, SecurityGroupInfo]:
    """A caller of the project, the security groups, the region's EC2 network and a new group
    of the caller's."""
    alice = caller(PROJECT)
    groups = services.network.security_groups
    network = unwrapped(services.regions.backend(REGION).network)
    assert isinstance(network, AwsNetwork)
    return alice, groups, network, groups.create(alice, REGION, GroupCreate(name="web"))


def ec2_id(services: Services, group_id: str) -> str:
    """The EC2 id of the group, as the store records it."""
    with services.db.session() as session:
        row = session.get(SecurityGroup, group_id)
        assert row is not None and row.native_ref is not None
        return row.native_ref


def ssh_and_web(group_id: str) -> tuple[RuleCreate, RuleCreate]:
    def tcp(port: int) -> RuleCreate:
        return RuleCreate(
            group_id, "ingress", protocol="tcp", port_range_min=port, port_range_max=port
        )

    return tcp(22), tcp(80)


def test_two_rule_requests_racing_on_a_group_ec2_lacks_make_it_once_with_both_rules(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    alice, groups, network, group = web_group(services)
    creates = unmade_with_creates_counted(services.db, network, monkeypatch, group.id)
    ssh, web = ssh_and_web(group.id)
    with second_request_during_first_backend_call(
        network,
        monkeypatch,
        group.id,
        lambda: groups.create_rule(alice, REGION, web),
        call="create_security_group",
    ):
        groups.create_rule(alice, REGION, ssh)

    assert creates == [group.id]  # made once, by the first request
    held = network.ec2.describe_security_groups(
        Filters=[{"Name": "tag:interstack:gateway-id", "Values": [group.id]}]
    )["SecurityGroups"]
    assert len(held) == 1
    with services.db.session() as session:
        row = session.get(SecurityGroup, group.id)
        assert row is not None and row.native_ref == held[0]["GroupId"]
    ports = sorted(p.get("FromPort") for p in held[0]["IpPermissions"])
    assert ports == [22, 80]  # both requests' rules


def test_two_rule_requests_racing_on_a_group_ec2_holds_leave_both_rules_in_ec2(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a group EC2 holds, the second request's rule is written while the first request
    gives EC2 the rules it read: EC2 ends with both (before, the first request's older set,
    given last, revoked the second rule in EC2 while the API showed it)."""
    alice, groups, network, group = web_group(services)
    ssh, web = ssh_and_web(group.id)

    with second_request_during_first_backend_call(
        network, monkeypatch, group.id, lambda: groups.create_rule(alice, REGION, web)
    ):
        groups.create_rule(alice, REGION, ssh)

    held = network.ec2.describe_security_groups(GroupIds=[ec2_id(services, group.id)])[
        "SecurityGroups"
    ]
    assert sorted(p.get("FromPort") for p in held[0]["IpPermissions"]) == [22, 80]


def test_a_rule_whose_authorize_took_effect_but_failed_is_revoked_again(
    services: Services,
) -> None:
    """EC2 authorizes the rule and the answer is an error (a response lost, EC2's
    InternalError): the rule's create fails and the API does not show it, and EC2 must not
    hold it either — the group is realized again once the rule is removed (before, EC2 kept
    it, more open than the API said, until the group's next change)."""
    alice, groups, network, group = web_group(services)
    failed: list[str] = []

    def answered_with_an_error(**_kwargs: object) -> None:
        if not failed:  # the first: done in EC2, answered with an error
            failed.append("AuthorizeSecurityGroupIngress")
            raise ClientError(
                {"Error": {"Code": "InternalError", "Message": "try again"}},
                "AuthorizeSecurityGroupIngress",
            )

    network.ec2.meta.events.register(
        "after-call.ec2.AuthorizeSecurityGroupIngress", answered_with_an_error
    )
    ssh, _web = ssh_and_web(group.id)
    with pytest.raises(InterstackError):
        groups.create_rule(alice, REGION, ssh)

    assert failed
    assert [r for r in groups.get(alice, REGION, group.id).rules if r.port_range_min] == []
    held = network.ec2.describe_security_groups(GroupIds=[ec2_id(services, group.id)])[
        "SecurityGroups"
    ]
    assert held[0]["IpPermissions"] == []


def test_a_rule_delete_ec2_refuses_leaves_the_rule_shown_and_held_until_asked_again(
    services: Services,
) -> None:
    """EC2 refuses the revoke of a rule's DELETE: the DELETE fails and the API still shows the
    rule EC2 still holds (before, the rule was gone from the API, a DELETE asked again was
    its 404, and EC2 held it, more open than the API said, until the group's next change);
    asked again, it is gone from both."""
    alice, groups, network, group = web_group(services)
    ssh, _web = ssh_and_web(group.id)
    rule = groups.create_rule(alice, REGION, ssh)
    ref = ec2_id(services, group.id)

    def ec2_ports() -> list[int]:
        held = network.ec2.describe_security_groups(GroupIds=[ref])["SecurityGroups"][0]
        return [p["FromPort"] for p in held["IpPermissions"]]

    refused = refuse_once(network.ec2, "RevokeSecurityGroupIngress")
    with pytest.raises(InterstackError):
        groups.delete_rule(alice, REGION, rule.id)
    assert refused == ["RevokeSecurityGroupIngress"]
    assert rule.id in [r.id for r in groups.get(alice, REGION, group.id).rules]
    assert groups.get_rule(alice, REGION, rule.id) == rule  # its id, as it was
    assert ec2_ports() == [22]

    groups.delete_rule(alice, REGION, rule.id)
    assert rule.id not in [r.id for r in groups.get(alice, REGION, group.id).rules]
    assert ec2_ports() == []


def test_a_rule_delete_forgets_the_rule_only_once_ec2_revoked_it(services: Services) -> None:
    """While EC2 is asked to revoke a rule's DELETE the API still shows the rule: a gateway
    killed then (or before its store forgets it) leaves EC2 no more open than the API says,
    and the DELETE asked again finishes (before, the rule was gone from the store first: a
    gateway killed during the revoke left EC2 holding a rule the API no longer showed, and a
    DELETE asked again was its 404)."""
    alice, groups, network, group = web_group(services)
    ssh, _web = ssh_and_web(group.id)
    rule = groups.create_rule(alice, REGION, ssh)
    shown_while_revoked: list[bool] = []

    def look(**_kwargs: object) -> None:
        shown = [r.id for r in groups.get(alice, REGION, group.id).rules]
        shown_while_revoked.append(rule.id in shown)

    network.ec2.meta.events.register("before-call.ec2.RevokeSecurityGroupIngress", look)
    groups.delete_rule(alice, REGION, rule.id)

    assert shown_while_revoked == [True]
    assert rule.id not in [r.id for r in groups.get(alice, REGION, group.id).rules]
    held = network.ec2.describe_security_groups(GroupIds=[ec2_id(services, group.id)])
    assert held["SecurityGroups"][0]["IpPermissions"] == []
    with pytest.raises(NotFound):
        groups.delete_rule(alice, REGION, rule.id)


def test_a_rule_create_answers_its_own_failure_when_the_realization_again_fails_too(
    services: Services, caplog: pytest.LogCaptureFixture
) -> None:
    """The authorize took effect and answered InternalError, and the realization again (its
    revoke) is refused too: the create answers the first failure, not the second, which is
    logged (EC2 then holds the rule until the group's next change)."""
    alice, groups, network, group = web_group(services)

    def answered_with_an_error(**_kwargs: object) -> None:
        raise ClientError(
            {"Error": {"Code": "InternalError", "Message": "try again"}},
            "AuthorizeSecurityGroupIngress",
        )

    network.ec2.meta.events.register(
        "after-call.ec2.AuthorizeSecurityGroupIngress", answered_with_an_error
    )
    refused = refuse_once(network.ec2, "RevokeSecurityGroupIngress", code="RequestLimitExceeded")
    ssh, _web = ssh_and_web(group.id)
    with pytest.raises(InterstackError) as failed:
        groups.create_rule(alice, REGION, ssh)

    assert refused == ["RevokeSecurityGroupIngress"]
    assert "InternalError" in str(failed.value) and "RequestLimit" not in str(failed.value)
    assert [r for r in groups.get(alice, REGION, group.id).rules if r.port_range_min] == []
    assert any("not realized again" in r.getMessage() for r in caplog.records)
