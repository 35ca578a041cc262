"""State of the sim backend."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    DateTime,
    Index,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from interstack.store.models.base import Base


class SimResource(Base):
    """State of the ``sim`` backend: one row per simulated resource of one region.

    ``status`` moves to ``pending_status`` once ``ready_at`` has passed (evaluated when read);
    ``data`` holds kind-specific fields. Objects are rows too (``parent`` = container, ``name``
    = object name); their bytes are files in the backend's data dir.
    """

    __tablename__ = "sim_resources"
    __table_args__ = (
        UniqueConstraint("region", "kind", "gateway_id"),
        Index("ix_sim_resources_parent", "region", "kind", "parent"),
    )

    ref: Mapped[str] = mapped_column(String(64), primary_key=True)
    region: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))
    gateway_id: Mapped[str | None] = mapped_column(String(64), default=None)
    parent: Mapped[str | None] = mapped_column(String(64), default=None)
    name: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(32))
    pending_status: Mapped[str | None] = mapped_column(String(32), default=None)
    ready_at: Mapped[datetime | None] = mapped_column(DateTime, default=None)
    fault: Mapped[str | None] = mapped_column(Text, default=None)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)
