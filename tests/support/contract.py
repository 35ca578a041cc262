"""What the tests that drive a backend through its contract share: gateway ids, the smallest
flavor, and the wait for a backend's server to reach a status."""

from __future__ import annotations

import uuid

from interstack.backends.contract import Backend, FlavorSpec, NativeRef, ServerInfo, ServerStatus
from tests.support.waiting import eventually

TINY = FlavorSpec(vcpus=1, ram_mb=512, disk_gb=1)


def sized(backend: Backend, flavor: FlavorSpec = TINY) -> FlavorSpec:
    """``flavor`` as the backend boots it: where its flavors are its own sizes
    (``native_flavors``), the smallest of them holding the flavor's vCPUs and memory, by name."""
    if not backend.capabilities.native_flavors:
        return flavor
    holding = [
        s
        for s in backend.compute.native_sizes()
        if s.vcpus >= flavor.vcpus and s.ram_mb >= flavor.ram_mb
    ]
    size = min(holding, key=lambda s: (s.ram_mb, s.vcpus))
    return FlavorSpec(size.vcpus, size.ram_mb, flavor.disk_gb, name=size.name)


def gid() -> str:
    """A new gateway id, as the store would give a resource."""
    return str(uuid.uuid4())


def server_settled(
    backend: Backend, ref: NativeRef, status: ServerStatus, what: str | None = None
) -> ServerInfo:
    """The backend's server once it shows ``status``; ``what`` names the wait in a failure."""
    return eventually(
        lambda: backend.compute.get_server(ref),
        lambda s: s.status is status,
        what or f"the server to be {status}",
    )
