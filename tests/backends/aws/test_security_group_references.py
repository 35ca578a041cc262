"""Deleting a security group another group's permission still references: EC2 refuses it
(``DependencyViolation``; the emulator is made to, as it does not), so the driver revokes such
references of the region's groups and deletes again. The gateway takes the rules naming a group
off first; a reference left is one EC2 kept from a change that failed half-way."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from interstack.backends.aws.network import AwsNetwork
from interstack.backends.contract import (
    NativeRef,
    RuleDirection,
    SecurityGroupRule,
    SecurityGroupSpec,
)
from interstack.errors import Conflict
from tests.backends.aws.support import (
    PROJECT,
    moto_drivers,
    new_id,
    refuse_deleting_named_groups,
    refuse_once,
)
from tests.support.moto import group_mentions


@pytest.fixture
def network() -> Iterator[tuple[AwsNetwork, Any]]:
    with moto_drivers() as (network, _compute, client):
        refuse_deleting_named_groups(client)
        yield network, client


def _group(driver: AwsNetwork, *rules: SecurityGroupRule) -> NativeRef:
    return driver.create_security_group(
        SecurityGroupSpec(gateway_id=new_id(), name="g", project_id=PROJECT, rules=rules)
    )


def test_a_reference_ec2_kept_is_revoked_and_the_group_deleted(
    network: tuple[AwsNetwork, Any],
) -> None:
    driver, _client = network
    web = _group(driver)
    naming = [
        SecurityGroupRule(
            RuleDirection.INGRESS, protocol="tcp", port_min=3306, port_max=3306, remote_group=web
        ),
        SecurityGroupRule(
            RuleDirection.EGRESS, protocol="tcp", port_min=80, port_max=80, remote_group=web
        ),
    ]
    ssh = SecurityGroupRule(
        RuleDirection.INGRESS, protocol="tcp", port_min=22, port_max=22, remote_cidr="10.0.0.0/8"
    )
    db = _group(driver, ssh, *naming)
    assert len(group_mentions(web)) == 3  # the group, db's ingress and egress permissions

    driver.delete_security_group(web)

    assert group_mentions(web) == []
    left = driver.groups.permissions.describe(db)
    assert [p["FromPort"] for p in left["IpPermissions"]] == [22]  # db's other rule stays
    driver.delete_security_group(db)


def test_a_refusal_without_references_is_the_conflict(network: tuple[AwsNetwork, Any]) -> None:
    """EC2 refuses too while a network interface uses the group: nothing to revoke then."""
    driver, client = network
    group = _group(driver)
    refuse_once(client, "DeleteSecurityGroup", "DependencyViolation", "in use by an ENI", 400)
    with pytest.raises(Conflict, match="DependencyViolation"):
        driver.delete_security_group(group)
    assert group_mentions(group) == [f"security group {group}"]
    driver.delete_security_group(group)
