"""What every part of object storage shares: the store, the regions' drivers, limits, clock."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from interstack.backends.contract import ObjectStoreDriver
from interstack.errors import BadRequest
from interstack.services.object.model import Limits
from interstack.services.regions import Regions
from interstack.store import Database

#: account and container metadata keys Swift treats specially
QUOTA_BYTES = "quota-bytes"
QUOTA_COUNT = "quota-count"
TEMP_URL_KEYS = ("temp-url-key", "temp-url-key-2")


@dataclass
class Storage:
    db: Database
    regions: Regions
    limits: Limits = field(default_factory=Limits)
    clock: Callable[[], float] = time.time

    def driver(self, region: str) -> ObjectStoreDriver:
        return self.regions.require(region, "object_store").object_store

    def now(self) -> datetime:
        """The clock as the store keeps times (naive UTC)."""
        return datetime.fromtimestamp(self.clock(), UTC).replace(tzinfo=None)


def check_meta(limits: Limits, meta: dict[str, str], kind: str) -> None:
    """Swift's metadata constraints, each a 400 naming what is over."""
    if len(meta) > limits.max_meta_count:
        raise BadRequest(f"Too many metadata items; max {limits.max_meta_count}.")
    total = 0
    for key, value in meta.items():
        if not key:
            raise BadRequest("Metadata name cannot be empty.")
        if len(key) > limits.max_meta_name_length:
            raise BadRequest(
                f"Metadata name too long: X-{kind}-Meta-{key[:32]}...; "
                f"max {limits.max_meta_name_length}."
            )
        if len(value) > limits.max_meta_value_length:
            raise BadRequest(
                f"Metadata value longer than {limits.max_meta_value_length}: X-{kind}-Meta-{key}."
            )
        total += len(key) + len(value)
    if total > limits.max_meta_overall_size:
        raise BadRequest(f"Total metadata too large; max {limits.max_meta_overall_size}.")


def quota_value(meta: dict[str, str], key: str, kind: str) -> int | None:
    """A quota from metadata as an integer (None when unset); 400 if it is not one."""
    raw = meta.get(key)
    if raw is None or raw == "":
        return None
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(f"X-{kind}-Meta-{key.title()} must be an integer.") from None
    if value < 0:
        raise BadRequest(f"X-{kind}-Meta-{key.title()} must not be negative.")
    return value
