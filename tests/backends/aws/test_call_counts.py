"""The EC2 calls the aws drivers make for the benchmark's sequence (network, subnet, security
group with rules, port, server; delete all), counted on moto: no describe before a create (EC2's
own duplicate errors and client tokens make a repeated create find the first one), none for
what the driver made or learnt itself (the project's VPC, its CIDR blocks, a new group's
rules, an instance's key pair). A change of an existing group's rules always describes it first:
a permission added elsewhere must not stay open. Then the fallbacks: what EC2 says when the
remembered state is outdated makes the driver look again, and the result is still what the
spec asks for."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from interstack.backends.aws.compute import AwsCompute
from interstack.backends.aws.network import AwsNetwork
from interstack.backends.contract import (
    FixedIp,
    NativeRef,
    NetworkSpec,
    PortSpec,
    RouterSpec,
    RuleDirection,
    SecurityGroupRule,
    SecurityGroupSpec,
    SubnetSpec,
)
from interstack.errors import BackendUnavailable, Conflict, InterstackError, NotFound
from tests.backends.aws.support import (
    PROJECT,
    REGION,
    SMALL,
    Calls,
    answer,
    answer_next,
    moto_drivers,
    network_with_subnet,
    new_id,
    port_on,
    project_vpcs,
    refuse_once,
    server_spec,
)
from tests.support.moto import ec2

PUBLIC_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGc1LMfaNjp0y6RBeSmEOJaHjxO2OlzAnCqJhE/ChbEV t"
#: Neutron's egress rules of a new group, and the benchmark's two ingress rules
EGRESS = (
    SecurityGroupRule(RuleDirection.EGRESS, 4),
    SecurityGroupRule(RuleDirection.EGRESS, 6),
)
SSH = SecurityGroupRule(RuleDirection.INGRESS, 4, "tcp", 22, 22, "0.0.0.0/0")
HTTPS = SecurityGroupRule(RuleDirection.INGRESS, 4, "tcp", 443, 443, "0.0.0.0/0")


@pytest.fixture
def drivers() -> Iterator[tuple[AwsNetwork, AwsCompute, Calls]]:
    with moto_drivers() as (network, compute, client):
        # the first use of a project describes its VPC once (here: the first subnet)
        network_with_subnet(network, "10.250.0.0/24")
        yield network, compute, Calls(client)


def test_the_benchmark_sequence_makes_no_redundant_calls(
    drivers: tuple[AwsNetwork, AwsCompute, Calls],
) -> None:
    network, compute, calls = drivers
    compute.instance_types.for_flavor(SMALL)
    calls.take()  # the instance types are read once per region, not per boot

    net = network.create_network(NetworkSpec(gateway_id=new_id(), name="n", project_id=PROJECT))
    # a network is its subnets' tag: it lives in the project's VPC, whichever that is then
    assert calls.take() == []
    subnet = network.create_subnet(
        SubnetSpec(gateway_id=new_id(), network=net, cidr="10.7.0.0/24", gateway_ip="10.7.0.1")
    )
    assert calls.take() == ["AssociateVpcCidrBlock", "CreateSubnet"]
    # the gateway makes a group with Neutron's egress rules, then sets its rules again
    group_spec = SecurityGroupSpec(gateway_id=new_id(), name="g", project_id=PROJECT, rules=EGRESS)
    group = network.create_security_group(group_spec)
    assert calls.take() == ["CreateSecurityGroup", "AuthorizeSecurityGroupEgress"]  # IPv6
    network.set_security_group_rules(group, EGRESS)
    assert calls.take() == ["DescribeSecurityGroups"]  # the same rules: only EC2 knows
    network.set_security_group_rules(group, (*EGRESS, SSH))
    network.set_security_group_rules(group, (*EGRESS, SSH, HTTPS))
    # each change reads the group first: what EC2 holds beyond the rules is revoked
    assert calls.take() == ["DescribeSecurityGroups", "AuthorizeSecurityGroupIngress"] * 2
    port = port_on(network, net, subnet, "10.7.0.10", groups=(group,))
    assert calls.take() == ["CreateNetworkInterface"]
    server = compute.create_server(server_spec(ports=(port,), key_name="k", public_key=PUBLIC_KEY))
    # the AMI's root device is looked up once per AMI
    assert calls.take() == ["DescribeImages", "ImportKeyPair", "RunInstances"]

    compute.delete_server(server.ref)
    assert calls.take() == ["TerminateInstances", "DeleteKeyPair"]
    with pytest.raises(NotFound):  # the delete task's look: gone once EC2 says terminated
        compute.get_server(server.ref)
    assert calls.take() == ["DescribeInstances"]  # shutting-down still holds its ENI
    assert ec2().describe_instances(InstanceIds=[server.ref])["Reservations"][0]["Instances"][0][
        "State"
    ]["Name"] in ("shutting-down", "terminated")
    network.delete_port(port)
    network.delete_security_group(group)
    network.delete_subnet(subnet)
    network.delete_network(net)  # its subnets were all made (and deleted) here
    assert calls.take() == [
        "DeleteNetworkInterface",
        "DeleteSecurityGroup",
        "DeleteSubnet",
        "DisassociateVpcCidrBlock",  # the block was made here, and its last subnet made here
    ]
    (left,) = ec2().describe_vpcs(VpcIds=project_vpcs())["Vpcs"]
    blocks = [
        a["CidrBlock"]
        for a in left["CidrBlockAssociationSet"]
        if a["CidrBlockState"]["State"] == "associated"
    ]
    assert "10.7.0.0/16" not in blocks
    assert "10.250.0.0/16" in blocks  # the warm-up subnet's block stays
    assert ec2().describe_key_pairs()["KeyPairs"] == []


def permissions(group: str) -> set[tuple[str, Any]]:
    found = ec2().describe_security_groups(GroupIds=[group])["SecurityGroups"][0]
    return {("in", p.get("FromPort")) for p in found["IpPermissions"]} | {
        ("out", p["IpProtocol"]) for p in found["IpPermissionsEgress"]
    }


def test_rules_changed_elsewhere_are_read_again(
    drivers: tuple[AwsNetwork, AwsCompute, Calls],
) -> None:
    network, _compute, calls = drivers
    group = network.create_security_group(
        SecurityGroupSpec(gateway_id=new_id(), name="g", project_id=PROJECT, rules=EGRESS)
    )
    # someone adds the SSH rule outside the gateway: the gateway's own SSH rule is a duplicate
    ec2().authorize_security_group_ingress(GroupId=group, IpPermissions=[ingress_permission()])
    calls.take()
    network.set_security_group_rules(group, (*EGRESS, SSH, HTTPS))
    assert "DescribeSecurityGroups" in calls.take()
    assert permissions(group) == {("in", 22), ("in", 443), ("out", "-1")}
    # and removes it again: revoking it is an unknown permission
    ec2().revoke_security_group_ingress(GroupId=group, IpPermissions=[ingress_permission()])
    network.set_security_group_rules(group, (*EGRESS, HTTPS))
    assert permissions(group) == {("in", 443), ("out", "-1")}


def test_a_permission_opened_elsewhere_is_revoked_at_the_next_change(
    drivers: tuple[AwsNetwork, AwsCompute, Calls],
) -> None:
    network, _compute, calls = drivers
    group = network.create_security_group(
        SecurityGroupSpec(gateway_id=new_id(), name="g", project_id=PROJECT, rules=(*EGRESS, SSH))
    )
    client = ec2()
    prefix_list = client.create_managed_prefix_list(
        PrefixListName="elsewhere", MaxEntries=1, AddressFamily="IPv4"
    )["PrefixList"]["PrefixListId"]
    # opened outside the gateway: a port range, and a prefix list (a remote Neutron has not)
    client.authorize_security_group_ingress(
        GroupId=group,
        IpPermissions=[
            ingress_permission(0, to_port=1024),
            {"IpProtocol": "-1", "PrefixListIds": [{"PrefixListId": prefix_list}]},
        ],
    )
    network.set_security_group_rules(group, (*EGRESS, SSH, HTTPS))  # a rule added
    assert permissions(group) == {("in", 22), ("in", 443), ("out", "-1")}
    client.authorize_security_group_ingress(
        GroupId=group,
        IpPermissions=[ingress_permission(53, "udp", "10.0.0.0/8")],
    )
    calls.take()
    network.set_security_group_rules(group, (*EGRESS, HTTPS))  # a rule removed
    assert calls.take() == ["DescribeSecurityGroups", "RevokeSecurityGroupIngress"]
    assert permissions(group) == {("in", 443), ("out", "-1")}
    # what a change that failed half-way could leave (here: made directly) is revoked too
    client.authorize_security_group_ingress(GroupId=group, IpPermissions=[ingress_permission()])
    network.set_security_group_rules(group, EGRESS)
    assert permissions(group) == {("out", "-1")}


def test_rules_set_again_unchanged_still_close_what_was_opened_elsewhere(
    drivers: tuple[AwsNetwork, AwsCompute, Calls],
) -> None:
    network, _compute, calls = drivers
    group = network.create_security_group(
        SecurityGroupSpec(gateway_id=new_id(), name="g", project_id=PROJECT, rules=(*EGRESS, SSH))
    )
    network.set_security_group_rules(group, (*EGRESS, SSH, HTTPS))
    ec2().authorize_security_group_ingress(
        GroupId=group,
        IpPermissions=[ingress_permission(3389)],
    )
    calls.take()
    network.set_security_group_rules(group, (*EGRESS, SSH, HTTPS))  # what it set last
    assert calls.take() == ["DescribeSecurityGroups", "RevokeSecurityGroupIngress"]
    assert permissions(group) == {("in", 22), ("in", 443), ("out", "-1")}


def test_a_new_group_is_trusted_to_hold_the_defaults_only_while_it_is_created(
    drivers: tuple[AwsNetwork, AwsCompute, Calls],
) -> None:
    network, _compute, calls = drivers
    ipv4_egress = (EGRESS[0],)  # exactly what EC2 gives a new group: no call to make it so
    group = network.create_security_group(
        SecurityGroupSpec(gateway_id=new_id(), name="g", project_id=PROJECT, rules=ipv4_egress)
    )
    assert calls.take() == ["CreateSecurityGroup"]
    ec2().authorize_security_group_ingress(GroupId=group, IpPermissions=[ingress_permission()])
    calls.take()
    network.set_security_group_rules(group, (*ipv4_egress, HTTPS))  # its first change
    assert calls.take() == [
        "DescribeSecurityGroups",
        "RevokeSecurityGroupIngress",
        "AuthorizeSecurityGroupIngress",
    ]
    assert permissions(group) == {("in", 443), ("out", "-1")}


def ingress_permission(
    port: int = 22, protocol: str = "tcp", cidr: str = "0.0.0.0/0", to_port: int | None = None
) -> dict[str, Any]:
    """An ingress permission as EC2 takes it: SSH from anywhere unless told otherwise."""
    return {
        "IpProtocol": protocol,
        "FromPort": port,
        "ToPort": port if to_port is None else to_port,
        "IpRanges": [{"CidrIp": cidr}],
    }


def test_repeated_creates_find_the_first(drivers: tuple[AwsNetwork, AwsCompute, Calls]) -> None:
    network, _compute, _calls = drivers
    net = network.create_network(NetworkSpec(gateway_id=new_id(), name="n", project_id=PROJECT))
    group_spec = SecurityGroupSpec(gateway_id=new_id(), name="g", project_id=PROJECT, rules=EGRESS)
    assert network.create_security_group(group_spec) == network.create_security_group(group_spec)
    subnet_spec = SubnetSpec(
        gateway_id=new_id(), network=net, cidr="10.8.0.0/24", gateway_ip="10.8.0.1"
    )
    assert network.create_subnet(subnet_spec) == network.create_subnet(subnet_spec)
    assert (
        len(
            ec2().describe_subnets(Filters=[{"Name": "cidr-block", "Values": ["10.8.0.0/24"]}])[
                "Subnets"
            ]
        )
        == 1
    )


def delete_vpc(client: Any, vpc_id: str) -> None:
    """What the cleanup does to a project's VPC: its groups and subnets go, then the VPC."""
    for left in client.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])[
        "Subnets"
    ]:
        client.delete_subnet(SubnetId=left["SubnetId"])
    for group in client.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])[
        "SecurityGroups"
    ]:
        if group["GroupName"] != "default":
            client.delete_security_group(GroupId=group["GroupId"])
    client.delete_vpc(VpcId=vpc_id)


def subnet_vpc(subnet: str) -> str:
    return str(ec2().describe_subnets(SubnetIds=[subnet])["Subnets"][0]["VpcId"])


# (a group's create retries the same way, but moto creates a group in a deleted VPC where EC2
# answers InvalidVpcID.NotFound, so only the subnet and the router are shown here)
@pytest.mark.parametrize("first", ["subnet", "router"])
def test_a_vpc_deleted_elsewhere_is_replaced_by_the_next_create(
    drivers: tuple[AwsNetwork, AwsCompute, Calls], first: str
) -> None:
    network, _compute, _calls = drivers
    net = network.create_network(NetworkSpec(new_id(), "n", PROJECT))  # before: as after
    (old,) = project_vpcs()
    delete_vpc(ec2(), old)
    if first == "router":
        router = network.create_router(
            RouterSpec(gateway_id=new_id(), name="r", project_id=PROJECT)
        )
        vpc_id = ec2().describe_route_tables(RouteTableIds=[router])["RouteTables"][0]["VpcId"]
    else:
        subnet = network.create_subnet(
            SubnetSpec(gateway_id=new_id(), network=net, cidr="10.10.0.0/24", gateway_ip=None)
        )
        vpc_id = subnet_vpc(subnet)
    assert vpc_id != old
    assert ec2().describe_vpcs(VpcIds=[vpc_id])["Vpcs"][0]["State"] == "available"
    assert project_vpcs() == [vpc_id]  # the old one is gone, and no third was made
    # and the project goes on in the new VPC
    subnet = network.create_subnet(
        SubnetSpec(gateway_id=new_id(), network=net, cidr="10.11.0.0/24", gateway_ip=None)
    )
    assert subnet_vpc(subnet) == vpc_id


def test_a_vpc_and_blocks_changed_elsewhere_are_read_again(
    drivers: tuple[AwsNetwork, AwsCompute, Calls],
) -> None:
    network, _compute, _calls = drivers
    net = network.create_network(NetworkSpec(gateway_id=new_id(), name="n", project_id=PROJECT))
    first = network.create_subnet(
        SubnetSpec(gateway_id=new_id(), network=net, cidr="10.9.0.0/24", gateway_ip="10.9.0.1")
    )
    vpc_id = subnet_vpc(first)
    # the block goes elsewhere (its subnet first): the next subnet in it brings it back
    client = ec2()
    client.delete_subnet(SubnetId=first)
    association = next(
        a["AssociationId"]
        for a in client.describe_vpcs(VpcIds=[vpc_id])["Vpcs"][0]["CidrBlockAssociationSet"]
        if a["CidrBlock"] == "10.9.0.0/16"
    )
    client.disassociate_vpc_cidr_block(AssociationId=association)
    again = network.create_subnet(
        SubnetSpec(gateway_id=new_id(), network=net, cidr="10.9.1.0/24", gateway_ip="10.9.1.1")
    )
    assert subnet_vpc(again) == vpc_id
    # the cleanup deletes the project's VPC: a network an older gateway made names it, and a
    # subnet of it is a plain 404; the project's networks go on in a new VPC
    delete_vpc(client, vpc_id)
    older = NativeRef(f"{vpc_id}/{new_id()}")
    with pytest.raises(NotFound, match="delete the network and create it again"):
        network.create_subnet(
            SubnetSpec(gateway_id=new_id(), network=older, cidr="10.9.2.0/24", gateway_ip=None)
        )
    assert project_vpcs() == []
    subnet = network.create_subnet(
        SubnetSpec(gateway_id=new_id(), network=net, cidr="10.9.2.0/24", gateway_ip=None)
    )
    assert project_vpcs() == [subnet_vpc(subnet)]
    assert subnet_vpc(subnet) != vpc_id


def test_a_block_keeps_a_subnet_made_elsewhere(
    drivers: tuple[AwsNetwork, AwsCompute, Calls], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A block made here is released without a describe once its subnets made here are gone;
    EC2 refuses while another process's subnet is in it (and describes it), and the block
    stays. While a subnet made here is left, or the block was not made here, it is released
    only when EC2 describes no subnet in it."""
    network, _compute, calls = drivers
    net = network.create_network(NetworkSpec(gateway_id=new_id(), name="n", project_id=PROJECT))
    ours = network.create_subnet(
        SubnetSpec(gateway_id=new_id(), network=net, cidr="10.14.0.0/24", gateway_ip=None)
    )
    second = network.create_subnet(
        SubnetSpec(gateway_id=new_id(), network=net, cidr="10.14.1.0/24", gateway_ip=None)
    )
    # another process (a gateway before a restart, a replica) makes a subnet in the block
    elsewhere = AwsNetwork(network.ec2, REGION, network.vpcs.settings)
    theirs = elsewhere.create_subnet(
        SubnetSpec(gateway_id=new_id(), network=net, cidr="10.14.2.0/24", gateway_ip=None)
    )
    calls.take()
    network.delete_subnet(ours)
    # a subnet made here is left in the block: is it still there (deleted elsewhere)?
    assert calls.take() == ["DeleteSubnet", "DescribeSubnets"]
    real_disassociate = network.ec2.disassociate_vpc_cidr_block

    def refused(**_kwargs: Any) -> None:  # what EC2 answers; moto lets the block go
        raise ClientError(
            {"Error": {"Code": "InvalidCidrBlock.InUse", "Message": "has a subnet"}},
            "DisassociateVpcCidrBlock",
        )

    monkeypatch.setattr(network.ec2, "disassociate_vpc_cidr_block", refused)
    network.delete_subnet(second)
    assert calls.take() == ["DeleteSubnet", "DescribeSubnets"]  # refused: theirs is there
    monkeypatch.setattr(network.ec2, "disassociate_vpc_cidr_block", real_disassociate)
    assert "10.14.0.0/16" in live_blocks(subnet_vpc(theirs))
    # the other process did not make the block: it asks EC2 whether a subnet is left
    elsewhere.delete_subnet(theirs)
    assert calls.take() == ["DeleteSubnet", "DescribeSubnets", "DisassociateVpcCidrBlock"]
    assert "10.14.0.0/16" not in live_blocks(network.vpcs.ensure(PROJECT))


def live_blocks(vpc_id: str) -> list[str]:
    (vpc,) = ec2().describe_vpcs(VpcIds=[vpc_id])["Vpcs"]
    return [
        a["CidrBlock"]
        for a in vpc["CidrBlockAssociationSet"]
        if a["CidrBlockState"]["State"] == "associated"
    ]


def test_a_network_delete_looks_at_ec2_unless_all_its_subnets_were_made_here(
    drivers: tuple[AwsNetwork, AwsCompute, Calls],
) -> None:
    network, _compute, calls = drivers
    net, subnet = network_with_subnet(network, "10.12.0.0/24")
    calls.take()
    with pytest.raises(Conflict, match=str(subnet)):
        network.delete_network(net)
    assert calls.take() == ["DescribeSubnets"]
    # another process (a gateway before a restart) knows nothing of the network's subnets
    restarted = AwsNetwork(network.ec2, REGION, network.vpcs.settings)
    with pytest.raises(Conflict, match=str(subnet)):
        restarted.delete_network(net)
    assert calls.take() == ["DescribeSubnets"]
    restarted.delete_subnet(subnet)
    restarted.delete_network(net)
    calls.take()
    network.delete_network(net)  # what the first process remembers is outdated: EC2 decides
    assert calls.take() == ["DescribeSubnets"]


def test_a_new_project_vpc_takes_three_calls_and_its_default_group_is_emptied_when_used(
    drivers: tuple[AwsNetwork, AwsCompute, Calls],
) -> None:
    network, _compute, calls = drivers
    net = network.create_network(NetworkSpec(gateway_id=new_id(), name="n", project_id="p2"))
    assert calls.take() == []
    subnet = network.create_subnet(
        SubnetSpec(gateway_id=new_id(), network=net, cidr="10.13.0.0/24", gateway_ip=None)
    )
    assert calls.take() == [
        "DescribeVpcs",  # the project's, by its tag
        "CreateVpc",
        "ModifyVpcAttribute",
        "AssociateVpcCidrBlock",
        "CreateSubnet",
    ]
    vpc_id = subnet_vpc(subnet)
    (default,) = ec2().describe_security_groups(
        Filters=[
            {"Name": "vpc-id", "Values": [vpc_id]},
            {"Name": "group-name", "Values": ["default"]},
        ]
    )["SecurityGroups"]
    assert default["IpPermissionsEgress"]  # EC2's allow-all, untouched while no port uses it

    def port_without_groups(address: str) -> str:
        port = port_on(network, net, subnet, address)
        (eni,) = ec2().describe_network_interfaces(NetworkInterfaceIds=[port])["NetworkInterfaces"]
        assert [g["GroupId"] for g in eni["Groups"]] == [default["GroupId"]]
        assert permissions(default["GroupId"]) == set()  # accepts nothing, sends nothing
        return port

    port_without_groups("10.13.0.10")
    revoked = ["RevokeSecurityGroupIngress"] if default["IpPermissions"] else []  # not on moto
    assert calls.take() == [
        "DescribeSecurityGroups",
        *revoked,
        "RevokeSecurityGroupEgress",
        "CreateNetworkInterface",
    ]
    # opened elsewhere: closed before the next port is given the group
    ec2().authorize_security_group_ingress(
        GroupId=default["GroupId"], IpPermissions=[ingress_permission()]
    )
    port_without_groups("10.13.0.11")


def test_neutrons_default_group_takes_four_calls(
    drivers: tuple[AwsNetwork, AwsCompute, Calls],
) -> None:
    """As the gateway makes it: with its egress rules, then its rules naming itself."""
    network, _compute, calls = drivers
    group = network.create_security_group(
        SecurityGroupSpec(gateway_id=new_id(), name="default", project_id=PROJECT, rules=EGRESS)
    )
    itself = tuple(
        SecurityGroupRule(RuleDirection.INGRESS, version, remote_group=group) for version in (4, 6)
    )
    network.set_security_group_rules(group, (*EGRESS, *itself))
    assert calls.take() == [
        "CreateSecurityGroup",
        "AuthorizeSecurityGroupEgress",  # IPv6's
        "DescribeSecurityGroups",
        "AuthorizeSecurityGroupIngress",
    ]
    (held,) = ec2().describe_security_groups(GroupIds=[group])["SecurityGroups"]
    assert [g["GroupId"] for p in held["IpPermissions"] for g in p["UserIdGroupPairs"]] == [group]
    assert {
        r["CidrIpv6"] for p in held["IpPermissionsEgress"] for r in p.get("Ipv6Ranges", [])
    } == {"::/0"}


def test_a_vpc_ec2_would_not_prepare_is_removed_and_the_next_one_has_dns_names(
    drivers: tuple[AwsNetwork, AwsCompute, Calls],
) -> None:
    """Found by its tag later, a VPC left without DNS host names would keep none."""
    network, _compute, _calls = drivers
    refused = refuse_once(network.ec2, "ModifyVpcAttribute", "ServiceUnavailable", "try again", 503)
    net = network.create_network(NetworkSpec(gateway_id=new_id(), name="n", project_id="p3"))
    spec = SubnetSpec(gateway_id=new_id(), network=net, cidr="10.14.0.0/24", gateway_ip=None)
    with pytest.raises(InterstackError):
        network.create_subnet(spec)
    assert refused == ["ModifyVpcAttribute"]
    assert project_vpcs("p3") == []
    vpc_id = subnet_vpc(network.create_subnet(spec))
    assert project_vpcs("p3") == [vpc_id]
    dns = ec2().describe_vpc_attribute(VpcId=vpc_id, Attribute="enableDnsHostnames")
    assert dns["EnableDnsHostnames"]["Value"] is True


def test_a_network_made_before_project_refs_still_works_in_the_vpc_it_names(
    drivers: tuple[AwsNetwork, AwsCompute, Calls],
) -> None:
    """Networks an older gateway made are ``<vpc-id>/<gateway id>``: their subnets, ports and
    delete go on as for a ``project:`` network."""
    network, _compute, _calls = drivers
    (vpc_id,) = project_vpcs()
    net_id = new_id()
    older = NativeRef(f"{vpc_id}/{net_id}")
    subnet = network.create_subnet(
        SubnetSpec(gateway_id=new_id(), network=older, cidr="10.15.0.0/24", gateway_ip=None)
    )
    assert subnet_vpc(subnet) == vpc_id
    port = port_on(network, older, subnet, "10.15.0.10")
    (eni,) = ec2().describe_network_interfaces(NetworkInterfaceIds=[port])["NetworkInterfaces"]
    assert eni["SubnetId"] == subnet
    with pytest.raises(Conflict, match=subnet):
        network.delete_network(older)
    network.delete_port(port)
    network.delete_subnet(subnet)
    network.delete_network(older)
    filters = [{"Name": "tag:interstack:network", "Values": [net_id]}]
    assert ec2().describe_subnets(Filters=filters)["Subnets"] == []


def test_a_default_group_ec2_does_not_show_yet_is_a_503_and_no_port(
    drivers: tuple[AwsNetwork, AwsCompute, Calls],
) -> None:
    network, _compute, _calls = drivers
    net, subnet = network_with_subnet(network, "10.16.0.0/24")
    empty = answer({"SecurityGroups": [], "ResponseMetadata": {}})
    unseen = answer_next(network.ec2, "DescribeSecurityGroups", empty)
    spec = PortSpec(new_id(), net, "fa:16:3e:00:00:04", (FixedIp(subnet, "10.16.0.10"),))
    with pytest.raises(BackendUnavailable, match="default security group"):
        network.create_port(spec)
    assert unseen == []
    in_subnet = [{"Name": "subnet-id", "Values": [subnet]}]
    assert ec2().describe_network_interfaces(Filters=in_subnet)["NetworkInterfaces"] == []
    port = network.create_port(spec)  # EC2 shows it now
    assert ec2().describe_network_interfaces(NetworkInterfaceIds=[port])["NetworkInterfaces"]
