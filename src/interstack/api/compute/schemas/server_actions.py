"""Bodies of server actions: the value under the action's key in ``POST /servers/{id}/action``."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator

from interstack.api.compute.schemas.parameter_types import Boolean
from interstack.api.compute.schemas.servers import (
    AccessIPv4,
    AccessIPv6,
    Closed,
    Description,
    Metadata,
    ServerName,
    no_outer_spaces,
)


class Reboot(Closed):
    type: str

    @field_validator("type")
    @classmethod
    def _type(cls, value: str) -> str:
        if value.upper() not in ("SOFT", "HARD"):
            raise ValueError("type must be SOFT or HARD")
        return value.upper()


class ChangePassword(Closed):
    adminPass: str  # noqa: N815 - Nova's field name


class Lock(Closed):
    locked_reason: Annotated[str | None, Field(max_length=255)] = None


class Rebuild(Closed):
    imageRef: str  # noqa: N815 - Nova's field name
    name: ServerName | None = None
    metadata: Metadata | None = None
    adminPass: str | None = None  # noqa: N815
    accessIPv4: AccessIPv4 | None = None  # noqa: N815
    accessIPv6: AccessIPv6 | None = None  # noqa: N815
    disk_config: Literal["AUTO", "MANUAL"] | None = Field(default=None, alias="OS-DCF:diskConfig")
    preserve_ephemeral: Boolean | None = None
    personality: list[dict[str, str]] | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        return no_outer_spaces(value)


class RebuildV219(Rebuild):
    description: Description = None


class RebuildV254(RebuildV219):
    key_name: Annotated[str | None, Field(min_length=1, max_length=255)] = None


class RebuildV257(RebuildV254):
    user_data: Annotated[str | None, Field(max_length=65535)] = None


class Resize(Closed):
    flavorRef: str | int  # noqa: N815
    disk_config: Literal["AUTO", "MANUAL"] | None = Field(default=None, alias="OS-DCF:diskConfig")


class CreateImage(Closed):
    name: Annotated[str, Field(min_length=1, max_length=255)]
    metadata: Metadata = Field(default_factory=dict)


class ConsoleOutput(Closed):
    length: int | None = Field(default=None, ge=-1)


class SecurityGroup(Closed):
    name: Annotated[str, Field(min_length=1, max_length=255)]
