"""moto, the AWS emulator, in server mode on loopback for the aws backend's tests.

One server per test session (started on first use, on 127.0.0.1 and a free port), reset before
each test that asks for it, so every test starts from an empty account. Used by the conformance
suite (through :func:`aws_settings`) and by the API tests (a gateway region backed by it).
"""

from __future__ import annotations

import threading
from typing import Any

import boto3
import httpx

AWS_REGION = "us-east-1"
#: moto accepts any keys; explicit ones keep the tests independent of the environment
TEST_CREDENTIALS = {"access_key_id": "testing", "secret_access_key": "testing-secret"}
#: the bucket an aws region's Swift objects go to (created by the backend on first use)
OBJECT_BUCKET = "interstack-tests-objects"
INSTANCE_TYPES = ["t3.nano", "t3.micro", "t3.small", "t3.medium", "t3.large"]

_lock = threading.Lock()
_endpoint: str | None = None


def moto_endpoint() -> str:
    """The session's moto server URL, started on first use."""
    global _endpoint  # noqa: PLW0603 - one emulator per test session
    with _lock:
        if _endpoint is None:
            from moto.server import ThreadedMotoServer

            server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
            server.start()
            host, port = server.get_host_and_port()
            _endpoint = f"http://{host}:{port}"
        return _endpoint


def reset_moto() -> None:
    """Forget every resource (moto keeps state across calls until reset)."""
    httpx.post(f"{moto_endpoint()}/moto-api/reset", timeout=30).raise_for_status()


def ec2() -> Any:
    """A boto3 EC2 client straight to the emulator, to see what the backend made."""
    return boto3.client(
        "ec2",
        region_name=AWS_REGION,
        endpoint_url=moto_endpoint(),
        aws_access_key_id=TEST_CREDENTIALS["access_key_id"],
        aws_secret_access_key=TEST_CREDENTIALS["secret_access_key"],
    )


def s3() -> Any:
    """A boto3 S3 client straight to the emulator, to see the objects the backend stored."""
    return boto3.client(
        "s3",
        region_name=AWS_REGION,
        endpoint_url=moto_endpoint(),
        aws_access_key_id=TEST_CREDENTIALS["access_key_id"],
        aws_secret_access_key=TEST_CREDENTIALS["secret_access_key"],
    )


def an_ami() -> str:
    """One of moto's built-in Amazon AMIs (filtered: the full list is slow)."""
    images = ec2().describe_images(
        Owners=["amazon"], Filters=[{"Name": "root-device-type", "Values": ["ebs"]}]
    )["Images"]
    return str(sorted(images, key=lambda i: i["ImageId"])[0]["ImageId"])


def aws_settings(**overrides: Any) -> dict[str, Any]:
    """A region's settings for the aws backend on the (freshly reset) emulator."""
    reset_moto()
    return {
        "aws_region": AWS_REGION,
        "endpoint_url": moto_endpoint(),
        "credentials": dict(TEST_CREDENTIALS),
        "instance_types": INSTANCE_TYPES,
        "default_image": an_ami(),
        "max_attempts": 2,
        "object_bucket": OBJECT_BUCKET,
        **overrides,
    }
