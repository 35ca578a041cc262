"""Settings of the local backend, from a region's ``settings:`` mapping in the config file."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from interstack.backends.local import console
from interstack.backends.local.network.driver import DEFAULT_EXTERNAL_CIDR
from interstack.backends.local.network.external import DEFAULT_EGRESS
from interstack.config import backend_settings, external_cidr


class LocalSettings(BaseModel):
    """Every key is optional::

    settings:
      image_cache_dir: /var/cache/interstack/images   # built images (default: <data dir>/images)
      apt_sources: /etc/apt/sources.list.d/debian.sources  # what the image build installs from
      pids_limit: 1024                                # processes per instance
      stop_timeout_seconds: 10                        # a soft stop or reboot, then SIGKILL
      external_cidr: 172.24.4.0/24                    # floating IPs, reachable from the host
      console_log_max_bytes: 4194304                  # an instance's console log is kept below
      egress_cidrs: [0.0.0.0/0]                       # where instances' NATed traffic may go
      network_lock_wait_seconds: 60                   # wait for another process's networking
      disk_allocation_ratio: 1.0                      # servers' disks per byte of the data dir
      max_over_subscription_ratio: 20.0               # volumes' sizes per byte of the data dir
      disk_capacity_gb: 100                           # the most of the data dir's file system used
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: where built images (``debian-12``) are kept; several regions or test runs may share it
    image_cache_dir: Path | None = None
    #: an apt sources file for the image build; the host's own when unset (else the default
    #: archive of the build tool)
    apt_sources: Path | None = None
    pids_limit: int = Field(default=1024, gt=0)
    stop_timeout_seconds: float = Field(default=10.0, ge=0)
    #: boot jobs running at once (image preparation and instance start)
    boot_workers: int = Field(default=4, gt=0)
    #: the external network: the host's address on it, routers' gateways and floating IPs
    external_cidr: str = DEFAULT_EXTERNAL_CIDR
    #: where instances' traffic may go through the host's NAT (IPv4 CIDRs); everything by
    #: default. Loopback, link-local (a cloud's metadata service), multicast and reserved ranges
    #: stay out of reach whatever this says, and so do the host's own addresses.
    egress_cidrs: tuple[str, ...] = DEFAULT_EGRESS
    #: an instance's console log is trimmed to its newest half once it passes this size
    console_log_max_bytes: int = Field(default=console.DEFAULT_MAX_BYTES, ge=64 * 1024)
    #: how long a starting backend waits for another process (another gateway, a test run in
    #: another checkout) to let go of the host's networking before it refuses to start
    network_lock_wait_seconds: float = Field(default=60.0, ge=0)
    #: how far servers' disks (root layers at their flavor's size, ephemeral and swap) and
    #: volumes together may be promised beyond the data dir file system's size when a server
    #: is placed: Nova's ``disk_allocation_ratio`` and its default, no overcommit
    #: (:mod:`.hostdisk`)
    disk_allocation_ratio: float = Field(default=1.0, gt=0)
    #: the same when a volume is placed, and how far beyond the file system's free space one
    #: volume may be: Cinder's ``max_over_subscription_ratio`` for thin volumes (these are
    #: sparse files) and its default
    max_over_subscription_ratio: float = Field(default=20.0, gt=0)
    #: the most of the data dir's file system the ratios count on (its size, and its free
    #: space, taken as no more than this), for a file system the region shares with other
    #: work; the whole of it when unset
    disk_capacity_gb: int | None = Field(default=None, gt=0)

    @field_validator("external_cidr")
    @classmethod
    def _ipv4_network(cls, value: str) -> str:
        return external_cidr(value, ipv4_only=True)

    @field_validator("egress_cidrs")
    @classmethod
    def _ipv4_networks(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        found = []
        for cidr in value:
            try:
                found.append(str(ipaddress.IPv4Network(cidr, strict=False)))
            except ValueError as exc:
                raise ValueError(f"{cidr!r} is not an IPv4 network such as 192.0.2.0/24") from exc
        return tuple(found)

    @classmethod
    def parse(cls, region: str, raw: Mapping[str, Any]) -> LocalSettings:
        return backend_settings(cls, "local", region, raw)


def image_cache_for(data_dir: Path, raw: Mapping[str, Any], region: str = "") -> Path:
    """Where a local region with data dir ``data_dir`` and ``settings`` keeps built images."""
    settings = LocalSettings.parse(region, raw)
    return settings.image_cache_dir or data_dir / "images" / "built"
