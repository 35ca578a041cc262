"""One instance as the metadata service sees it: frozen records with neutral names.

Both formats (OpenStack and EC2) and the config drive are rendered from these; nothing here
knows a wire format.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class SubnetFacts:
    id: str
    cidr: str
    ip_version: int
    gateway_ip: str | None
    dhcp: bool
    dns_nameservers: tuple[str, ...]
    #: ``(destination CIDR, next hop)`` pairs
    host_routes: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class FixedAddress:
    address: str
    subnet: SubnetFacts


@dataclass(frozen=True)
class InstancePort:
    id: str
    network_id: str
    mac_address: str
    mtu: int
    fixed: tuple[FixedAddress, ...]
    floating: tuple[str, ...]
    #: the device role tag given at boot (``networks[].tag``) or interface attach
    tag: str | None = None


@dataclass(frozen=True)
class InstanceDisk:
    """An attached volume with a device role tag (only tagged disks are shown to the guest)."""

    volume_id: str
    #: the device the volume was attached at (``/dev/vdb``), if known
    path: str | None
    tag: str


@dataclass(frozen=True)
class InstanceKey:
    name: str
    type: str
    public_key: str


@dataclass(frozen=True)
class Instance:
    """A server with everything its guest may learn about itself."""

    id: str
    name: str
    hostname: str
    region: str
    project_id: str
    availability_zone: str
    metadata: Mapping[str, str]
    launch_index: int
    reservation_id: str
    image_id: str | None
    flavor_name: str
    #: decoded, as the user sent it; None when the server has none
    user_data: bytes | None
    key: InstanceKey | None
    security_groups: tuple[str, ...]
    ports: tuple[InstancePort, ...]
    created_at: datetime
    disks: tuple[InstanceDisk, ...] = ()
    #: its ephemeral and swap disks: (Nova's virtual name, ``ephemeral0`` or ``swap``, and
    #: the device the guest sees it at, ``/dev/vdb``)
    local_disks: tuple[tuple[str, str], ...] = ()
    #: the device its root is at (Nova's ``root_device_name``)
    root_device: str = "/dev/vda"
    #: the address the request came from (the instance's fixed IP on that network)
    requester: str = ""
