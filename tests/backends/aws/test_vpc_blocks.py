"""A project VPC's secondary CIDR blocks are let go with their last subnet, whoever deleted the
others (another gateway of the same store, or a person), and also where EC2 still says the block
is in use, or still describes the subnet, just after that subnet went (eventual consistency):
then EC2 is asked again later, out of the request, a bounded number of times (by the gateway's
next start, if it stopped before). A VPC found by its tag is not changed again when it is
already as wanted."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from interstack.backends.aws import vpcs as aws_vpcs
from interstack.backends.aws.network import AwsNetwork
from interstack.backends.contract import NativeRef, SubnetSpec
from tests.backends.aws.support import (
    PROJECT,
    REGION,
    Calls,
    aws_region_services,
    moto_drivers,
    network_with_subnet,
    new_id,
    refusal,
    refuse_once,
)
from tests.support import moto as moto_support
from tests.support.moto import ec2
from tests.support.waiting import eventually


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


class Deferred:
    """The calls the VPCs ask to be made later (on a timer in the gateway), made when the test
    says."""

    def __init__(self, network: AwsNetwork) -> None:
        self.waits: list[float] = []
        self._calls: list[Callable[[], None]] = []
        network.vpcs.later = self._defer

    def _defer(self, delay: float, call: Callable[[], None]) -> None:
        self.waits.append(delay)
        self._calls.append(call)

    def run(self) -> None:
        """Make the deferred calls, and those they defer in turn."""
        while self._calls:
            self._calls.pop(0)()


def in_use(client: Any, times: int) -> list[str]:
    """EC2 refuses the next ``times`` disassociations: the block is in use."""
    refused: list[str] = []

    def hook(**_kwargs: Any) -> Any:
        if len(refused) >= times:
            return None
        refused.append("DisassociateVpcCidrBlock")
        return refusal("InvalidCidrBlock.InUse", "The block has a subnet")

    client.meta.events.register("before-call.ec2.DisassociateVpcCidrBlock", hook)
    return refused


def still_described(client: Any, subnet_id: str) -> None:
    """EC2's DescribeSubnets goes on listing the subnet after its deletion (lag)."""
    (described,) = client.describe_subnets(SubnetIds=[subnet_id])["Subnets"]

    def hook(parsed: dict[str, Any], **_kwargs: Any) -> None:
        listed = parsed.get("Subnets", [])
        if all(s["SubnetId"] != subnet_id for s in listed):
            listed.append(described)

    client.meta.events.register("after-call.ec2.DescribeSubnets", hook)


def test_a_block_ec2_still_calls_in_use_just_after_its_last_subnet_is_let_go_later(
    network: AwsNetwork,
) -> None:
    _net, made = network_with_subnet(network, "10.32.1.0/24")
    deferred = Deferred(network)
    # EC2 has not caught up with the subnet's deletion at the first disassociation
    refused = refuse_once(
        network.ec2, "DisassociateVpcCidrBlock", "InvalidCidrBlock.InUse", "has a subnet", 400
    )
    network.delete_subnet(made)
    assert refused == ["DisassociateVpcCidrBlock"]
    # the request did not wait for EC2: asking again is left for later
    assert "10.32.0.0/16" in live_blocks(network)
    assert deferred.waits == [aws_vpcs._RELEASE_WAITS[0]]
    deferred.run()
    assert "10.32.0.0/16" not in live_blocks(network)  # asked again


def test_a_block_goes_though_ec2_still_describes_its_last_subnet_just_deleted(
    network: AwsNetwork,
) -> None:
    _net, made = network_with_subnet(network, "10.34.1.0/24")
    # another gateway deletes it (it does not know the block holds no other subnet of its
    # own), while EC2 still lists the subnet and calls the block in use
    replica = AwsNetwork(network.ec2, REGION, network.vpcs.settings)
    deferred = Deferred(replica)
    still_described(network.ec2, made)
    refused = in_use(network.ec2, times=1)
    replica.delete_subnet(made)
    deferred.run()
    assert refused == ["DisassociateVpcCidrBlock"]
    assert "10.34.0.0/16" not in live_blocks(network)


def test_ec2_is_asked_to_let_go_of_a_block_a_bounded_number_of_times(
    network: AwsNetwork,
) -> None:
    _net, made = network_with_subnet(network, "10.35.1.0/24")
    deferred = Deferred(network)
    refused = in_use(network.ec2, times=1000)  # EC2 never lets it go
    network.delete_subnet(made)
    deferred.run()
    assert len(refused) == 1 + len(aws_vpcs._RELEASE_WAITS)
    assert deferred.waits == list(aws_vpcs._RELEASE_WAITS)
    assert "10.35.0.0/16" in live_blocks(network)  # kept: EC2 says so


def test_a_block_a_new_subnet_is_made_in_before_the_later_release_is_kept(
    network: AwsNetwork,
) -> None:
    net, made = network_with_subnet(network, "10.37.1.0/24")
    deferred = Deferred(network)
    refused = in_use(network.ec2, times=1)
    network.delete_subnet(made)
    assert deferred.waits == [aws_vpcs._RELEASE_WAITS[0]]
    # before the timer asks EC2 again, a new subnet is wanted in the same block: EC2 would
    # let the block go if asked before the subnet is made in it, and the subnet's create fail
    calls = Calls(network.ec2)
    again = subnet(network, net, "10.37.2.0/24")
    deferred.run()
    assert refused == ["DisassociateVpcCidrBlock"]
    assert calls.of("DisassociateVpcCidrBlock") == []  # not asked again
    assert "10.37.0.0/16" in live_blocks(network)
    network.delete_subnet(again)  # the block goes with its last subnet after all
    assert "10.37.0.0/16" not in live_blocks(network)


def timers() -> set[threading.Thread]:
    """The timer threads alive now (the in-process emulator's request threads come and go)."""
    return {thread for thread in threading.enumerate() if isinstance(thread, threading.Timer)}


def test_a_closed_backend_asks_ec2_nothing_later(
    network: AwsNetwork, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(aws_vpcs, "_RELEASE_WAITS", (60.0,))
    _net, made = network_with_subnet(network, "10.38.1.0/24")
    before = timers()
    in_use(network.ec2, times=1)
    network.delete_subnet(made)
    (timer,) = timers() - before
    network.vpcs.close()
    timer.join(timeout=10)
    assert not timer.is_alive()  # cancelled, not left to call a closed client
    ran: list[str] = []
    network.vpcs.later(0.0, lambda: ran.append("called"))  # a release still running
    assert timers() - before == set()
    assert ran == []
    assert "10.38.0.0/16" in live_blocks(network)


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


def test_the_gateway_asks_again_on_a_timer_of_its_own(
    network: AwsNetwork, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(aws_vpcs, "_RELEASE_WAITS", (0.01,))
    _net, made = network_with_subnet(network, "10.36.1.0/24")
    refused = in_use(network.ec2, times=1)
    network.delete_subnet(made)
    assert refused == ["DisassociateVpcCidrBlock"]
    eventually(
        lambda: live_blocks(network),
        lambda blocks: "10.36.0.0/16" not in blocks,
        "the block let go by the timer",
    )


def test_a_release_a_stopped_gateway_left_to_ask_again_is_made_at_the_next_start(
    network: AwsNetwork, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    net, made = network_with_subnet(network, "10.39.1.0/24")
    kept = subnet(network, net, "10.40.1.0/24")
    Deferred(network)  # the timer's call never comes: the gateway stops first
    in_use(network.ec2, times=1)
    network.delete_subnet(made)
    network.vpcs.close()
    assert "10.39.0.0/16" in live_blocks(network)
    monkeypatch.setattr(moto_support, "reset_moto", lambda: None)  # EC2 as the gateway left it
    with aws_region_services(tmp_path):  # the gateway starts again
        blocks = live_blocks(network)
    assert "10.39.0.0/16" not in blocks
    assert {"10.40.0.0/16", network.vpcs.settings.vpc_cidr} <= set(blocks)  # held, primary
    network.delete_subnet(kept)


def test_a_block_another_replica_let_go_of_before_the_subnet_was_made_is_associated_anew(
    network: AwsNetwork,
) -> None:
    """Another replica's start lets go of the VPC's blocks that hold no subnet; one this
    gateway has just associated for a subnet it is making is among them. EC2 then refuses
    the subnet (InvalidSubnet.Range), and this gateway associates the block anew for it
    instead of waiting for a block that is gone."""
    net, _made = network_with_subnet(network, "10.41.1.0/24")
    starting = aws_vpcs.ProjectVpcs(ec2(), network.vpcs.region, network.vpcs.settings)
    released: list[str] = []

    def still_associating(parsed: dict[str, Any], **_kwargs: Any) -> None:
        parsed["CidrBlockAssociation"]["CidrBlockState"]["State"] = "associating"

    def another_replica_starts(**_kwargs: Any) -> Any:
        if released:
            return None
        released.extend(starting.release_empty_blocks())
        return refusal("InvalidSubnet.Range", "The CIDR is invalid for this VPC.")

    events = network.ec2.meta.events
    events.register("after-call.ec2.AssociateVpcCidrBlock", still_associating)
    events.register("before-call.ec2.CreateSubnet", another_replica_starts)
    made = subnet(network, net, "10.42.1.0/24")
    assert [r.split()[1] for r in released] == ["10.42.0.0/16"]
    assert "10.42.0.0/16" in live_blocks(network)
    network.delete_subnet(made)
