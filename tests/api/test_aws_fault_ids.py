"""EC2's own ids never reach an API user (ARCHITECTURE.md): openstacksdk against a served
gateway on an ``aws`` region (moto), each resource kind's EC2 counterpart removed behind the
gateway's back so that EC2 refuses the next change. The answer's body, and the server's fault
name no ``subnet-…``, ``sg-…``, ``ami-…`` (the gateway's log has
them); EC2's error code is still in the message (issue 7)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.gateway import ServedGateway
from tests.support.identity import unique
from tests.support.moto import aws_gateway_booting, aws_sdk, ec2

#: any EC2 id (a kind's prefix, 8 or 17 hex digits), looked for in whole bodies
NATIVE = re.compile(
    r"(?<![\w-])(i|vol|subnet|vpc|sg|eni|snap|ami|eipalloc|rtb|igw|r)-[0-9a-f]{8,17}(?![\w-])"
)


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedGateway]:
    data: Path = tmp_path_factory.mktemp("aws-fault-ids") / "data"
    with aws_gateway_booting(data, "fault-ids-image") as served:
        yield served


@pytest.fixture(scope="module")
def sdk(gateway: ServedGateway) -> Iterator[Any]:
    with aws_sdk(gateway) as conn:
        yield conn


def no_native_ids(text: str) -> None:
    assert NATIVE.search(text) is None, text


def tagged(describe: str, key: str, gateway_id: str) -> dict[str, Any]:
    found = getattr(ec2(), describe)(
        Filters=[{"Name": "tag:interstack:gateway-id", "Values": [gateway_id]}]
    )[key]
    assert len(found) == 1, found
    return dict(found[0])


def image_id(sdk: Any) -> str:
    return str(next(i.id for i in sdk.image.images() if i.name == "fault-ids-image"))


def test_a_boot_into_a_subnet_ec2_lost_names_no_subnet_id(sdk: Any) -> None:
    net = sdk.network.create_network(name=unique("gone"))
    subnet = sdk.network.create_subnet(network_id=net.id, cidr="10.91.0.0/24", ip_version=4)
    ec2().delete_subnet(SubnetId=tagged("describe_subnets", "Subnets", subnet.id)["SubnetId"])
    answer = sdk.compute.post(
        "/servers",
        json={"server": {"name": unique("refused"), "flavorRef": "t3.micro",
                         "imageRef": image_id(sdk), "networks": [{"uuid": net.id}]}},
        raise_exc=False,
    )  # fmt: skip
    assert answer.status_code == 400, answer.text
    assert "InvalidSubnetID.NotFound" in answer.json()["badRequest"]["message"]
    no_native_ids(answer.text)
    sdk.network.delete_subnet(subnet)
    sdk.network.delete_network(net)


def test_a_rule_of_a_group_ec2_lost_names_no_group_id(sdk: Any) -> None:
    group = sdk.network.create_security_group(name=unique("gone"))
    ec2().delete_security_group(
        GroupId=tagged("describe_security_groups", "SecurityGroups", group.id)["GroupId"]
    )
    rule = {"security_group_id": group.id, "direction": "ingress", "ethertype": "IPv4",
            "protocol": "tcp", "port_range_min": 8080, "port_range_max": 8080}  # fmt: skip
    answer = sdk.network.post("/security-group-rules", json={"security_group_rule": rule})
    assert answer.status_code >= 400, answer.text
    assert "InvalidGroup.NotFound" in answer.json()["NeutronError"]["message"]
    no_native_ids(answer.text)
    sdk.network.delete_security_group(group)


def test_z_a_boot_of_an_ami_ec2_lost_names_no_ami_id(gateway: ServedGateway, sdk: Any) -> None:
    """Last in the module: the region's default AMI deregistered behind the gateway's back."""
    image = image_id(sdk)
    ec2().deregister_image(ImageId=gateway_default_ami(sdk))
    answer = sdk.compute.post(
        "/servers",
        json={"server": {"name": unique("no-ami"), "flavorRef": "t3.micro", "imageRef": image,
                         "networks": "none"}},
        headers={"OpenStack-API-Version": "compute 2.37"},
        raise_exc=False,
    )  # fmt: skip
    no_native_ids(answer.text)
    text = answer.text
    if answer.status_code == 202:
        server_id = answer.json()["server"]["id"]
        shown = sdk.compute.get(f"/servers/{server_id}")
        for _ in range(300):
            if shown.json()["server"]["status"] != "BUILD":
                break
            shown = sdk.compute.get(f"/servers/{server_id}")
        no_native_ids(shown.text)
        assert shown.json()["server"]["status"] == "ERROR", shown.text
        text = shown.json()["server"]["fault"]["message"]
        sdk.compute.delete_server(server_id)
    assert "does not exist" in text or "NotFound" in text, text


def gateway_default_ami(sdk: Any) -> str:
    (image,) = ec2().describe_images(Filters=[{"Name": "name", "Values": ["fault-ids-image"]}])[
        "Images"
    ]
    return str(image["ImageId"])
