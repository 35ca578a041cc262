"""Neutron: networks, subnets, ports and their addresses, security groups, routers, floating IPs.

The gateway owns the model: ids, IP address management (``ip_allocations``, one row per address
in use, unique per subnet, so two requests can never hold the same address), MAC addresses and
rules. ``native_ref`` is what the region's backend answered when it realized the resource.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
    select,
)
from sqlalchemy.orm import Mapped, column_property, mapped_column

from interstack.store.models.base import Base


class Network(Base):
    __tablename__ = "networks"
    __table_args__ = (Index("ix_networks_region_project", "region", "project_id"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    region: Mapped[str] = mapped_column(String(64))
    project_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(255), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    admin_state_up: Mapped[bool] = mapped_column(Boolean, default=True)
    shared: Mapped[bool] = mapped_column(Boolean, default=False)
    external: Mapped[bool] = mapped_column(Boolean, default=False)
    mtu: Mapped[int] = mapped_column(Integer, default=1500)
    port_security_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    availability_zone_hints: Mapped[list[Any]] = mapped_column(default=list)
    tags: Mapped[list[Any]] = mapped_column(default=list)
    native_ref: Mapped[str | None] = mapped_column(String(255), default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)


class Subnet(Base):
    __tablename__ = "subnets"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    region: Mapped[str] = mapped_column(String(64))
    network_id: Mapped[str] = mapped_column(ForeignKey("networks.id"), index=True)
    project_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(255), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    ip_version: Mapped[int] = mapped_column(Integer)
    cidr: Mapped[str] = mapped_column(String(64))
    gateway_ip: Mapped[str | None] = mapped_column(String(64), default=None)
    enable_dhcp: Mapped[bool] = mapped_column(Boolean, default=True)
    allocation_pools: Mapped[list[Any]] = mapped_column(default=list)
    dns_nameservers: Mapped[list[Any]] = mapped_column(default=list)
    host_routes: Mapped[list[Any]] = mapped_column(default=list)
    ipv6_ra_mode: Mapped[str | None] = mapped_column(String(32), default=None)
    ipv6_address_mode: Mapped[str | None] = mapped_column(String(32), default=None)
    subnetpool_id: Mapped[str | None] = mapped_column(String(64), default=None)
    tags: Mapped[list[Any]] = mapped_column(default=list)
    native_ref: Mapped[str | None] = mapped_column(String(255), default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)
    #: Neutron's read-only ``router:external`` of a subnet: its network's flag (never stored
    #: twice, so changing the network's flag changes its subnets' at once). Deferred: only a
    #: subnet's view needs it, and loads there ask for it (``undefer``); IPAM, ports and
    #: routers load subnets without the subquery.
    external: Mapped[bool] = column_property(
        select(Network.external).where(Network.id == network_id).scalar_subquery(),
        deferred=True,
    )


class Port(Base):
    __tablename__ = "ports"
    __table_args__ = (
        Index("ix_ports_region_project", "region", "project_id"),
        Index("ix_ports_device", "device_id"),
        UniqueConstraint("network_id", "mac_address"),
    )
    #: its ``deleting`` default is not read back at an insert (the services give it; rows
    #: written as an older schema's, by the migrations' tests, have no such column)
    __mapper_args__ = {"eager_defaults": False}

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    region: Mapped[str] = mapped_column(String(64))
    network_id: Mapped[str] = mapped_column(ForeignKey("networks.id"), index=True)
    project_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(255), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    mac_address: Mapped[str] = mapped_column(String(32))
    admin_state_up: Mapped[bool] = mapped_column(Boolean, default=True)
    status: Mapped[str] = mapped_column(String(16), default="DOWN")
    device_id: Mapped[str] = mapped_column(String(255), default="")
    device_owner: Mapped[str] = mapped_column(String(255), default="")
    port_security_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    allowed_address_pairs: Mapped[list[Any]] = mapped_column(default=list)
    binding: Mapped[dict[str, Any]] = mapped_column(default=dict)
    #: set when the port was created for a server by the compute service (deleted with it)
    created_for_server: Mapped[bool] = mapped_column(Boolean, default=False)
    tags: Mapped[list[Any]] = mapped_column(default=list)
    native_ref: Mapped[str | None] = mapped_column(String(255), default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)
    #: set by its deletion, in the unit of work that checked it may go, until it is gone: no
    #: server, router or floating IP takes it from then on; shown as it was (Neutron deletes a
    #: port in one transaction), and a deletion cut short is finished by deleting it again
    deleting: Mapped[bool] = mapped_column(Boolean, server_default=false())


class IpAllocation(Base):
    """One address in use on one subnet: by a port, or (``port_id`` NULL) by a floating IP."""

    __tablename__ = "ip_allocations"
    __table_args__ = (UniqueConstraint("subnet_id", "ip_address"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    subnet_id: Mapped[str] = mapped_column(ForeignKey("subnets.id"))
    network_id: Mapped[str] = mapped_column(String(64))
    ip_address: Mapped[str] = mapped_column(String(64))
    port_id: Mapped[str | None] = mapped_column(
        ForeignKey("ports.id", ondelete="CASCADE"), default=None, index=True
    )
    floating_ip_id: Mapped[str | None] = mapped_column(String(64), default=None)
    position: Mapped[int] = mapped_column(Integer, default=0)


class SecurityGroup(Base):
    __tablename__ = "security_groups"
    __table_args__ = (
        Index("ix_security_groups_region_project", "region", "project_id"),
        # one default group per project and region: NULL for every other group
        UniqueConstraint("region", "default_for"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    region: Mapped[str] = mapped_column(String(64))
    project_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(255), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    default_for: Mapped[str | None] = mapped_column(String(64), default=None)
    stateful: Mapped[bool] = mapped_column(Boolean, default=True)
    tags: Mapped[list[Any]] = mapped_column(default=list)
    native_ref: Mapped[str | None] = mapped_column(String(255), default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)


class PortSecurityGroup(Base):
    """A port's use of a security group (Neutron's ``securitygroupportbindings``), ``position``
    its place in the port's list. The group's key is not cascaded: the database refuses to
    delete a group a port uses, whatever the deletion's check read before (a port committed
    after it), and the port's deletion takes its uses with it."""

    __tablename__ = "port_security_groups"

    port_id: Mapped[str] = mapped_column(
        ForeignKey("ports.id", ondelete="CASCADE"), primary_key=True
    )
    security_group_id: Mapped[str] = mapped_column(
        ForeignKey("security_groups.id", ondelete="RESTRICT"), primary_key=True, index=True
    )
    position: Mapped[int] = mapped_column(Integer, default=0)


class SecurityGroupRule(Base):
    __tablename__ = "security_group_rules"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    group_id: Mapped[str] = mapped_column(
        ForeignKey("security_groups.id", ondelete="CASCADE"), index=True
    )
    region: Mapped[str] = mapped_column(String(64))
    project_id: Mapped[str] = mapped_column(String(64))
    direction: Mapped[str] = mapped_column(String(16))
    ethertype: Mapped[str] = mapped_column(String(8))
    protocol: Mapped[str | None] = mapped_column(String(40), default=None)
    port_range_min: Mapped[int | None] = mapped_column(Integer, default=None)
    port_range_max: Mapped[int | None] = mapped_column(Integer, default=None)
    remote_ip_prefix: Mapped[str | None] = mapped_column(String(64), default=None)
    remote_group_id: Mapped[str | None] = mapped_column(String(64), default=None)
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)


class Router(Base):
    __tablename__ = "routers"
    __table_args__ = (Index("ix_routers_region_project", "region", "project_id"),)
    #: as :class:`Port`'s: its ``deleting`` default is not read back at an insert
    __mapper_args__ = {"eager_defaults": False}

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    region: Mapped[str] = mapped_column(String(64))
    project_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(255), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    admin_state_up: Mapped[bool] = mapped_column(Boolean, default=True)
    status: Mapped[str] = mapped_column(String(16), default="ACTIVE")
    gateway_network_id: Mapped[str | None] = mapped_column(String(64), default=None)
    enable_snat: Mapped[bool] = mapped_column(Boolean, default=True)
    routes: Mapped[list[Any]] = mapped_column(default=list)
    tags: Mapped[list[Any]] = mapped_column(default=list)
    native_ref: Mapped[str | None] = mapped_column(String(255), default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)
    #: set by its deletion once it checked the router holds nothing, until it is gone: nothing
    #: is given to it from then on; its ``status`` stays what the API shows (Neutron deletes a
    #: router in one transaction), and a deletion cut short is finished by deleting it again
    deleting: Mapped[bool] = mapped_column(Boolean, server_default=false())


class RouterPort(Base):
    """A port a router holds, as Neutron's ``routerports``: its interfaces and its gateway.

    Written only by the router's own operations (add/remove_router_interface, setting or
    clearing its gateway, its deletion); a router's ports are these rows, never the ports whose
    ``device_id``/``device_owner`` name it, which a project may set on a port of its own. A
    row goes with its port or its router (ON DELETE CASCADE; SQLite's foreign keys are on).
    """

    __tablename__ = "router_ports"

    #: a port is held by one router at most
    port_id: Mapped[str] = mapped_column(
        ForeignKey("ports.id", ondelete="CASCADE"), primary_key=True
    )
    router_id: Mapped[str] = mapped_column(ForeignKey("routers.id", ondelete="CASCADE"), index=True)
    #: ``network:router_interface`` or ``network:router_gateway``
    port_type: Mapped[str] = mapped_column(String(255))


class RouterClaimLeftover(Base):
    """A subnet a cloud's router may still route for a port that only named the router (as
    its interface, before ``router_ports``), listed once by revision 0006 for the start-up
    sweep to undo; the row goes once the cloud's router stops routing it, or with its router
    or subnet (ON DELETE CASCADE). Nothing else writes it: no router routes such a subnet now.
    """

    __tablename__ = "router_claim_leftovers"

    router_id: Mapped[str] = mapped_column(
        ForeignKey("routers.id", ondelete="CASCADE"), primary_key=True
    )
    subnet_id: Mapped[str] = mapped_column(
        ForeignKey("subnets.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class FloatingIp(Base):
    __tablename__ = "floating_ips"
    __table_args__ = (Index("ix_floating_ips_region_project", "region", "project_id"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    region: Mapped[str] = mapped_column(String(64))
    project_id: Mapped[str] = mapped_column(String(64))
    description: Mapped[str] = mapped_column(Text, default="")
    floating_network_id: Mapped[str] = mapped_column(ForeignKey("networks.id"))
    floating_subnet_id: Mapped[str] = mapped_column(String(64))
    floating_ip_address: Mapped[str] = mapped_column(String(64))
    port_id: Mapped[str | None] = mapped_column(String(64), default=None, index=True)
    fixed_ip_address: Mapped[str | None] = mapped_column(String(64), default=None)
    router_id: Mapped[str | None] = mapped_column(String(64), default=None)
    status: Mapped[str] = mapped_column(String(16), default="DOWN")
    tags: Mapped[list[Any]] = mapped_column(default=list)
    native_ref: Mapped[str | None] = mapped_column(String(255), default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)


class SubnetPool(Base):
    """A set of prefixes that subnets are carved from by prefix length (``subnet_allocation``)."""

    __tablename__ = "subnet_pools"
    __table_args__ = (Index("ix_subnet_pools_region_project", "region", "project_id"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    region: Mapped[str] = mapped_column(String(64))
    project_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(255), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    ip_version: Mapped[int] = mapped_column(Integer)
    prefixes: Mapped[list[Any]] = mapped_column(default=list)
    default_prefixlen: Mapped[int] = mapped_column(Integer)
    min_prefixlen: Mapped[int] = mapped_column(Integer)
    max_prefixlen: Mapped[int] = mapped_column(Integer)
    shared: Mapped[bool] = mapped_column(Boolean, default=False)
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    tags: Mapped[list[Any]] = mapped_column(default=list)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)


class NetworkQuota(Base):
    """A project's override of one default network quota in one region."""

    __tablename__ = "network_quotas"

    region: Mapped[str] = mapped_column(String(64), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    resource: Mapped[str] = mapped_column(String(64), primary_key=True)
    hard_limit: Mapped[int] = mapped_column(Integer)
