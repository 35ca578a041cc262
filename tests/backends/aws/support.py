"""What the aws driver tests share: the drivers on one boto3 client, the calls a client sends
and EC2's answers (a refusal among them) as botocore hooks record and give them in EC2's stead."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from interstack.backends.aws.compute import AwsCompute
from interstack.backends.aws.images import AwsImages
from interstack.backends.aws.network import AwsNetwork
from interstack.backends.aws.settings import AwsSettings
from interstack.backends.contract import NativeRef, NetworkSpec, SubnetSpec
from tests.support.moto import aws_settings, ec2

REGION = "aws-test"
PROJECT = "p1"


def new_id() -> str:
    """A gateway id, new for each resource a test makes."""
    return str(uuid.uuid4())


def drivers_on(client: Any) -> tuple[AwsNetwork, AwsCompute]:
    """The network and compute drivers of the test region, both on ``client``."""
    settings = AwsSettings.parse(REGION, aws_settings())
    network = AwsNetwork(client, REGION, settings)
    return network, AwsCompute(client, REGION, settings, AwsImages(client, REGION, settings))


def network_with_subnet(network: AwsNetwork, cidr: str) -> tuple[NativeRef, NativeRef]:
    """A network of the test's project and a subnet of it on ``cidr`` (no gateway address)."""
    net = network.create_network(NetworkSpec(gateway_id=new_id(), name="n", project_id=PROJECT))
    subnet = network.create_subnet(
        SubnetSpec(gateway_id=new_id(), network=net, cidr=cidr, gateway_ip=None)
    )
    return net, subnet


def project_vpcs(project_id: str = PROJECT) -> list[str]:
    """The VPCs EC2 holds for a project (the test's)."""
    found = ec2().describe_vpcs(
        Filters=[{"Name": "tag:interstack:project", "Values": [project_id]}]
    )
    return [str(v["VpcId"]) for v in found["Vpcs"]]


class Calls:
    """The operations a boto3 client sends, in order, with their parameters (botocore's
    ``before-call`` event)."""

    def __init__(self, client: Any) -> None:
        self.seen: list[tuple[str, dict[str, Any]]] = []
        client.meta.events.register("before-call.ec2", self._record)

    def _record(self, model: Any, params: dict[str, Any], **_kwargs: Any) -> None:
        self.seen.append((str(model.name), dict(params.get("body", {}))))

    def take(self) -> list[str]:
        """The operations sent since the last take."""
        taken, self.seen = self.seen, []
        return [name for name, _params in taken]

    def of(self, operation: str) -> list[dict[str, Any]]:
        """The parameters of each ``operation`` sent."""
        return [params for name, params in self.seen if name == operation]


@dataclass(frozen=True)
class _Status:
    status_code: int


def answer(body: dict[str, Any], status: int = 200) -> tuple[Any, dict[str, Any]]:
    """What a ``before-call`` hook returns for EC2 to answer the call with ``body``."""
    return _Status(status), body


def refusal(code: str, message: str, status: int = 400) -> tuple[Any, dict[str, Any]]:
    """What a ``before-call`` hook returns for EC2 to refuse the call with ``code``."""
    return answer({"Error": {"Code": code, "Message": message}}, status)


def refuse_once(
    client: Any,
    operation: str,
    code: str = "UnauthorizedOperation",
    message: str = "refused",
    status: int = 403,
) -> list[str]:
    """Make EC2 refuse the next ``operation`` of ``client`` with ``code`` (a ``before-call``
    hook answering in EC2's stead); returns the operations refused so far."""
    refused: list[str] = []

    def hook(**_kwargs: Any) -> Any:
        if refused:
            return None
        refused.append(operation)
        return refusal(code, message, status)

    client.meta.events.register(f"before-call.ec2.{operation}", hook)
    return refused
