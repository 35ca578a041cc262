"""Glance: images of each region, their tags and their members (projects it is shared with)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from interstack.store.models.base import Base


class Image(Base):
    """One image of one region. ``native_ref`` names the data in the region's backend once
    uploaded; ``properties`` holds the user's custom (string) properties."""

    __tablename__ = "images"
    __table_args__ = (Index("ix_images_region_owner", "region", "owner"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    region: Mapped[str] = mapped_column(String(64))
    name: Mapped[str | None] = mapped_column(String(255), default=None)
    owner: Mapped[str | None] = mapped_column(String(64), default=None)
    status: Mapped[str] = mapped_column(String(30))
    visibility: Mapped[str] = mapped_column(String(16))
    protected: Mapped[bool] = mapped_column(Boolean, default=False)
    os_hidden: Mapped[bool] = mapped_column(Boolean, default=False)
    container_format: Mapped[str | None] = mapped_column(String(32), default=None)
    disk_format: Mapped[str | None] = mapped_column(String(32), default=None)
    size: Mapped[int | None] = mapped_column(BigInteger, default=None)
    virtual_size: Mapped[int | None] = mapped_column(BigInteger, default=None)
    checksum: Mapped[str | None] = mapped_column(String(32), default=None)
    os_hash_algo: Mapped[str | None] = mapped_column(String(64), default=None)
    os_hash_value: Mapped[str | None] = mapped_column(String(128), default=None)
    min_disk: Mapped[int] = mapped_column(Integer, default=0)
    min_ram: Mapped[int] = mapped_column(Integer, default=0)
    properties: Mapped[dict[str, Any]] = mapped_column(default=dict)
    native_ref: Mapped[str | None] = mapped_column(String(255), default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)


class ImageTag(Base):
    __tablename__ = "image_tags"
    __table_args__ = (UniqueConstraint("image_id", "value"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    image_id: Mapped[str] = mapped_column(ForeignKey("images.id", ondelete="CASCADE"))
    value: Mapped[str] = mapped_column(String(255))


class ImageMember(Base):
    """A project an image is shared with, and whether that project accepted it."""

    __tablename__ = "image_members"
    __table_args__ = (
        UniqueConstraint("image_id", "member_id"),
        Index("ix_image_members_member", "member_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    image_id: Mapped[str] = mapped_column(ForeignKey("images.id", ondelete="CASCADE"))
    member_id: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)
