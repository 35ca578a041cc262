"""createImage on aws never waits for the AMI: the first call starts it and answers "not
ready", later calls with the same image id look at the same AMI (never a second one) until it
is ``available``; an AMI that fails is deregistered. moto's AMIs are available at once, so a
pending or failed one is shown by an EC2 whose describes report that state."""

from __future__ import annotations

from typing import Any

import pytest

from interstack.backends.aws.compute import AwsCompute
from interstack.backends.contract import NativeRef
from interstack.errors import BackendError
from tests.backends.aws.support import EmulatorEc2, drivers_on, server_spec
from tests.support.moto import ec2

IMAGE_ID = "99999999-2222-3333-4444-555555555555"


class ReportingEc2(EmulatorEc2):
    """The emulator's EC2, with the AMIs' state as ``state`` says (when set)."""

    def __init__(self) -> None:
        super().__init__()
        self.state: str | None = None

    def describe_images(self, **request: Any) -> Any:
        reply = self.real.describe_images(**request)
        if self.state is not None:
            reply["Images"] = [{**image, "State": self.state} for image in reply["Images"]]
        return reply


@pytest.fixture
def driver() -> tuple[AwsCompute, ReportingEc2, NativeRef]:
    fake = ReportingEc2()
    _network, compute = drivers_on(fake)
    spec = server_spec("captured", "11111111-2222-3333-4444-555555555555")
    return compute, fake, compute.create_server(spec).ref


def amis_of_the_image() -> list[dict[str, Any]]:
    found = ec2().describe_images(
        Owners=["self"], Filters=[{"Name": "tag:interstack:gateway-id", "Values": [IMAGE_ID]}]
    )
    return list(found["Images"])


def test_a_capture_answers_at_once_and_is_looked_at_until_available(
    driver: tuple[AwsCompute, ReportingEc2, NativeRef],
) -> None:
    compute, fake, server = driver
    started = compute.snapshot_server(server, IMAGE_ID)
    assert not started.ready
    fake.state = "pending"
    assert not compute.snapshot_server(server, IMAGE_ID).ready
    fake.state = None
    done = compute.snapshot_server(server, IMAGE_ID)
    assert done.ready and done.ref == started.ref
    assert [a["ImageId"] for a in amis_of_the_image()] == [done.ref]  # one AMI, however often


def test_a_failed_ami_is_deregistered(driver: tuple[AwsCompute, ReportingEc2, NativeRef]) -> None:
    compute, fake, server = driver
    started = compute.snapshot_server(server, IMAGE_ID)
    fake.state = "failed"
    with pytest.raises(BackendError, match="failed"):
        compute.snapshot_server(server, IMAGE_ID)
    fake.state = None
    assert started.ref not in {a["ImageId"] for a in amis_of_the_image()}
