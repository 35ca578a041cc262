"""Cinder: volumes, snapshots, volume types, attachments, quotas."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, DateTime, Index, Integer, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column

from interstack.store.models.base import Base


class Volume(Base):
    """A volume and its Cinder state; ``services/volume/state.py`` owns the transitions."""

    __tablename__ = "volumes"
    __table_args__ = (Index("ix_volumes_project", "project_id", "region"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    region: Mapped[str] = mapped_column(String(64))
    project_id: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str | None] = mapped_column(String(255), default=None)
    description: Mapped[str | None] = mapped_column(Text, default=None)
    size: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(32))
    volume_type_id: Mapped[str | None] = mapped_column(String(36), default=None)
    availability_zone: Mapped[str] = mapped_column(String(255))
    bootable: Mapped[bool] = mapped_column(Boolean, default=False)
    readonly: Mapped[bool] = mapped_column(Boolean, default=False)
    multiattach: Mapped[bool] = mapped_column(Boolean, default=False)
    metadata_items: Mapped[dict[str, Any]] = mapped_column(default=dict)
    #: Cinder's admin metadata; the keys it shows users (``readonly`` once the flag was set)
    #: appear in the volume's ``metadata``, never in its ``/metadata`` sub-resource
    admin_metadata: Mapped[dict[str, Any]] = mapped_column(default=dict, server_default="{}")
    #: the properties of the image it was created from (Cinder's ``volume_image_metadata``)
    image_metadata: Mapped[dict[str, Any]] = mapped_column(default=dict)
    snapshot_id: Mapped[str | None] = mapped_column(String(36), default=None)
    source_volid: Mapped[str | None] = mapped_column(String(36), default=None)
    native_ref: Mapped[str | None] = mapped_column(String(255), default=None)
    #: why the volume is in ``error`` (logged and kept; Cinder shows it as a user message)
    fault: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)


class VolumeSnapshot(Base):
    __tablename__ = "volume_snapshots"
    __table_args__ = (Index("ix_volume_snapshots_volume", "volume_id"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    region: Mapped[str] = mapped_column(String(64))
    project_id: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[str] = mapped_column(String(64))
    volume_id: Mapped[str] = mapped_column(String(36))
    name: Mapped[str | None] = mapped_column(String(255), default=None)
    description: Mapped[str | None] = mapped_column(Text, default=None)
    size: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(32))
    metadata_items: Mapped[dict[str, Any]] = mapped_column(default=dict)
    native_ref: Mapped[str | None] = mapped_column(String(255), default=None)
    fault: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)


class VolumeType(Base):
    """A volume type; one for the whole gateway, as flavors are."""

    __tablename__ = "volume_types"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    description: Mapped[str | None] = mapped_column(Text, default=None)
    is_public: Mapped[bool] = mapped_column(Boolean, default=True)
    extra_specs: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime)


class VolumeAttachment(Base):
    """One attachment of a volume to a server (Cinder's attachments API and Nova's)."""

    __tablename__ = "volume_attachments"
    __table_args__ = (Index("ix_volume_attachments_volume", "volume_id"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    region: Mapped[str] = mapped_column(String(64))
    project_id: Mapped[str] = mapped_column(String(64))
    volume_id: Mapped[str] = mapped_column(String(36))
    server_id: Mapped[str | None] = mapped_column(String(64), default=None)
    mountpoint: Mapped[str | None] = mapped_column(String(255), default=None)
    attach_mode: Mapped[str] = mapped_column(String(8), default="rw")
    status: Mapped[str] = mapped_column(String(32))
    connector: Mapped[dict[str, Any]] = mapped_column(default=dict)
    #: the volume is deleted when its server is (Nova's delete_on_termination)
    delete_on_termination: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false()
    )
    #: the device role tag given at boot or attach, which the guest's metadata shows
    tag: Mapped[str | None] = mapped_column(String(60), default=None)
    #: Nova's boot index of the volume on its server: 0 for the root disk the server boots
    #: from, None for a volume attached to it as a data disk
    boot_index: Mapped[int | None] = mapped_column(Integer, default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)


class VolumeQuota(Base):
    """A project's override of one default block storage quota."""

    __tablename__ = "volume_quotas"

    project_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    resource: Mapped[str] = mapped_column(String(255), primary_key=True)
    hard_limit: Mapped[int] = mapped_column(Integer)


class VolumeMessage(Base):
    """A user message: why an operation that was answered 2xx failed later (Cinder's
    ``messages``). Its text is not stored: ``action_id`` and ``detail_id`` name it, as in
    Cinder, so a reworded text reaches the messages already written."""

    __tablename__ = "volume_messages"
    __table_args__ = (
        Index("ix_volume_messages_project", "project_id", "region"),
        Index("ix_volume_messages_expires", "expires_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    region: Mapped[str] = mapped_column(String(64))
    project_id: Mapped[str] = mapped_column(String(64))
    #: the request that started the operation (``x-openstack-request-id``), when known
    request_id: Mapped[str | None] = mapped_column(String(255), default=None)
    resource_type: Mapped[str] = mapped_column(String(255))
    resource_uuid: Mapped[str | None] = mapped_column(String(36), default=None)
    event_id: Mapped[str] = mapped_column(String(255))
    action_id: Mapped[str] = mapped_column(String(10))
    detail_id: Mapped[str] = mapped_column(String(10))
    message_level: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    #: after this the message is not shown and is purged (Cinder's ``message_ttl``)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
