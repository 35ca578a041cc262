"""What the network service returns: frozen snapshots of its rows, with neutral names."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Stamp:
    created_at: datetime
    updated_at: datetime
    tags: tuple[str, ...]


@dataclass(frozen=True)
class NetworkInfo:
    id: str
    project_id: str
    name: str
    description: str
    admin_state_up: bool
    shared: bool
    external: bool
    mtu: int
    port_security_enabled: bool
    availability_zone_hints: tuple[str, ...]
    subnet_ids: tuple[str, ...]
    stamp: Stamp


@dataclass(frozen=True)
class SubnetInfo:
    id: str
    project_id: str
    network_id: str
    name: str
    description: str
    ip_version: int
    cidr: str
    gateway_ip: str | None
    enable_dhcp: bool
    allocation_pools: tuple[tuple[str, str], ...]
    dns_nameservers: tuple[str, ...]
    host_routes: tuple[tuple[str, str], ...]
    ipv6_ra_mode: str | None
    ipv6_address_mode: str | None
    subnetpool_id: str | None
    stamp: Stamp
    #: the network is external (Neutron's ``subnet-external-network`` extension)
    external: bool


@dataclass(frozen=True)
class FixedIpInfo:
    subnet_id: str
    ip_address: str


@dataclass(frozen=True)
class PortInfo:
    id: str
    project_id: str
    network_id: str
    name: str
    description: str
    mac_address: str
    admin_state_up: bool
    status: str
    device_id: str
    device_owner: str
    fixed_ips: tuple[FixedIpInfo, ...]
    security_group_ids: tuple[str, ...]
    allowed_address_pairs: tuple[tuple[str, str], ...]
    port_security_enabled: bool
    binding: dict[str, Any]
    stamp: Stamp


@dataclass(frozen=True)
class RuleInfo:
    id: str
    group_id: str
    project_id: str
    direction: str
    ethertype: str
    protocol: str | None
    port_range_min: int | None
    port_range_max: int | None
    remote_ip_prefix: str | None
    remote_group_id: str | None
    description: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class SecurityGroupInfo:
    id: str
    project_id: str
    name: str
    description: str
    stateful: bool
    rules: tuple[RuleInfo, ...]
    stamp: Stamp


@dataclass(frozen=True)
class RouterInfo:
    id: str
    project_id: str
    name: str
    description: str
    admin_state_up: bool
    status: str
    gateway_network_id: str | None
    enable_snat: bool
    external_fixed_ips: tuple[FixedIpInfo, ...]
    routes: tuple[tuple[str, str], ...]
    stamp: Stamp


@dataclass(frozen=True)
class FloatingIpInfo:
    id: str
    project_id: str
    description: str
    floating_network_id: str
    floating_ip_address: str
    port_id: str | None
    fixed_ip_address: str | None
    router_id: str | None
    status: str
    stamp: Stamp


@dataclass(frozen=True)
class SubnetPoolInfo:
    id: str
    project_id: str
    name: str
    description: str
    ip_version: int
    prefixes: tuple[str, ...]
    default_prefixlen: int
    min_prefixlen: int
    max_prefixlen: int
    shared: bool
    is_default: bool
    stamp: Stamp
