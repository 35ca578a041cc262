"""Nova: flavors, key pairs, quotas, servers, instance actions, server groups."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, DateTime, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from interstack.store.models.base import Base


class Flavor(Base):
    __tablename__ = "compute_flavors"

    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    vcpus: Mapped[int] = mapped_column(Integer)
    ram_mb: Mapped[int] = mapped_column(Integer)
    disk_gb: Mapped[int] = mapped_column(Integer)
    ephemeral_gb: Mapped[int] = mapped_column(Integer, default=0)
    swap_mb: Mapped[int] = mapped_column(Integer, default=0)
    rxtx_factor: Mapped[str] = mapped_column(String(32), default="1.0")
    is_public: Mapped[bool] = mapped_column(Boolean, default=True)
    description: Mapped[str | None] = mapped_column(Text, default=None)
    extra_specs: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime)


class FlavorAccess(Base):
    __tablename__ = "compute_flavor_access"

    flavor_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(64), primary_key=True)


class Keypair(Base):
    __tablename__ = "compute_keypairs"

    user_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    type: Mapped[str] = mapped_column(String(16))
    public_key: Mapped[str] = mapped_column(Text)
    fingerprint: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(DateTime)


class QuotaLimit(Base):
    """A project's override of one default compute quota."""

    __tablename__ = "compute_quotas"

    project_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    resource: Mapped[str] = mapped_column(String(64), primary_key=True)
    hard_limit: Mapped[int] = mapped_column(Integer)


class Server(Base):
    """A server and its Nova state; ``services/compute/state.py`` owns the state machine."""

    __tablename__ = "compute_servers"
    __table_args__ = (Index("ix_compute_servers_project", "project_id", "region"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    region: Mapped[str] = mapped_column(String(64))
    project_id: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text, default=None)
    flavor_id: Mapped[str] = mapped_column(String(255))
    #: the flavor as it was at boot (Nova embeds this from 2.47 on)
    flavor: Mapped[dict[str, Any]] = mapped_column(default=dict)
    image_id: Mapped[str | None] = mapped_column(String(64), default=None)
    image_ref: Mapped[str | None] = mapped_column(String(255), default=None)
    key_name: Mapped[str | None] = mapped_column(String(255), default=None)
    key_data: Mapped[str | None] = mapped_column(Text, default=None)
    user_data: Mapped[str | None] = mapped_column(Text, default=None)
    metadata_items: Mapped[dict[str, Any]] = mapped_column(default=dict)
    tags: Mapped[list[Any]] = mapped_column(default=list)
    security_groups: Mapped[list[Any]] = mapped_column(default=list)
    requested_networks: Mapped[dict[str, Any]] = mapped_column(default=dict)
    port_refs: Mapped[list[Any]] = mapped_column(default=list)
    #: its ephemeral and swap disks (``LocalDisk`` fields each), as the boot planned them
    local_disks: Mapped[list[Any]] = mapped_column(default=list)
    #: the device its root is at (Nova's ``root_device_name``); None for a server made before
    #: it was kept (``/dev/vda``)
    root_device_name: Mapped[str | None] = mapped_column(String(255), default=None)
    vm_state: Mapped[str] = mapped_column(String(32))
    task_state: Mapped[str | None] = mapped_column(String(32), default=None)
    power_state: Mapped[int] = mapped_column(Integer, default=0)
    locked_by: Mapped[str | None] = mapped_column(String(16), default=None)
    locked_reason: Mapped[str | None] = mapped_column(Text, default=None)
    access_ipv4: Mapped[str] = mapped_column(String(64), default="")
    access_ipv6: Mapped[str] = mapped_column(String(64), default="")
    availability_zone: Mapped[str] = mapped_column(String(255))
    config_drive: Mapped[str] = mapped_column(String(16), default="")
    disk_config: Mapped[str] = mapped_column(String(16), default="MANUAL")
    reservation_id: Mapped[str] = mapped_column(String(64))
    launch_index: Mapped[int] = mapped_column(Integer, default=0)
    native_ref: Mapped[str | None] = mapped_column(String(255), default=None)
    fault: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)
    launched_at: Mapped[datetime | None] = mapped_column(DateTime, default=None)
    #: set when the delete finished: the row stays for admins' ``deleted`` listing and actions
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime, default=None)
    #: the flavor before a resize, until it is confirmed or reverted
    old_flavor: Mapped[dict[str, Any] | None] = mapped_column(default=None)


class InstanceAction(Base):
    """One action on a server (``os-instance-actions``), its events in ``events``."""

    __tablename__ = "compute_instance_actions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    server_id: Mapped[str] = mapped_column(String(64), index=True)
    project_id: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[str] = mapped_column(String(64))
    request_id: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    message: Mapped[str | None] = mapped_column(Text, default=None)
    events: Mapped[list[Any]] = mapped_column(default=list)
    start_time: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)


class ServerGroup(Base):
    """A server group of one region; ``members`` are server ids."""

    __tablename__ = "compute_server_groups"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    region: Mapped[str] = mapped_column(String(64))
    project_id: Mapped[str] = mapped_column(String(64), index=True)
    user_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(255))
    policy: Mapped[str] = mapped_column(String(64))
    rules: Mapped[dict[str, Any]] = mapped_column(default=dict)
    members: Mapped[list[Any]] = mapped_column(default=list)
    created_at: Mapped[datetime] = mapped_column(DateTime)


class ServerPassword(Base):
    """The password a server's guest posted to the metadata service (encrypted by the guest
    with the keypair's public key, as Nova's ``os-server-password`` hands it out)."""

    __tablename__ = "compute_server_passwords"

    server_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    password: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime)
