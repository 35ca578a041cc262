"""The EC2 client of one region, its tags, and AWS errors translated into interstack's.

Every call goes through botocore's ``standard`` retry mode (throttling and transient errors are
retried with backoff, ``max_attempts`` in total); what is still failing becomes an
:mod:`interstack.errors` type whose message carries the AWS error code, raised ``from`` the
botocore exception.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    PartialCredentialsError,
)

from interstack.backends.aws.settings import AwsSettings, ExplicitCredentials, ProfileCredentials
from interstack.backends.contract import Polling
from interstack.config import ConfigError
from interstack.errors import (
    BackendError,
    BackendUnavailable,
    BadRequest,
    Conflict,
    InterstackError,
    NotFound,
    QuotaExceeded,
)

#: the tag every resource interstack creates carries; its value is the gateway region's name
TAG_REGION = "interstack:region"
#: the gateway id (UUID) of the resource, for idempotent creation and reconciliation
TAG_GATEWAY_ID = "interstack:gateway-id"
TAG_PROJECT = "interstack:project"
TAG_NETWORK = "interstack:network"
#: servers carry their gateway id also under the name OpenStack tooling looks for
TAG_OPENSTACK_ID = "openstack_id"

#: EC2 takes seconds to tens of seconds to start, stop or terminate an instance or to attach a
#: volume, and throttles an account's Describe calls (``RequestLimitExceeded``): a resource is
#: looked at after half a second, then less often, at most every 5 s (a dozen looks a minute,
#: where a half second made 120); an emulator, which settles at once, is seen at the first look.
#: EC2 describes a change it accepted within seconds (eventual consistency): 30 s to settle
AWS_POLLING = Polling(first_seconds=0.5, ceiling_seconds=5.0, settling_seconds=30.0)

_NOT_FOUND_SUFFIXES = (".NotFound", ".Malformed")
_CONFLICTS = {
    "DependencyViolation",
    "IncorrectInstanceState",
    "IncorrectState",
    "InvalidNetworkInterface.InUse",
    "InvalidIPAddress.InUse",
    "InvalidSubnet.Conflict",
    "InvalidVpc.Range",
    "Resource.AlreadyAssociated",
    "InvalidPermission.Duplicate",
    "InvalidGroup.Duplicate",
    "InvalidKeyPair.Duplicate",
}
_UNAVAILABLE = {
    "RequestLimitExceeded",
    "Throttling",
    "ServiceUnavailable",
    "Unavailable",
    "InternalError",
    "InsufficientInstanceCapacity",
}
#: refusals of the region's own credentials: AWS's message names the operator's identity (an
#: ``UnauthorizedOperation`` or ``AccessDenied`` the user's ARN: account id and user name; a
#: ``SignatureDoesNotMatch`` of some services the canonical request, a session token among its
#: headers), which is the operator's to read in the log, not an API user's in a fault
_AUTH = {
    "AccessDenied",
    "AccessDeniedException",
    "AuthFailure",
    "ExpiredToken",
    "InvalidAccessKeyId",
    "InvalidClientTokenId",
    "SignatureDoesNotMatch",
    "UnauthorizedOperation",
}


def session_for(settings: AwsSettings) -> boto3.session.Session:
    """A boto3 session with the credentials the settings choose (nothing is logged)."""
    creds = settings.credentials
    if isinstance(creds, ProfileCredentials):
        return boto3.session.Session(profile_name=creds.profile, region_name=settings.aws_region)
    if isinstance(creds, ExplicitCredentials):
        token = creds.session_token.get_secret_value() if creds.session_token else None
        return boto3.session.Session(
            aws_access_key_id=creds.access_key_id.get_secret_value(),
            aws_secret_access_key=creds.secret_access_key.get_secret_value(),
            aws_session_token=token,
            region_name=settings.aws_region,
        )
    return boto3.session.Session(region_name=settings.aws_region)


def quiet_sdk_debug_logs() -> None:
    """Keep botocore's DEBUG records (which print request headers: the access key id and
    signatures) out of every log, whatever level the gateway's logging is set to."""
    for name in ("botocore", "boto3"):
        logger = logging.getLogger(name)
        if logger.getEffectiveLevel() < logging.INFO:
            logger.setLevel(logging.INFO)


def ec2_client(region: str, settings: AwsSettings) -> Any:
    """The EC2 client for ``region`` (a missing profile is a ``ConfigError`` naming it)."""
    return aws_client("ec2", region, settings)


def s3_client(region: str, settings: AwsSettings) -> Any:
    """The S3 client for ``region``; path-style addressing against an ``endpoint_url`` (an
    emulator or a private endpoint has no per-bucket host names)."""
    style = "path" if settings.endpoint_url else "auto"
    return aws_client("s3", region, settings, Config(s3={"addressing_style": style}))


def aws_client(
    service: str, region: str, settings: AwsSettings, extra: Config | None = None
) -> Any:
    """A client of one AWS service with the settings' credentials, endpoint and retries."""
    quiet_sdk_debug_logs()
    config = Config(
        retries={"mode": "standard", "total_max_attempts": settings.max_attempts},
        connect_timeout=10,
        read_timeout=60,
        user_agent_extra="interstack",
    )
    if extra is not None:
        config = config.merge(extra)
    try:
        session = session_for(settings)
        return session.client(service, endpoint_url=settings.endpoint_url, config=config)
    except BotoCoreError as exc:
        raise ConfigError(
            f"region {region}: the aws backend cannot build its {service.upper()} client: "
            f"{type(exc).__name__}"
        ) from exc


def tags(region: str, gateway_id: str, name: str = "", **extra: str) -> list[dict[str, str]]:
    """The tags of a resource interstack creates in ``region`` for ``gateway_id``."""
    pairs = {TAG_REGION: region, TAG_GATEWAY_ID: gateway_id, **extra}
    if name:
        pairs["Name"] = name[:255]
    return [{"Key": k, "Value": v} for k, v in pairs.items()]


def tag_spec(resource_type: str, tag_list: list[dict[str, str]]) -> list[dict[str, Any]]:
    return [{"ResourceType": resource_type, "Tags": tag_list}]


def tag_filters(region: str, **wanted: str) -> list[dict[str, Any]]:
    """``describe_*`` filters selecting this region's resources (and the ``wanted`` tags)."""
    found = [{"Name": f"tag:{TAG_REGION}", "Values": [region]}]
    found += [{"Name": f"tag:{key}", "Values": [value]} for key, value in wanted.items()]
    return found


def find_tagged(
    ec2: Any, region: str, describe: str, key: str, **wanted: str
) -> dict[str, Any] | None:
    """The first resource ``ec2.<describe>`` lists under ``key`` with this region's and the
    ``wanted`` tags (how a repeated create finds what the first one made)."""
    with aws_call(describe):
        found = getattr(ec2, describe)(Filters=tag_filters(region, **wanted))
    items = found.get(key, [])
    return dict(items[0]) if items else None


def tag_value(resource: Mapping[str, Any], key: str) -> str | None:
    for tag in resource.get("Tags", []) or []:
        if tag.get("Key") == key:
            return str(tag.get("Value"))
    return None


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", "Unknown"))


def _error_class(code: str) -> type[InterstackError]:
    """The interstack error an AWS error code stands for."""
    rules: list[tuple[bool, type[InterstackError]]] = [
        (code.endswith(_NOT_FOUND_SUFFIXES) or code.startswith("InvalidAllocationID"), NotFound),
        (code in _CONFLICTS or code.endswith(".InUse"), Conflict),
        (code in _UNAVAILABLE, BackendUnavailable),
        (code in _AUTH, BackendError),
        (code.endswith("LimitExceeded"), QuotaExceeded),
        (code.startswith(("Invalid", "Missing")), BadRequest),
    ]
    return next((cls for matched, cls in rules if matched), BackendError)


def translate(exc: Exception, doing: str) -> InterstackError:
    """The interstack error for an AWS failure while ``doing`` something (the code included)."""
    if isinstance(exc, (NoCredentialsError, PartialCredentialsError)):
        return BackendUnavailable(
            f"AWS refused {doing}: no usable credentials ({type(exc).__name__})"
        )
    if isinstance(exc, EndpointConnectionError):
        return BackendUnavailable(f"AWS cannot be reached for {doing}")
    if not isinstance(exc, ClientError):
        return BackendError(f"AWS failed {doing}: {type(exc).__name__}")
    code = error_code(exc)
    if code in _AUTH:
        return BackendError(
            f"AWS refused {doing}: {code} (the region's AWS credentials are refused or lack "
            "the permission; the gateway's log has AWS's message)"
        )
    message = str(exc.response.get("Error", {}).get("Message", "")).strip()
    return _error_class(code)(f"AWS refused {doing}: {code}" + (f": {message}" if message else ""))


@contextmanager
def aws_call(doing: str) -> Iterator[None]:
    """Run AWS calls, raising interstack errors ``from`` botocore's."""
    try:
        yield
    except (ClientError, BotoCoreError) as exc:
        raise translate(exc, doing) from exc


def is_not_found(exc: ClientError) -> bool:
    return error_code(exc).endswith(_NOT_FOUND_SUFFIXES)


def ignoring_missing(call: Callable[[], Any], doing: str) -> None:
    """Run a deletion; a resource that is already gone is not an error."""
    try:
        call()
    except ClientError as exc:
        if not is_not_found(exc):
            raise translate(exc, doing) from exc
