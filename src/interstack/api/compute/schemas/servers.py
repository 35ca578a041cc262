"""Request bodies of servers (create, update) per microversion range, and their field types."""

from __future__ import annotations

import ipaddress
import uuid
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from interstack.api.compute.schemas.parameter_types import Boolean, nova_boolean

ServerName = Annotated[str, Field(min_length=1, max_length=255)]
MetaKey = Annotated[str, Field(min_length=1, max_length=255)]
MetaValue = Annotated[str, Field(max_length=255)]
Metadata = dict[MetaKey, MetaValue]
Tag = Annotated[str, Field(min_length=1, max_length=60, pattern=r"^[^,/]*$")]
Description = Annotated[str | None, Field(max_length=255)]
Count = Annotated[int, Field(ge=1, le=1000)]


def _ipv4(value: str) -> str:
    return str(ipaddress.IPv4Address(value)) if value else value


def _ipv6(value: str) -> str:
    return str(ipaddress.IPv6Address(value)) if value else value


#: ``accessIPv4``/``accessIPv6``: an address of that version, or empty; kept in its canonical
#: form (``::babe:dc0c:1602``), as Nova stores an IP address field
AccessIPv4 = Annotated[str, AfterValidator(_ipv4)]
AccessIPv6 = Annotated[str, AfterValidator(_ipv6)]


class Closed(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


def no_outer_spaces(value: str | None) -> str | None:
    if value is not None and value != value.strip():
        raise ValueError("leading and trailing whitespace is not allowed")
    return value


def check_uuid(value: str | None, what: str) -> str | None:
    if value is None:
        return None
    try:
        uuid.UUID(value)
    except ValueError:
        raise ValueError(f"{what} {value!r} is not a valid UUID") from None
    return value


def check_uuid_or_none(value: str) -> str | None:
    """``value`` if it is a UUID, else None."""
    try:
        uuid.UUID(value)
    except ValueError:
        return None
    return value


class RequestedNetwork(Closed):
    uuid: str | None = None
    port: str | None = None
    fixed_ip: str | None = None
    tag: Annotated[str | None, Field(max_length=60)] = None

    @field_validator("uuid", "port")
    @classmethod
    def _uuid(cls, value: str | None) -> str | None:
        return check_uuid(value, "network or port id")

    @field_validator("fixed_ip")
    @classmethod
    def _ip(cls, value: str | None) -> str | None:
        if value is not None:
            ipaddress.ip_address(value)
        return value


class SecurityGroupName(Closed):
    name: Annotated[str, Field(min_length=1, max_length=255)]


#: Nova's ``db.MAX_INT``: the largest ``volume_size`` its schema takes (its column's bound)
MAX_INT = 0x7FFFFFFF


def _boot_index(value: object) -> object:
    """Nova's ``boot_index``: an integer, given as a number or a string of digits (not a
    JSON boolean, which its schema's ``integer`` refuses and pydantic would take for 0/1)."""
    if isinstance(value, bool):
        raise ValueError(f"boot_index {value!r} is not an integer")
    if not isinstance(value, str):
        return value
    try:
        return int(value.strip())
    except ValueError:
        raise ValueError(f"boot_index {value!r} is not an integer") from None


def _volume_size(value: object) -> object:
    """Nova's ``volume_size``: an integer of GiB from 0 to :data:`MAX_INT`, as a number or
    digits (not a JSON boolean)."""
    if isinstance(value, bool) or (isinstance(value, str) and not value.strip().isdigit()):
        raise ValueError(f"volume_size {value!r} is not a non-negative integer")
    if isinstance(value, str):
        value = int(value)
    if isinstance(value, int) and not 0 <= value <= MAX_INT:
        raise ValueError(f"volume_size {value!r} is not an integer from 0 to {MAX_INT}")
    return value


def _no_device(value: object) -> object:
    """A mapping's ``no_device``: a boolean as Nova's type spells one, or null (not given).
    Nova's schema takes any value here and reads it by Python truthiness (the string
    ``"false"`` would be a no_device entry); it is read for what it says instead, and a value
    that says neither is a 400 rather than a guess."""
    return None if value is None else nova_boolean(value)


NoDevice = Annotated[bool | None, BeforeValidator(_no_device)]
BootIndex = Annotated[int | None, BeforeValidator(_boot_index)]
#: Nova's device names: no empty name, no spaces (``vdb`` or ``/dev/vdb``)
DeviceName = Annotated[str, Field(min_length=1, max_length=255, pattern=r"^[a-zA-Z0-9._/-]*$")]
VolumeSize = Annotated[int | None, BeforeValidator(_volume_size)]


class BlockDevice(Closed):
    """One ``block_device_mapping_v2`` entry."""

    boot_index: BootIndex = None
    uuid: Annotated[str | None, Field(max_length=255, pattern=r"^[a-zA-Z0-9._-]*$")] = None
    source_type: Literal["image", "volume", "snapshot", "blank"] | None = None
    destination_type: Literal["local", "volume"] | None = None
    delete_on_termination: Boolean = False
    volume_size: VolumeSize = None
    device_name: DeviceName | None = None
    device_type: Annotated[str | None, Field(max_length=255)] = None
    disk_bus: Annotated[str | None, Field(max_length=255)] = None
    guest_format: Annotated[str | None, Field(max_length=255)] = None
    no_device: NoDevice = None
    tag: str | None = None
    volume_type: Annotated[str | None, Field(max_length=255)] = None
    # Nova's schema takes these too (its v2 entry is the legacy one, extended); they are
    # ignored: ``uuid`` names a source (Nova sets its ``<source>_id`` from it), and a client
    # has no connection to give
    image_id: Annotated[str | None, Field(max_length=255)] = None
    volume_id: Annotated[str | None, Field(max_length=255)] = None
    snapshot_id: Annotated[str | None, Field(max_length=255)] = None
    connection_info: Annotated[str | None, Field(max_length=16777215)] = None


class LegacyBlockDevice(Closed):
    """One entry of the legacy ``block_device_mapping`` (a volume or snapshot at a device)."""

    device_name: DeviceName | None = None
    volume_id: str | None = None
    snapshot_id: str | None = None
    volume_size: VolumeSize = None
    delete_on_termination: Boolean = False
    no_device: NoDevice = None
    virtual_name: Annotated[str | None, Field(max_length=255)] = None
    #: taken as Nova's schema takes it, and ignored (a client has no connection to give)
    connection_info: Annotated[str | None, Field(max_length=16777215)] = None

    @field_validator("volume_id", "snapshot_id")
    @classmethod
    def _uuid(cls, value: str | None) -> str | None:
        return check_uuid(value, "volume or snapshot id")


class NewServer(Closed):
    """``server`` of ``POST /servers`` at 2.1."""

    name: ServerName
    imageRef: str = ""  # noqa: N815 - Nova's field name
    flavorRef: str | int  # noqa: N815
    adminPass: str | None = None  # noqa: N815
    metadata: Metadata = Field(default_factory=dict)
    networks: list[RequestedNetwork] | None = None
    disk_config: Literal["AUTO", "MANUAL"] = Field(default="MANUAL", alias="OS-DCF:diskConfig")
    accessIPv4: AccessIPv4 | None = None  # noqa: N815
    accessIPv6: AccessIPv6 | None = None  # noqa: N815
    security_groups: list[SecurityGroupName] = Field(default_factory=list)
    user_data: Annotated[str | None, Field(max_length=65535)] = None
    key_name: Annotated[str | None, Field(min_length=1, max_length=255)] = None
    availability_zone: Annotated[str | None, Field(min_length=1, max_length=255)] = None
    config_drive: Boolean | None = None
    block_device_mapping_v2: list[BlockDevice] | None = None
    block_device_mapping: list[LegacyBlockDevice] | None = None
    min_count: Count = 1
    max_count: Count = 1
    return_reservation_id: Boolean = False
    personality: list[dict[str, Any]] | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str | None:
        return no_outer_spaces(value)

    @model_validator(mode="after")
    def _max_count_defaults_to_min_count(self) -> NewServer:
        """Nova: ``min_count`` alone asks for exactly that many servers."""
        if "max_count" not in self.model_fields_set:
            self.max_count = self.min_count
        return self


class NewServerV219(NewServer):
    description: Description = None


class NewServerV237(NewServerV219):
    """2.37: ``networks`` is required and may be ``auto`` or ``none``."""

    networks: list[RequestedNetwork] | Literal["auto", "none"]  # type: ignore[assignment]


class NewServerV252(NewServerV237):
    tags: Annotated[list[Tag], Field(max_length=50)] = Field(default_factory=list)


class NewServerV257(NewServerV252):
    """2.57 drops ``personality`` (file injection)."""

    personality: None = Field(default=None, exclude=True)

    @field_validator("personality", mode="before")
    @classmethod
    def _gone(cls, value: Any) -> None:
        if value is not None:
            raise ValueError("personality is not supported from microversion 2.57 on")


class ServerCreate(Closed):
    server: NewServer
    scheduler_hints: dict[str, Any] | None = Field(default=None, alias="os:scheduler_hints")


class ServerCreateV219(ServerCreate):
    server: NewServerV219


class ServerCreateV237(ServerCreate):
    server: NewServerV237


class ServerCreateV252(ServerCreate):
    server: NewServerV252


class ServerCreateV257(ServerCreate):
    server: NewServerV257


class ServerChange(Closed):
    name: ServerName | None = None
    accessIPv4: AccessIPv4 | None = None  # noqa: N815
    accessIPv6: AccessIPv6 | None = None  # noqa: N815
    disk_config: Literal["AUTO", "MANUAL"] | None = Field(default=None, alias="OS-DCF:diskConfig")

    @field_validator("name")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        return no_outer_spaces(value)


class ServerChangeV219(ServerChange):
    description: Description = None


class ServerUpdate(Closed):
    server: ServerChange


class ServerUpdateV219(Closed):
    server: ServerChangeV219
