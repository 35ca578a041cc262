"""An ``aws`` region's credentials, from each source its settings may name (boto3's chain from
the environment, a named profile, explicit keys), sign the gateway's calls; none of them
reaches a response, a fault, the gateway's log (at debug level, the access log on) or its data
directory (the store, clouds.yaml: only the config holds them, where the operator put them), and
neither does the identity AWS names when it refuses a call.

moto checks signatures only with its authentication on (``/moto-api/reset-auth``): then a call
is accepted only when signed with the access key of a user moto's IAM holds, and refused for
what the user's policy denies — as EC2 answers ``UnauthorizedOperation``, naming the user's ARN
(the operator's account and user name, not the API user's business).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from interstack.client import networks as cloud
from tests.support.gateway import ServedGateway, password_auth_body
from tests.support.identity import unique
from tests.support.moto import AWS, aws_settings, client, moto_endpoint
from tests.support.network import external_network, neutron

USER = "interstack-operator"
PROFILE = "interstack-ops"
#: what the operator's policy denies: a floating IP's create is refused by AWS
DENIED = "ec2:AllocateAddress"
#: the account moto's IAM users belong to
MOTO_ACCOUNT = "123456789012"


class DebugGateway(ServedGateway):
    """A served gateway logging at debug level (botocore's own records kept out or not)."""

    def command(self) -> list[str]:
        return [*super().command(), "--log-level", "debug"]


def authenticating(count: str) -> None:
    """moto checks signatures and policies after ``count`` more requests ("inf": never)."""
    httpx.post(f"{moto_endpoint()}/moto-api/reset-auth", content=count.encode()).raise_for_status()


@pytest.fixture
def access_key() -> Iterator[dict[str, str]]:
    """An IAM user's access key in the (reset) emulator, which then checks every signature."""
    aws_settings()  # resets the emulator
    iam = client("iam")
    iam.create_user(UserName=USER)
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "*", "Resource": "*"},
            {"Effect": "Deny", "Action": DENIED, "Resource": "*"},
        ],
    }
    iam.put_user_policy(UserName=USER, PolicyName="all-but", PolicyDocument=json.dumps(policy))
    made = iam.create_access_key(UserName=USER)["AccessKey"]
    authenticating("0")
    try:
        yield {"id": made["AccessKeyId"], "secret": made["SecretAccessKey"]}
    finally:
        authenticating("inf")


def credentials_from(
    source: str, key: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Any:
    """The region's ``credentials`` setting for ``source``, the environment arranged for it
    (the served gateway inherits this process's environment)."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    if source == "env":
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", key["id"])
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key["secret"])
        return "env"
    if source == "profile":
        shared = tmp_path / "credentials"
        shared.write_text(
            f"[{PROFILE}]\naws_access_key_id = {key['id']}\n"
            f"aws_secret_access_key = {key['secret']}\n"
        )
        monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(shared))
        return {"profile": PROFILE}
    return {"access_key_id": key["id"], "secret_access_key": key["secret"]}


@pytest.mark.parametrize("source", ["env", "profile", "explicit"])
def test_credentials_sign_the_calls_and_never_leave_the_gateway(
    source: str,
    access_key: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    credentials = credentials_from(source, access_key, tmp_path, monkeypatch)
    settings = {**aws_settings_unreset(), "credentials": credentials}
    config = {"regions": [{"name": AWS, "backend": "aws", "settings": settings}]}
    answers: list[str] = []
    with DebugGateway(tmp_path / "data", config=config) as gateway:
        with neutron(gateway, gateway.token("interstack-admin"), AWS) as admin:
            external_network(admin)
            answers += [admin.get("/networks").text]
        sdk = gateway.connect("interstack", AWS)
        # EC2 calls moto accepts only signed with the user's key: the source was used
        net = sdk.network.create_network(name=unique("signed"))
        subnet = sdk.network.create_subnet(network_id=net.id, cidr="10.70.0.0/24", ip_version=4)
        port = sdk.network.create_port(network_id=net.id)
        public = cloud.external_network(sdk)
        assert public is not None
        refused = sdk.network.post(
            "/floatingips",
            json={"floatingip": {"floating_network_id": public.id}},
        )
        assert refused.status_code == 500, refused.text
        fault = refused.json()["NeutronError"]
        assert "AccessDenied" in fault["message"], fault  # AWS's code, for the operator
        assert list(sdk.network.ips()) == []  # nothing half-made
        identity = httpx.Client(base_url=f"{gateway.url}/v3", timeout=30)
        token = identity.post("/auth/tokens", json=password_auth_body(gateway.auth("interstack")))
        assert token.status_code == 201, token.text
        answers += [token.text, refused.text]
        headers = {"X-Auth-Token": token.headers["X-Subject-Token"]}
        answers += [identity.get("/auth/catalog", headers=headers).text]
        sdk.network.delete_port(port)
        sdk.network.delete_subnet(subnet)
        sdk.network.delete_network(net)
        sdk.close()
    shown = "\n".join(answers)
    logged = gateway.log()
    assert "AllocateAddress" in logged  # the refusal reached the operator's log
    stored = b"".join(f.read_bytes() for f in gateway.data_dir.rglob("*") if f.is_file())
    for secret in (access_key["secret"], access_key["id"]):
        assert secret not in shown
        assert secret not in logged
        assert secret.encode() not in stored  # the store, clouds.yaml, the region's data
    for identity_part in (USER, MOTO_ACCOUNT):  # the operator's AWS identity
        assert identity_part not in shown


def aws_settings_unreset() -> dict[str, Any]:
    """The region's settings without resetting the emulator (its IAM user must stay)."""
    return {
        "aws_region": "us-east-1",
        "endpoint_url": moto_endpoint(),
        "instance_types": ["t3.nano", "t3.micro"],
        "max_attempts": 2,
        "own_images": False,
    }
