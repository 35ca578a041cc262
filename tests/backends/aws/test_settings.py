"""The aws backend's settings: validated at construction, secrets never shown."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from interstack.backends.aws import AwsBackend, AwsSettings
from interstack.backends.contract import BackendContext
from interstack.config import ConfigError
from interstack.errors import BackendUnavailable

SECRET = "wJalrXUtnFEMI-K7MDENG-bPxRfiCYEXAMPLEKEY"
KEY_ID = "AKIAIOSFODNN7EXAMPLE"


def build(settings: dict[str, object], tmp_path: Path) -> AwsBackend:
    return AwsBackend(BackendContext(region="aws-test", settings=settings, data_dir=tmp_path))


def explicit(**extra: object) -> dict[str, object]:
    return {
        "aws_region": "us-east-1",
        "credentials": {"access_key_id": KEY_ID, "secret_access_key": SECRET},
        **extra,
    }


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        ({}, "aws_region"),
        ({"aws_region": "us-east-1", "endpoint_url": "ftp://x"}, "endpoint_url"),
        ({"aws_region": "us-east-1", "credentials": "vault"}, "credentials"),
        ({"aws_region": "us-east-1", "credentials": {"profile": ""}}, "credentials"),
        ({"aws_region": "us-east-1", "instance_types": []}, "instance_types"),
        ({"aws_region": "us-east-1", "vpc_cidr": "10.0.0.0/8"}, "vpc_cidr"),
        ({"aws_region": "us-east-1", "object_bucket": "My_Bucket"}, "object_bucket"),
        ({"aws_region": "us-east-1", "image_refresh_seconds": -1}, "image_refresh_seconds"),
        ({"aws_region": "us-east-1", "colour": "blue"}, "colour"),
    ],
)
def test_bad_settings_are_a_config_error_naming_the_region_and_the_setting(
    settings: dict[str, object], named: str, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError) as caught:
        build(settings, tmp_path)
    assert "region aws-test" in str(caught.value)
    assert named in str(caught.value)


def test_a_rejected_secret_is_not_echoed_in_the_error(tmp_path: Path) -> None:
    bad = explicit()
    bad["credentials"] = {"access_key_id": KEY_ID, "secret_access_key": SECRET, "extra": SECRET}
    with pytest.raises(ConfigError) as caught:
        build(bad, tmp_path)
    rendered = f"{caught.value} {caught.value!r} {caught.value.__cause__!r}"
    assert SECRET not in rendered


def test_credentials_never_appear_in_repr_str_or_logs(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    backend = build(explicit(endpoint_url="http://127.0.0.1:9", max_attempts=1), tmp_path)
    parsed = AwsSettings.parse("aws-test", explicit())
    shown = " ".join(
        [repr(parsed), str(parsed), repr(backend), str(backend), parsed.model_dump_json()]
    )
    assert SECRET not in shown and KEY_ID not in shown
    assert "**********" in repr(parsed)
    with pytest.raises(BackendUnavailable) as caught:  # nothing listens on port 9
        backend.start()
    assert SECRET not in str(caught.value)
    assert SECRET not in caplog.text and KEY_ID not in caplog.text
    backend.close()


def test_defaults_use_the_environment_chain_and_small_instance_types() -> None:
    parsed = AwsSettings.parse("aws-test", {"aws_region": "eu-west-1"})
    assert parsed.credentials == "env"
    assert "t3.micro" in parsed.instance_types
    profile = AwsSettings.parse(
        "aws-test", {"aws_region": "eu-west-1", "credentials": {"profile": "ops"}}
    )
    assert repr(profile.credentials) == "ProfileCredentials(profile='ops')"


def test_a_minute_long_ec2_change_is_looked_at_about_a_dozen_times(tmp_path: Path) -> None:
    """EC2 takes up to a minute to start or terminate an instance and throttles Describe
    calls: the gateway's tasks look at it seldom (the default polling would look 120 times)."""
    polling = build(explicit(), tmp_path).polling
    waited, looks = 0.0, 0
    while waited < 60.0:
        waited += polling.delay(looks)
        looks += 1
    assert looks <= 16
    assert polling.delay(0) >= 0.25  # not a burst of looks at first
