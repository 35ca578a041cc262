"""Bodies of ``POST /servers/{id}/os-interface`` per microversion range (``tag`` from 2.49)."""

from __future__ import annotations

import ipaddress
from typing import Annotated

from pydantic import Field, field_validator

from interstack.api.compute.schemas.servers import Closed, Tag, check_uuid


class RequestedIp(Closed):
    ip_address: str

    @field_validator("ip_address")
    @classmethod
    def _address(cls, value: str) -> str:
        try:
            ipaddress.ip_address(value)
        except ValueError:
            raise ValueError(f"{value!r} is not an IP address") from None
        return value


class NewInterface(Closed):
    net_id: str | None = None
    port_id: str | None = None
    fixed_ips: Annotated[list[RequestedIp], Field(min_length=1, max_length=1)] | None = None

    @field_validator("net_id", "port_id")
    @classmethod
    def _uuid(cls, value: str | None) -> str | None:
        return check_uuid(value, "network or port id")


class NewInterfaceV249(NewInterface):
    tag: Tag | None = None


class InterfaceCreate(Closed):
    interfaceAttachment: NewInterface | None = None  # noqa: N815 - Nova's field name


class InterfaceCreateV249(Closed):
    interfaceAttachment: NewInterfaceV249 | None = None  # noqa: N815
