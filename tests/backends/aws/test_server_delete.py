"""A deleted server is gone only once EC2 has terminated its instance: while it is
``shutting-down`` EC2 still holds its network interfaces (``DeleteNetworkInterface`` answers
``InvalidNetworkInterface.InUse``) and its volumes, so the delete task, which deletes the
server's ports once the server is gone, must keep looking until then. moto terminates at once;
botocore hooks make it answer as EC2 does."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from interstack.backends.aws.compute import AwsCompute
from interstack.backends.aws.network import AwsNetwork
from interstack.backends.contract import NativeRef, ServerStatus
from interstack.errors import Conflict, NotFound
from tests.backends.aws.support import (
    moto_drivers,
    network_with_subnet,
    port_on,
    refusal,
    server_spec,
)
from tests.support.moto import ec2


class ShuttingDown:
    """EC2's view of a terminated instance for its first ``looks`` describes: still
    ``shutting-down``, its network interfaces in use."""

    def __init__(self, client: Any, instance: str, looks: int) -> None:
        self.instance = instance
        self.looks = looks
        self.refused: list[str] = []
        events = client.meta.events
        events.register("after-call.ec2.DescribeInstances", self._describe)
        events.register("before-call.ec2.DeleteNetworkInterface", self._delete_eni)

    def _describe(self, parsed: dict[str, Any], **_kwargs: Any) -> None:
        for reservation in parsed.get("Reservations", []):
            for instance in reservation["Instances"]:
                if instance["InstanceId"] == self.instance and self.looks:
                    self.looks -= 1
                    instance["State"] = {"Code": 32, "Name": "shutting-down"}

    def _delete_eni(self, params: dict[str, Any], **_kwargs: Any) -> Any:
        if not self.looks:
            return None
        self.refused.append(str(params["body"]["NetworkInterfaceId"]))
        message = f"Network interface is currently in use by {self.instance}"
        return refusal("InvalidNetworkInterface.InUse", message)


@pytest.fixture
def drivers() -> Iterator[tuple[AwsNetwork, AwsCompute, Any]]:
    with moto_drivers() as drivers:
        yield drivers


def a_server_on_a_port(network: AwsNetwork, compute: AwsCompute) -> tuple[NativeRef, NativeRef]:
    net, subnet = network_with_subnet(network, "10.31.0.0/24")
    port = port_on(network, net, subnet, "10.31.0.10")
    server = compute.create_server(server_spec(ports=(port,)))
    return server.ref, port


@pytest.mark.parametrize("looks", [1, 2])
def test_a_server_shutting_down_is_not_gone_until_ec2_lets_its_interfaces_go(
    drivers: tuple[AwsNetwork, AwsCompute, Any], looks: int
) -> None:
    network, compute, client = drivers
    server, port = a_server_on_a_port(network, compute)
    ec2_now = ShuttingDown(client, server, looks)
    with pytest.raises(Conflict):  # what the delete task met when it went on at once
        network.delete_port(port)
    assert ec2_now.refused == [port]

    compute.delete_server(server)
    # the delete task's looks: the ports are deleted only after one finds the server gone
    seen = []
    while True:
        try:
            seen.append(compute.get_server(server).status)
        except NotFound:
            break
    assert seen == [ServerStatus.DELETED] * looks
    network.delete_port(port)
    assert ec2_now.refused == [port]
    left = ec2().describe_network_interfaces(
        Filters=[{"Name": "network-interface-id", "Values": [port]}]
    )
    assert left["NetworkInterfaces"] == []
