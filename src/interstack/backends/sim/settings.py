"""Settings of the sim backend, from a region's ``settings:`` mapping in the config file."""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from dataclasses import fields
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from interstack.backends.contract import Capabilities
from interstack.config import backend_settings, external_cidr


class SimOperation(StrEnum):
    """Operations a fault can be injected into (the keys of ``fail_on``)."""

    CREATE_SERVER = "create_server"
    POWER_ACTION = "power_action"
    CREATE_VOLUME = "create_volume"
    EXTEND_VOLUME = "extend_volume"
    ATTACH_VOLUME = "attach_volume"
    CREATE_SNAPSHOT = "create_snapshot"
    STORE_IMAGE = "store_image"
    PUT_OBJECT = "put_object"
    CREATE_NETWORK = "create_network"
    CREATE_PORT = "create_port"
    DELETE_PORT = "delete_port"  # matched against the port's MAC address (its sim name)
    ADD_ROUTER_INTERFACE = "add_router_interface"  # matched against the router's name
    START = "start"  # the backend's start, matched against the region name


class FaultRule(BaseModel):
    """Fail the operation for resources whose name matches the glob ``name``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = "*"
    message: str = "simulated failure"

    def matches(self, resource_name: str) -> bool:
        return fnmatch.fnmatchcase(resource_name, self.name)


FULL_CAPABILITIES = Capabilities(
    compute=True,
    pause=True,
    suspend=True,
    console_output=True,
    resize=True,
    server_snapshots=True,
    interface_attach=True,
    set_admin_password=True,
    networks=True,
    floating_ips=True,
    floating_ip_choice=True,
    security_groups=True,
    volumes=True,
    boot_from_volume=True,
    # a flavor's ephemeral and swap disks, and the blank local ones a mapping asks for: kept in
    # the server's record, so the API and the metadata name their devices as Nova's do
    ephemeral_disks=True,
    volume_attach_hot=True,
    snapshots=True,
    volume_extend=True,
    volume_to_image=True,
    images=True,
    object_store=True,
    ssh_reachable=False,
    # its servers have ports, so the gateway's metadata service answers for them (guests are
    # simulated: tests speak to the service's socket as a backend's proxy would)
    metadata_service=True,
)


class SimExternalNetwork(BaseModel):
    """An external network the simulated cloud brings, as the local backend brings ``public``:
    the gateway creates it at start-up (router gateways, floating IPs; Tempest's
    ``public_network_id``). Its first host is the gateway, the rest is the allocation pool."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(default="public", min_length=1, max_length=255)
    cidr: str = "198.51.100.0/24"  # TEST-NET-2: never routed

    @field_validator("cidr")
    @classmethod
    def _network_address(cls, value: str) -> str:
        return external_cidr(value, ipv4_only=False)


class SimSettings(BaseModel):
    """``fail_on`` maps an operation to a rule, or to a message (a rule matching every name)::

    fail_on:
      create_server: {name: "fail-*", message: "No valid host was found."}
      put_object: "disk full"
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    boot_delay_seconds: float = Field(default=1.0, ge=0)
    action_delay_seconds: float = Field(default=0.0, ge=0)
    volume_delay_seconds: float = Field(default=0.5, ge=0)
    snapshot_delay_seconds: float = Field(default=0.5, ge=0)
    fail_on: dict[SimOperation, FaultRule] = Field(default_factory=dict)
    #: the addresses the simulated cloud assigns itself when the gateway does not choose them
    #: (``without: [floating_ip_choice]``, as on a cloud like EC2)
    floating_ip_cidr: str = "203.0.113.0/24"
    chunk_size: int = Field(default=64 * 1024, gt=0)
    #: the external network the cloud comes with (none: the operator creates one in Neutron)
    external_network: SimExternalNetwork | None = None
    #: capability flags to turn off, to exercise how the services adapt
    without: frozenset[str] = frozenset()

    @field_validator("fail_on", mode="before")
    @classmethod
    def _messages_are_rules(cls, value: Any) -> Any:
        if isinstance(value, Mapping):
            return {k: {"message": v} if isinstance(v, str) else v for k, v in value.items()}
        return value

    @field_validator("without")
    @classmethod
    def _known_capabilities(cls, value: frozenset[str]) -> frozenset[str]:
        known = {f.name for f in fields(Capabilities)}
        unknown = sorted(value - known)
        if unknown:
            raise ValueError(f"unknown capabilities {unknown}; known: {sorted(known)}")
        return value

    @property
    def capabilities(self) -> Capabilities:
        flags = {name: name not in self.without for name in FULL_CAPABILITIES.names()}
        return Capabilities(**flags)

    def fault(self, operation: SimOperation, resource_name: str) -> str | None:
        """The injected failure message for this operation on this name, if any."""
        rule = self.fail_on.get(operation)
        if rule is not None and rule.matches(resource_name):
            return rule.message
        return None

    @classmethod
    def parse(cls, region: str, raw: Mapping[str, Any]) -> SimSettings:
        return backend_settings(cls, "sim", region, raw)
