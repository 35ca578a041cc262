"""A project VPC's secondary CIDR blocks are let go with their last subnet, whoever deleted the
others (another gateway of the same store, or a person), and also where EC2 still says the block
is in use just after that subnet went (eventual consistency). A VPC found by its tag is not
changed again when it is already as wanted."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from interstack.backends.aws.network import AwsNetwork
from interstack.backends.contract import NativeRef, SubnetSpec
from tests.backends.aws.support import (
    PROJECT,
    REGION,
    Calls,
    moto_drivers,
    network_with_subnet,
    new_id,
    refuse_once,
)
from tests.support.moto import ec2


@pytest.fixture
def network() -> Iterator[AwsNetwork]:
    with moto_drivers() as (network, _compute, _client):
        yield network


def subnet(network: AwsNetwork, net: NativeRef, cidr: str) -> NativeRef:
    return network.create_subnet(
        SubnetSpec(gateway_id=new_id(), network=net, cidr=cidr, gateway_ip=None)
    )


def live_blocks(network: AwsNetwork) -> list[str]:
    (vpc,) = ec2().describe_vpcs(VpcIds=[network.vpcs.ensure(PROJECT)])["Vpcs"]
    return [
        a["CidrBlock"]
        for a in vpc["CidrBlockAssociationSet"]
        if a["CidrBlockState"]["State"] in {"associated", "associating"}
    ]


def test_a_block_goes_with_its_last_subnet_when_another_gateway_deleted_one_made_here(
    network: AwsNetwork,
) -> None:
    net, first = network_with_subnet(network, "10.31.1.0/24")
    second = subnet(network, net, "10.31.2.0/24")
    assert "10.31.0.0/16" in live_blocks(network)
    # another gateway on the same store (a replica) deletes the second subnet: for it the
    # block still holds the first one
    replica = AwsNetwork(ec2(), REGION, network.vpcs.settings)
    replica.delete_subnet(second)
    assert "10.31.0.0/16" in live_blocks(network)
    # this gateway deletes the block's last subnet: the block goes too
    network.delete_subnet(first)
    assert "10.31.0.0/16" not in live_blocks(network)


def test_a_block_ec2_still_calls_in_use_just_after_its_last_subnet_is_let_go(
    network: AwsNetwork,
) -> None:
    _net, made = network_with_subnet(network, "10.32.1.0/24")
    # EC2 has not caught up with the subnet's deletion at the first disassociation
    refused = refuse_once(
        network.ec2, "DisassociateVpcCidrBlock", "InvalidCidrBlock.InUse", "has a subnet", 400
    )
    network.delete_subnet(made)
    assert refused == ["DisassociateVpcCidrBlock"]
    assert "10.32.0.0/16" not in live_blocks(network)  # asked again


def test_a_vpc_found_with_dns_names_on_is_not_modified_again(network: AwsNetwork) -> None:
    net, _first = network_with_subnet(network, "10.33.1.0/24")  # the VPC: DNS names on
    client = ec2()
    restarted = AwsNetwork(client, REGION, network.vpcs.settings)
    calls = Calls(client)
    subnet(restarted, net, "10.33.2.0/24")  # found by its tag
    assert "DescribeVpcAttribute" in calls.take()
    assert calls.of("ModifyVpcAttribute") == []
    vpc_id = restarted.vpcs.ensure(PROJECT)
    answer = client.describe_vpc_attribute(VpcId=vpc_id, Attribute="enableDnsHostnames")
    assert answer["EnableDnsHostnames"]["Value"] is True
