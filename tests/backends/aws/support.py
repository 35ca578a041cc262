"""What the aws driver tests share: the drivers on one boto3 client, and EC2's refusal as a
botocore ``before-call`` hook answers it in EC2's stead."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from interstack.backends.aws.compute import AwsCompute
from interstack.backends.aws.images import AwsImages
from interstack.backends.aws.network import AwsNetwork
from interstack.backends.aws.settings import AwsSettings
from tests.support.moto import aws_settings

REGION = "aws-test"


def drivers_on(client: Any) -> tuple[AwsNetwork, AwsCompute]:
    """The network and compute drivers of the test region, both on ``client``."""
    settings = AwsSettings.parse(REGION, aws_settings())
    network = AwsNetwork(client, REGION, settings)
    return network, AwsCompute(client, REGION, settings, AwsImages(client, REGION, settings))


@dataclass(frozen=True)
class _Status:
    status_code: int


def refusal(code: str, message: str, status: int = 400) -> tuple[Any, dict[str, Any]]:
    """What a ``before-call`` hook returns for EC2 to refuse the call with ``code``."""
    return _Status(status), {"Error": {"Code": code, "Message": message}}
