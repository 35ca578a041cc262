"""A project's VPC is never used half made: one EC2 would not give DNS host names is deleted
again, and where EC2 refuses that too, the next use (this process or a restarted gateway), which
finds it by its tag, turns them on before anything is made in it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from interstack.backends.aws.network import AwsNetwork
from interstack.backends.aws.settings import AwsSettings
from interstack.backends.contract import NetworkSpec, SubnetSpec
from interstack.errors import InterstackError
from tests.backends.aws.support import PROJECT, REGION, new_id, project_vpcs, refuse_once
from tests.support.moto import aws_settings, ec2


@pytest.fixture
def network() -> Iterator[AwsNetwork]:
    client = ec2()
    yield AwsNetwork(client, REGION, AwsSettings.parse(REGION, aws_settings()))
    client.close()


def dns_host_names(vpc_id: str) -> bool:
    answer = ec2().describe_vpc_attribute(VpcId=vpc_id, Attribute="enableDnsHostnames")
    return bool(answer["EnableDnsHostnames"]["Value"])


@pytest.mark.parametrize("next_use", ["this process", "a restarted gateway"])
def test_a_vpc_ec2_would_neither_prepare_nor_delete_gets_dns_names_at_its_next_use(
    network: AwsNetwork, next_use: str
) -> None:
    refused = [refuse_once(network.ec2, op) for op in ("ModifyVpcAttribute", "DeleteVpc")]
    net = network.create_network(NetworkSpec(gateway_id=new_id(), name="n", project_id=PROJECT))
    spec = SubnetSpec(gateway_id=new_id(), network=net, cidr="10.20.0.0/24", gateway_ip=None)
    with pytest.raises(InterstackError, match="UnauthorizedOperation"):
        network.create_subnet(spec)
    assert refused == [["ModifyVpcAttribute"], ["DeleteVpc"]]
    (vpc_id,) = project_vpcs()  # EC2 kept it
    assert not dns_host_names(vpc_id)

    user = (
        network if next_use == "this process" else AwsNetwork(ec2(), REGION, network.vpcs.settings)
    )
    subnet = user.create_subnet(spec)
    (made,) = ec2().describe_subnets(SubnetIds=[subnet])["Subnets"]
    assert made["VpcId"] == vpc_id
    assert dns_host_names(vpc_id)
    assert project_vpcs() == [vpc_id]
