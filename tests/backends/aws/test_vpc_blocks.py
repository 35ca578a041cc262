"""A project VPC's secondary CIDR blocks are let go with their last subnet, whoever deleted the
others (another gateway of the same store, or a person), and also where EC2 still says the block
is in use just after that subnet went (eventual consistency). A VPC found by its tag is not
changed again when it is already as wanted."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from interstack.backends.aws.network import AwsNetwork
from interstack.backends.contract import NativeRef, NetworkSpec, SubnetSpec
from tests.backends.aws.support import REGION, drivers_on, refusal
from tests.support.moto import ec2

PROJECT = "p1"


@pytest.fixture
def network() -> Iterator[AwsNetwork]:
    client = ec2()
    yield drivers_on(client)[0]
    client.close()


def new_id() -> str:
    return str(uuid.uuid4())


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


def calls_to(client: Any, operation: str, answer: Any = None) -> list[dict[str, Any]]:
    """The parameters of each ``operation`` ``client`` sends; ``answer(n)`` (n: the calls so
    far) may answer one in EC2's stead."""
    seen: list[dict[str, Any]] = []

    def record(params: dict[str, Any], **_kwargs: Any) -> Any:
        seen.append(params)
        return answer(len(seen)) if answer is not None else None

    client.meta.events.register(f"before-call.ec2.{operation}", record)
    return seen


def test_a_block_goes_with_its_last_subnet_when_another_gateway_deleted_one_made_here(
    network: AwsNetwork,
) -> None:
    net = network.create_network(NetworkSpec(gateway_id=new_id(), name="n", project_id=PROJECT))
    first = subnet(network, net, "10.31.1.0/24")
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
    net = network.create_network(NetworkSpec(gateway_id=new_id(), name="n", project_id=PROJECT))
    made = subnet(network, net, "10.32.1.0/24")
    # EC2 has not caught up with the subnet's deletion at the first disassociation
    refused = calls_to(
        network.ec2,
        "DisassociateVpcCidrBlock",
        lambda n: refusal("InvalidCidrBlock.InUse", "has a subnet") if n == 1 else None,
    )
    network.delete_subnet(made)
    assert len(refused) == 2
    assert "10.32.0.0/16" not in live_blocks(network)


def test_a_vpc_found_with_dns_names_on_is_not_modified_again(network: AwsNetwork) -> None:
    net = network.create_network(NetworkSpec(gateway_id=new_id(), name="n", project_id=PROJECT))
    subnet(network, net, "10.33.1.0/24")  # the VPC is made, with DNS host names on
    client = ec2()
    restarted = AwsNetwork(client, REGION, network.vpcs.settings)
    modified = calls_to(client, "ModifyVpcAttribute")
    subnet(restarted, net, "10.33.2.0/24")  # found by its tag
    assert modified == []
    vpc_id = restarted.vpcs.ensure(PROJECT)
    answer = client.describe_vpc_attribute(VpcId=vpc_id, Attribute="enableDnsHostnames")
    assert answer["EnableDnsHostnames"]["Value"] is True
