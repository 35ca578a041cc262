"""Settings of the aws backend, from a region's ``settings:`` mapping in the config file.

Credentials come from one of three places, chosen by ``credentials``:

- ``env`` (the default): boto3's own chain (environment variables, shared files, instance role);
- ``{profile: NAME}``: a named profile of the shared AWS config files;
- ``{access_key_id: ..., secret_access_key: ..., session_token: ...}``: explicit keys.

Secrets are held as ``SecretStr``: ``repr``/``str`` of the settings, log lines and faults show
``**********``; nothing returns them through an API.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from interstack.config import backend_settings

#: instance types offered when the region does not list its own: small general-purpose sizes
DEFAULT_INSTANCE_TYPES = (
    "t3.nano",
    "t3.micro",
    "t3.small",
    "t3.medium",
    "t3.large",
    "t3.xlarge",
    "t3.2xlarge",
    "m5.4xlarge",
)


#: S3's bucket naming rules (the virtual-host-safe subset)
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")


class ProfileCredentials(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    profile: str = Field(min_length=1)


class ExplicitCredentials(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    access_key_id: SecretStr
    secret_access_key: SecretStr
    session_token: SecretStr | None = None


class ImageFilter(BaseModel):
    """Public AMIs to offer as images besides the account's own: an EC2 ``describe_images``
    filter set (always filtered: the unfiltered list is thousands of images)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    owners: tuple[str, ...] = ()
    filters: dict[str, tuple[str, ...]] = Field(default_factory=dict)

    @field_validator("filters")
    @classmethod
    def _not_empty(cls, value: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
        if not value:
            raise ValueError("an image filter needs at least one EC2 filter (name: [values])")
        return value


class AwsSettings(BaseModel):
    """A region on AWS::

    settings:
      aws_region: us-east-1
      endpoint_url: http://127.0.0.1:5000     # optional (an emulator, a VPC endpoint)
      credentials: env                        # or {profile: NAME} or {access_key_id, ...}
      instance_types: [t3.micro, t3.small]    # the region's flavors
      default_image: ami-0123456789abcdef0    # boots servers whose image has no AMI
      own_images: true                        # the account's own AMIs are Glance images
      images: [{owners: [amazon], filters: {name: [debian-12-amd64-*]}}]
      vpc_cidr: 100.64.0.0/28                 # each project VPC's primary (placeholder) block
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    aws_region: str = Field(min_length=1)
    endpoint_url: str | None = None
    credentials: Literal["env"] | ProfileCredentials | ExplicitCredentials = "env"
    instance_types: tuple[str, ...] = DEFAULT_INSTANCE_TYPES
    default_image: str | None = None
    #: Glance shows the account's own AMIs (besides those ``images`` selects)
    own_images: bool = True
    images: tuple[ImageFilter, ...] = ()
    #: an image listing reads the AMIs again when the last read is older than this
    image_refresh_seconds: float = Field(default=60.0, ge=0)
    availability_zone: str | None = None
    #: how long an image upload waits for EC2 to finish its snapshot, AMI or VM Import
    image_wait_seconds: float = Field(default=1800.0, gt=0)
    #: the S3 bucket holding the region's Swift objects (created if missing); unset: no Swift
    object_bucket: str | None = None
    vpc_cidr: str = "100.64.0.0/28"
    max_attempts: int = Field(default=8, ge=1, le=20)

    @field_validator("endpoint_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("endpoint_url must be an http:// or https:// URL")
        return value

    @field_validator("instance_types")
    @classmethod
    def _some_types(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("instance_types must name at least one EC2 instance type")
        return value

    @field_validator("object_bucket")
    @classmethod
    def _bucket_name(cls, value: str | None) -> str | None:
        if value is not None and not _BUCKET.fullmatch(value):
            raise ValueError(
                "object_bucket must be an S3 bucket name: 3-63 lowercase letters, digits, "
                "dots and hyphens, beginning and ending with a letter or digit"
            )
        return value

    @field_validator("vpc_cidr")
    @classmethod
    def _vpc_block(cls, value: str) -> str:
        net = ipaddress.ip_network(value)  # ValueError -> a validation error
        if net.version != 4 or not 16 <= net.prefixlen <= 28:
            raise ValueError("vpc_cidr must be an IPv4 block from /16 to /28")
        return str(net)

    @classmethod
    def parse(cls, region: str, raw: Mapping[str, Any]) -> AwsSettings:
        return backend_settings(cls, "aws", region, raw)
