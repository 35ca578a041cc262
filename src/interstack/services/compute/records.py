"""What the compute services hand the API layer: frozen records with neutral names."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from interstack.backends.contract.compute import hostname_for
from interstack.services.interfaces import AttachedVolume, InterfaceIp, ServerAddress


@dataclass(frozen=True)
class Flavor:
    id: str
    name: str
    vcpus: int
    ram_mb: int
    disk_gb: int
    ephemeral_gb: int
    swap_mb: int
    rxtx_factor: float
    is_public: bool
    description: str | None
    extra_specs: Mapping[str, str]


@dataclass(frozen=True)
class Keypair:
    name: str
    user_id: str
    type: str
    public_key: str
    fingerprint: str
    created_at: datetime
    #: only when the gateway generated the key, and only in the create answer
    private_key: str | None = None


@dataclass(frozen=True)
class Server:
    id: str
    region: str
    project_id: str
    user_id: str
    name: str
    description: str | None
    flavor_id: str
    flavor: Mapping[str, Any]
    image_id: str | None
    key_name: str | None
    user_data: str | None
    metadata: Mapping[str, str]
    tags: Sequence[str]
    security_groups: Sequence[str]
    vm_state: str
    task_state: str | None
    power_state: int
    status: str
    locked: bool
    locked_reason: str | None
    access_ipv4: str
    access_ipv6: str
    availability_zone: str
    config_drive: str
    disk_config: str
    reservation_id: str
    launch_index: int
    host_id: str
    fault: Mapping[str, Any] | None
    created_at: datetime
    updated_at: datetime
    launched_at: datetime | None
    addresses: Sequence[ServerAddress] = field(default_factory=tuple)
    #: when the delete finished (Nova's ``terminated_at``); None while the server exists
    deleted_at: datetime | None = None
    #: the flavor before an unconfirmed resize
    old_flavor: Mapping[str, Any] | None = None
    #: the host (here: the region) once the backend holds the server, else None
    host: str | None = None
    #: its volumes, the root first when it boots from one (read from block storage)
    volumes_attached: Sequence[AttachedVolume] = field(default_factory=tuple)
    #: the device its root is at: its image's root device name or its root volume's device
    root_device_name: str = "/dev/vda"

    @property
    def hostname(self) -> str:
        """The guest's host name, by the one rule the metadata service and backends use too."""
        return hostname_for(self.name)


@dataclass(frozen=True)
class Interface:
    """One of a server's ports (``os-interface``), with the device tag given when attached."""

    port_id: str
    network_id: str
    mac_address: str
    status: str
    fixed_ips: Sequence[InterfaceIp]
    tag: str | None = None


@dataclass(frozen=True)
class InstanceAction:
    id: str
    server_id: str
    project_id: str
    user_id: str
    request_id: str
    action: str
    message: str | None
    events: Sequence[Mapping[str, Any]]
    start_time: datetime
    updated_at: datetime


@dataclass(frozen=True)
class QuotaUsage:
    limit: int
    in_use: int
