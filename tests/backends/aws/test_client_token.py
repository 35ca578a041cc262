"""A rebuild boots a new instance for the same server: EC2 answers a repeated ``ClientToken``
with the first instance (terminated by then) or, for other parameters, with
``IdempotentParameterMismatch``; the driver then boots with a token of its own. moto ignores
client tokens, so an EC2 that honours them as AWS documents wraps it here. A volume's create
step run again is answered the same way: its token's request must not hold what may change
between two attempts (the volume's name)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from botocore.exceptions import ClientError

from interstack.backends.aws.client import tag_value
from interstack.backends.aws.compute import AwsCompute
from interstack.backends.aws.settings import AwsSettings
from interstack.backends.aws.volumes import AwsVolumes
from interstack.backends.contract import NativeRef, ServerSpec, ServerStatus, VolumeSpec
from tests.backends.aws.support import (
    PROJECT,
    REGION,
    EmulatorEc2,
    drivers_on,
    new_id,
    server_spec,
)
from tests.support.moto import an_ami, aws_settings, ec2


class TokenHonouringEc2(EmulatorEc2):
    def __init__(self) -> None:
        super().__init__()
        self.tokens: dict[str, tuple[str, str]] = {}  # token -> (image, instance id)

    def run_instances(self, **request: Any) -> Any:
        token = request["ClientToken"]
        if token in self.tokens:
            image, instance = self.tokens[token]
            if image != request["ImageId"]:
                error = {"Error": {"Code": "IdempotentParameterMismatch", "Message": "token"}}
                raise ClientError(error, "RunInstances")
            return self.real.describe_instances(InstanceIds=[instance])["Reservations"][0]
        reply = self.real.run_instances(**request)
        self.tokens[token] = (request["ImageId"], reply["Instances"][0]["InstanceId"])
        return reply


@pytest.fixture
def driver() -> AwsCompute:
    return drivers_on(TokenHonouringEc2())[1]


def spec(image: str | None = None) -> ServerSpec:
    ami = None if image is None else NativeRef(image)
    return server_spec("rebuilt", "11111111-2222-3333-4444-555555555555", image=ami)


@pytest.mark.parametrize("other_image", [False, True], ids=["same image", "another image"])
def test_a_rebuild_boots_a_new_instance(driver: AwsCompute, other_image: bool) -> None:
    first = driver.create_server(spec())
    driver.delete_server(first.ref)  # the rebuild's first step
    images = ec2().describe_images(Owners=["amazon"])["Images"]
    another = next(i["ImageId"] for i in images if i["ImageId"] != an_ami())
    second = driver.create_server(spec(another if other_image else None))
    assert second.ref != first.ref
    assert driver.get_server(second.ref).status is ServerStatus.ACTIVE


def test_a_retried_boot_is_still_one_instance(driver: AwsCompute) -> None:
    first = driver.create_server(spec())
    assert driver.create_server(spec()).ref == first.ref


class VolumeTokenHonouringEc2(EmulatorEc2):
    """EC2 answering ``CreateVolume`` as AWS documents tokens (the first volume again for the
    same request, ``IdempotentParameterMismatch`` for another), with a tag lookup that does not
    list a new volume yet (a step run again on a replica moments after the first)."""

    def __init__(self) -> None:
        super().__init__()
        self.tokens: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}

    def describe_volumes(self, **request: Any) -> Any:
        return {"Volumes": []} if "Filters" in request else self.real.describe_volumes(**request)

    def create_volume(self, **request: Any) -> Any:
        token = request["ClientToken"]
        if token in self.tokens:
            first, reply = self.tokens[token]
            if first != request:
                error = {"Error": {"Code": "IdempotentParameterMismatch", "Message": "token"}}
                raise ClientError(error, "CreateVolume")
            return reply
        reply = self.real.create_volume(**request)
        self.tokens[token] = (request, reply)
        return reply


def test_a_volume_renamed_between_two_create_attempts_is_one_volume() -> None:
    ec2_client = VolumeTokenHonouringEc2()
    settings = AwsSettings.parse(REGION, aws_settings())
    first_attempt, replica = (AwsVolumes(ec2_client, REGION, settings) for _ in range(2))
    spec = VolumeSpec(gateway_id=new_id(), name="before", project_id=PROJECT, size_gb=1)
    made = first_attempt.create_volume(spec)
    again = replica.create_volume(replace(spec, name="after"))
    assert again.ref == made.ref
    described = ec2().describe_volumes(VolumeIds=[made.ref])["Volumes"][0]
    assert tag_value(described, "Name") == "after"  # named as it is called now
