"""The region's EC2 instance types: its flavors, with their real figures.

The sizes are discovered once per backend with ``describe_instance_types`` for the configured
list (real vCPUs and memory, never a static table). A server boots exactly the type its flavor
names; a flavor that names none of them is refused, naming the region's flavors.
"""

from __future__ import annotations

import threading
from typing import Any

from interstack.backends.aws.client import aws_call
from interstack.backends.contract import FlavorSpec, NativeSize
from interstack.errors import BadRequest


def _size(found: dict[str, Any]) -> NativeSize:
    """One ``describe_instance_types`` entry as a flavor: the root disk is the AMI's or the
    volume's (disk 0), instance storage, where the type has it, is told in the description."""
    name = str(found["InstanceType"])
    storage = found.get("InstanceStorageInfo") or {}
    local = int(storage.get("TotalSizeInGB", 0)) if found.get("InstanceStorageSupported") else 0
    kept = f"{local} GB of instance store (not a Nova disk)" if local else "EBS only"
    return NativeSize(
        name=name,
        vcpus=int(found["VCpuInfo"]["DefaultVCpus"]),
        ram_mb=int(found["MemoryInfo"]["SizeInMiB"]),
        disk_gb=0,
        description=f"EC2 instance type {name}: {kept}; the root disk is the image's EBS volume",
    )


class InstanceTypes:
    """The configured instance types of one region, looked up on first use."""

    def __init__(self, ec2: Any, region: str, names: tuple[str, ...]) -> None:
        self._ec2 = ec2
        self._region = region
        self._names = names
        self._lock = threading.Lock()
        self._known: tuple[NativeSize, ...] | None = None

    def all(self) -> tuple[NativeSize, ...]:
        """In the configured list's order."""
        with self._lock:
            if self._known is None:
                found: dict[str, NativeSize] = {}
                with aws_call("describe_instance_types"):
                    pages = self._ec2.get_paginator("describe_instance_types").paginate(
                        InstanceTypes=list(self._names)
                    )
                    for page in pages:
                        for entry in page.get("InstanceTypes", []):
                            size = _size(entry)
                            found[size.name] = size
                self._known = tuple(found[n] for n in self._names if n in found)
            return self._known

    def for_flavor(self, flavor: FlavorSpec) -> NativeSize:
        """The instance type the flavor names. A server booted before the region's flavors
        were its types keeps a shared flavor (m1.*) that names none: its rebuild or resize
        revert runs on the type it was booted on, the smallest holding its vCPUs and memory
        (the API refuses such a flavor for a new boot or resize). A 400 naming the region's
        flavors if none holds it."""
        sizes = self.all()
        for candidate in sizes:
            if candidate.name == flavor.name:
                return candidate
        holding = [s for s in sizes if s.vcpus >= flavor.vcpus and s.ram_mb >= flavor.ram_mb]
        if holding:
            return min(holding, key=lambda s: (s.ram_mb, s.vcpus, s.name))
        raise BadRequest(
            f"region {self._region}: flavor {flavor.name or '(unnamed)'} is not one of its "
            f"instance types; its flavors are {', '.join(s.name for s in sizes)}"
        )
