"""A server create (``POST /servers``) in the services' words: the validated request, the
answer, and the values the create makes up (a reservation id, a password) or checks (user data).
"""

from __future__ import annotations

import base64
import binascii
import secrets
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from interstack.errors import BadRequest
from interstack.services.compute.block_devices import BlockDevice
from interstack.services.compute.records import Server
from interstack.services.interfaces import RequestedNetwork

#: the one availability zone of every region, as Nova names its default zone
DEFAULT_ZONE = "nova"

NetworksRequest = Sequence[RequestedNetwork] | Literal["auto", "none"]


@dataclass(frozen=True)
class BootRequest:
    """A validated ``POST /servers`` body, in the services' words."""

    name: str
    flavor_id: str
    #: ``imageRef`` (None when empty: the server boots from a block device mapping)
    image_id: str | None
    networks: NetworksRequest = "auto"
    security_groups: tuple[str, ...] = ()
    key_name: str | None = None
    #: base64 text as the client sent it (the metadata service serves it back decoded)
    user_data: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)
    availability_zone: str | None = None
    min_count: int = 1
    max_count: int = 1
    config_drive: bool = False
    description: str | None = None
    tags: tuple[str, ...] = ()
    disk_config: str = "MANUAL"
    access_ipv4: str = ""
    access_ipv6: str = ""
    #: the caller's ``adminPass``; the create answer shows it (else a generated one), never stored
    admin_password: str | None = None
    #: ``block_device_mapping_v2`` (or the legacy mapping, translated)
    block_devices: tuple[BlockDevice, ...] = ()
    #: ``block_devices`` came from the legacy ``block_device_mapping``: which of them boots
    #: depends on the image's root device name (:func:`legacy_boot_order`)
    legacy_mapping: bool = False


@dataclass(frozen=True)
class BootResult:
    servers: list[Server]
    reservation_id: str
    #: generated for the create answer only; never stored
    admin_password: str


def new_password(length: int = 12) -> str:
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(length))


def new_reservation_id() -> str:
    return "r-" + "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(8))


def decode_user_data(user_data: str) -> bytes:
    try:
        return base64.b64decode(user_data, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise BadRequest("User data needs to be valid base 64.") from exc
