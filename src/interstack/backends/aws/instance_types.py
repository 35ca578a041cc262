"""Flavors onto EC2 instance types: the smallest configured type that is not smaller.

The sizes are discovered once per backend with ``describe_instance_types`` for the configured
list (real vCPU and memory, never a static table); a flavor's disk becomes the root EBS volume's
size, so it never limits the choice.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from interstack.backends.aws.client import aws_call
from interstack.backends.contract import FlavorSpec
from interstack.errors import BadRequest


@dataclass(frozen=True, order=True)
class InstanceType:
    ram_mb: int
    vcpus: int
    name: str


class InstanceTypes:
    """The configured instance types of one region, looked up on first use."""

    def __init__(self, ec2: Any, region: str, names: tuple[str, ...]) -> None:
        self._ec2 = ec2
        self._region = region
        self._names = names
        self._lock = threading.Lock()
        self._known: list[InstanceType] | None = None

    def all(self) -> list[InstanceType]:
        """Smallest first (memory, then vCPUs)."""
        with self._lock:
            if self._known is None:
                found: list[InstanceType] = []
                with aws_call("describe_instance_types"):
                    pages = self._ec2.get_paginator("describe_instance_types").paginate(
                        InstanceTypes=list(self._names)
                    )
                    for page in pages:
                        found += [
                            InstanceType(
                                ram_mb=int(t["MemoryInfo"]["SizeInMiB"]),
                                vcpus=int(t["VCpuInfo"]["DefaultVCpus"]),
                                name=str(t["InstanceType"]),
                            )
                            for t in page.get("InstanceTypes", [])
                        ]
                self._known = sorted(found)
            return list(self._known)

    def for_flavor(self, flavor: FlavorSpec) -> InstanceType:
        """The smallest type with at least the flavor's vCPUs and memory."""
        for candidate in self.all():
            if candidate.vcpus >= flavor.vcpus and candidate.ram_mb >= flavor.ram_mb:
                return candidate
        raise BadRequest(
            f"region {self._region}: no configured instance type ({', '.join(self._names)}) "
            f"has {flavor.vcpus} vCPUs and {flavor.ram_mb} MiB of memory"
        )
