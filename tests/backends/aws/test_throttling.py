"""EC2 throttles an account's calls (``RequestLimitExceeded``): the backend's client, as the
region's settings build it, retries a throttled call (botocore's ``standard`` mode,
``max_attempts`` in all), and one throttled at every attempt is a ``BackendUnavailable`` (a 503
the task runner tries again) naming EC2's code, with nothing made.

moto never throttles: a ``before-send`` hook answers in its stead, inside botocore's retry loop
(a ``before-call`` answer would bypass the retries)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse

from interstack.backends.aws.client import ec2_client
from interstack.backends.aws.network import AwsNetwork
from interstack.backends.aws.settings import AwsSettings
from interstack.errors import BackendUnavailable
from tests.backends.aws.support import REGION, new_id
from tests.support.moto import aws_settings, ec2

ATTEMPTS = 3
THROTTLED = (
    b'<?xml version="1.0" encoding="UTF-8"?><Response><Errors><Error>'
    b"<Code>RequestLimitExceeded</Code><Message>Request limit exceeded.</Message>"
    b"</Error></Errors><RequestID>throttled</RequestID></Response>"
)


class _Body:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def stream(self, **_kwargs: Any) -> Iterator[bytes]:
        yield self.data


class Throttle:
    """EC2 answering the next ``times`` sends of ``operation`` with ``RequestLimitExceeded``."""

    def __init__(self, client: Any, operation: str, times: int) -> None:
        self.left = times
        self.sends = 0
        client.meta.events.register(f"before-send.ec2.{operation}", self._send)

    def _send(self, request: Any, **_kwargs: Any) -> AWSResponse | None:
        self.sends += 1
        if self.left <= 0:
            return None
        self.left -= 1
        return AWSResponse(request.url, 503, {}, _Body(THROTTLED))


@pytest.fixture
def region() -> Iterator[tuple[AwsNetwork, Any]]:
    settings = AwsSettings.parse(REGION, aws_settings(max_attempts=ATTEMPTS))
    client = ec2_client(REGION, settings)
    yield AwsNetwork(client, REGION, settings), client
    client.close()


def addresses() -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = ec2().describe_addresses()["Addresses"]
    return found


def test_a_call_throttled_less_than_max_attempts_times_succeeds(
    region: tuple[AwsNetwork, Any],
) -> None:
    network, client = region
    throttle = Throttle(client, "AllocateAddress", ATTEMPTS - 1)
    made = network.allocate_floating_ip(new_id())
    assert throttle.sends == ATTEMPTS
    assert [a["AllocationId"] for a in addresses()] == [made.ref]


def test_a_call_throttled_at_every_attempt_is_unavailable_with_ec2s_code(
    region: tuple[AwsNetwork, Any],
) -> None:
    network, client = region
    throttle = Throttle(client, "AllocateAddress", ATTEMPTS)
    with pytest.raises(BackendUnavailable, match="RequestLimitExceeded"):
        network.allocate_floating_ip(new_id())
    assert throttle.sends == ATTEMPTS
    assert addresses() == []
