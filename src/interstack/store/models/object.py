"""Swift: what the gateway owns about accounts, containers and objects (their bytes live in
the region's backend). Names sort byte-wise on every database, as Swift lists them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from interstack.store.models.base import Base


def swift_name(length: int) -> String:
    """A name column compared byte-wise (PostgreSQL's "C" collation; SQLite's default)."""
    return String(length).with_variant(String(length, collation="C"), "postgresql")


class ObjectAccount(Base):
    """An account's metadata (``X-Account-Meta-*``: temp URL keys, quota), made on first write."""

    __tablename__ = "object_accounts"
    __table_args__ = (UniqueConstraint("region", "project_id"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    region: Mapped[str] = mapped_column(String(64))
    project_id: Mapped[str] = mapped_column(String(64))
    meta: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)


class ObjectContainer(Base):
    """A container of one account; ``native_ref`` is the backend's container."""

    __tablename__ = "object_containers"
    __table_args__ = (UniqueConstraint("region", "project_id", "name"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    region: Mapped[str] = mapped_column(String(64))
    project_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(swift_name(256))
    native_ref: Mapped[str] = mapped_column(String(255))
    meta: Mapped[dict[str, Any]] = mapped_column(default=dict)
    read_acl: Mapped[str | None] = mapped_column(Text, default=None)
    write_acl: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)
    #: versioned writes: the container older versions go to, and ``stack``
    #: (``X-Versions-Location``) or ``history`` (``X-History-Location``)
    versions_location: Mapped[str | None] = mapped_column(swift_name(256), default=None)
    versions_mode: Mapped[str | None] = mapped_column(String(16), default=None)


class StoredObject(Base):
    """One visible object. ``native_name`` is the backend object holding its bytes; each upload
    writes a new one and switches this row to it, so a failed upload is never visible.

    ``large`` is ``dlo`` (``manifest`` holds ``container/prefix``) or ``slo`` (the backend
    object holds the segment list) for large objects, None for plain ones.
    """

    __tablename__ = "objects"
    __table_args__ = (
        UniqueConstraint("container_id", "name"),
        Index("ix_objects_delete_at", "delete_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    container_id: Mapped[str] = mapped_column(
        ForeignKey("object_containers.id", ondelete="CASCADE")
    )
    name: Mapped[str] = mapped_column(swift_name(1024))
    native_name: Mapped[str] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(BigInteger)
    etag: Mapped[str] = mapped_column(String(64))
    content_type: Mapped[str] = mapped_column(String(256))
    meta: Mapped[dict[str, Any]] = mapped_column(default=dict)
    #: other headers Swift keeps with an object (Content-Disposition, Content-Encoding)
    headers: Mapped[dict[str, Any]] = mapped_column(default=dict)
    large: Mapped[str | None] = mapped_column(String(8), default=None)
    manifest: Mapped[str | None] = mapped_column(String(1280), default=None)
    delete_at: Mapped[int | None] = mapped_column(BigInteger, default=None)
    modified_at: Mapped[datetime] = mapped_column(DateTime)
