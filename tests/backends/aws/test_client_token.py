"""A rebuild boots a new instance for the same server: EC2 answers a repeated ``ClientToken``
with the first instance (terminated by then) or, for other parameters, with
``IdempotentParameterMismatch``; the driver then boots with a token of its own. moto ignores
client tokens, so an EC2 that honours them as AWS documents wraps it here."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from interstack.backends.aws.compute import AwsCompute
from interstack.backends.contract import NativeRef, ServerSpec, ServerStatus
from tests.backends.aws.support import EmulatorEc2, drivers_on, server_spec
from tests.support.moto import an_ami, ec2


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
