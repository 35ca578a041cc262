"""EC2's describes are eventually consistent: an instance launched moments ago that
``describe_instances`` does not know yet is still building, not gone (the task runner looks at
a new server within milliseconds). One that EC2 reports terminated is gone at once."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from interstack.backends.aws.compute import AwsCompute
from interstack.backends.contract import FlavorSpec, NativeRef, ServerSpec, ServerStatus
from interstack.errors import NotFound
from tests.backends.aws.support import EmulatorEc2, drivers_on, server_spec


class LaggingEc2(EmulatorEc2):
    """The emulator's EC2, except that ``describe_instances`` by id does not know the
    instances in ``unseen`` yet (as EC2 may answer right after ``run_instances``)."""

    def __init__(self) -> None:
        super().__init__()
        self.unseen: set[str] = set()

    def run_instances(self, **request: Any) -> Any:
        reply = self.real.run_instances(**request)
        self.unseen.add(reply["Instances"][0]["InstanceId"])
        return reply

    def describe_instances(self, **request: Any) -> Any:
        if set(request.get("InstanceIds", [])) & self.unseen:
            error = {"Error": {"Code": "InvalidInstanceID.NotFound", "Message": "unknown"}}
            raise ClientError(error, "DescribeInstances")
        return self.real.describe_instances(**request)


@pytest.fixture
def compute() -> tuple[AwsCompute, LaggingEc2]:
    lagging = LaggingEc2()
    return drivers_on(lagging)[1], lagging


def spec() -> ServerSpec:
    flavor = FlavorSpec(vcpus=1, ram_mb=512, disk_gb=1)
    return server_spec("lagging", "11111111-2222-3333-4444-555555555555", flavor)


def test_a_just_launched_instance_ec2_does_not_describe_yet_is_building(
    compute: tuple[AwsCompute, LaggingEc2],
) -> None:
    driver, lagging = compute
    made = driver.create_server(spec())
    seen = driver.get_server(made.ref)
    assert (seen.status, seen.gateway_id) == (ServerStatus.BUILDING, spec().gateway_id)
    lagging.unseen.clear()  # EC2 caught up
    assert driver.get_server(made.ref).status is ServerStatus.ACTIVE
    driver.delete_server(made.ref)
    with pytest.raises(NotFound):  # terminated: gone at once, however recent
        driver.get_server(made.ref)


def test_an_instance_not_launched_here_that_ec2_does_not_know_is_gone(
    compute: tuple[AwsCompute, LaggingEc2],
) -> None:
    driver, lagging = compute
    lagging.unseen.add("i-0123456789abcdef0")
    with pytest.raises(NotFound) as gone:
        driver.get_server(NativeRef("i-0123456789abcdef0"))
    assert "InvalidInstanceID.NotFound" in gone.value.message  # EC2's code, for the fault
