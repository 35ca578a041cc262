"""What the aws driver tests share: the drivers on one boto3 client, a port and a server on it,
the calls a client sends and EC2's answers (a refusal among them) as botocore hooks record and
give them in EC2's stead, and the emulator's EC2 with some operations answered as EC2 would."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from interstack.app import create_app
from interstack.backends.aws.compute import AwsCompute
from interstack.backends.aws.images import AwsImages
from interstack.backends.aws.network import AwsNetwork
from interstack.backends.aws.settings import AwsSettings
from interstack.backends.contract import (
    FixedIp,
    FlavorSpec,
    NativeRef,
    NetworkSpec,
    PortSpec,
    ServerSpec,
    SubnetSpec,
)
from interstack.config import RegionConfig, Settings
from interstack.services.container import Services
from tests.support.moto import aws_settings, ec2, permissions_naming

REGION = "aws-test"
PROJECT = "p1"
#: the tests' servers' flavor (an instance type moto has)
SMALL = FlavorSpec(vcpus=2, ram_mb=512, disk_gb=8, name="t3.nano")


def new_id() -> str:
    """A gateway id, new for each resource a test makes."""
    return str(uuid.uuid4())


def drivers_on(client: Any) -> tuple[AwsNetwork, AwsCompute]:
    """The network and compute drivers of the test region, both on ``client``."""
    settings = AwsSettings.parse(REGION, aws_settings())
    network = AwsNetwork(client, REGION, settings)
    return network, AwsCompute(client, REGION, settings, AwsImages(client, REGION, settings))


@contextmanager
def aws_region_services(data_dir: Path, region: str = REGION) -> Iterator[Services]:
    """The services of an app with one aws region (named ``region``) on the emulator, started
    (its tasks are stepped by the test, no runner runs them)."""
    config = RegionConfig(name=region, backend="aws", settings=aws_settings())
    services: Services = create_app(Settings(data_dir=data_dir, regions=[config])).state.services
    services.regions.start()
    try:
        yield services
    finally:
        services.regions.close()


@contextmanager
def moto_drivers() -> Iterator[tuple[AwsNetwork, AwsCompute, Any]]:
    """The network and compute drivers on a new client of the emulator's EC2, with that
    client (for hooks), closed at the end as the backend closes them (a block's release still
    to be asked again is dropped, not left to call the closed client during a later test)."""
    client = ec2()
    network, compute = drivers_on(client)
    try:
        yield network, compute, client
    finally:
        network.vpcs.close()
        client.close()


def network_with_subnet(network: AwsNetwork, cidr: str) -> tuple[NativeRef, NativeRef]:
    """A network of the test's project and a subnet of it on ``cidr`` (no gateway address)."""
    net = network.create_network(NetworkSpec(gateway_id=new_id(), name="n", project_id=PROJECT))
    subnet = network.create_subnet(
        SubnetSpec(gateway_id=new_id(), network=net, cidr=cidr, gateway_ip=None)
    )
    return net, subnet


def port_on(
    network: AwsNetwork,
    net: NativeRef,
    subnet: NativeRef,
    address: str,
    groups: tuple[NativeRef, ...] = (),
) -> NativeRef:
    """A port of ``net`` holding ``address`` on ``subnet`` (in ``groups``, if given; else EC2
    gives it the VPC's default group)."""
    last = [int(octet) for octet in address.split(".")[1:]]
    mac = "fa:16:3e:" + ":".join(f"{octet:02x}" for octet in last)
    return network.create_port(
        PortSpec(new_id(), net, mac, (FixedIp(subnet, address),), security_groups=groups)
    )


def server_spec(
    name: str = "s", gateway_id: str | None = None, flavor: FlavorSpec = SMALL, **extra: Any
) -> ServerSpec:
    """A server of the test's project, a new one unless ``gateway_id`` names it (booted from
    the region's default AMI unless ``image`` says another)."""
    return ServerSpec(gateway_id or new_id(), name, PROJECT, flavor, **extra)


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


def answer_next(client: Any, operation: str, *answers: tuple[Any, dict[str, Any]]) -> list[Any]:
    """Make EC2 answer the next calls of ``operation`` of ``client`` with ``answers`` in turn
    (a ``before-call`` hook answering in EC2's stead), then itself again; returns the answers
    not given yet."""
    left = list(answers)

    def hook(**_kwargs: Any) -> Any:
        return left.pop(0) if left else None

    client.meta.events.register(f"before-call.ec2.{operation}", hook)
    return left


def refuse_deleting_named_groups(client: Any) -> None:
    """Make EC2 refuse ``client``'s ``DeleteSecurityGroup`` of a group another group's
    permission names (``DependencyViolation``), as EC2 does and the emulator does not."""

    def hook(params: dict[str, Any], **_kwargs: Any) -> Any:
        ref = str(params.get("body", {}).get("GroupId"))
        if permissions_naming(ref):
            return refusal("DependencyViolation", f"resource {ref} has a dependent object")
        return None

    client.meta.events.register("before-call.ec2.DeleteSecurityGroup", hook)


class EmulatorEc2:
    """The emulator's EC2 client, for a subclass to answer some operations as EC2 would where
    moto does not (its other operations go to the emulator)."""

    def __init__(self) -> None:
        self.real = ec2()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)
