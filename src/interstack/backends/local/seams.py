"""The seams between the compute driver and the other local drivers (network, block storage).

The compute driver asks through these protocols so that it depends on no other driver's module;
the backend wires the real ones in (:mod:`.backend`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from interstack.backends.contract import BootVolume, NativeRef
from interstack.backends.local.bundle import BlockDevice


class ServerPorts(Protocol):
    """The networking seam: realized ports plugged into a server's network namespace.

    The local backend's network driver provides it. ``plug_port`` is called on every boot for
    each port in ``ServerSpec.ports`` in order (``eth0``, ``eth1``...), so it must be idempotent.
    ``unplug_port`` is called for each of them when the server is deleted, before its namespace
    goes: the port's host end is gone once the call returns (deleting a namespace removes its
    veths only when the kernel gets round to it), so Neutron can delete the port at once.
    """

    def plug_port(self, port: NativeRef, netns_path: Path, ifname: str) -> None: ...

    def serves_metadata(self, port: NativeRef) -> bool:
        """Whether the instance reaches the metadata service at 169.254.169.254 this way."""
        ...

    def dns_servers(self, port: NativeRef) -> list[str]:
        """The resolvers the instance is told about through this port (what DHCP would say)."""
        ...

    def unplug_port(self, port: NativeRef) -> None: ...


class VolumeDevices(Protocol):
    """The block storage seam (``.volumes.LocalBlockStorage``): the attached volumes' devices of
    a server, for its bundle on every boot; their release when the server is deleted; a new
    server's boot volumes, and its root volume mounted as its root filesystem."""

    def boot_devices(self, server: NativeRef) -> list[BlockDevice]: ...

    def server_deleted(self, server: NativeRef) -> None: ...

    def attach_at_boot(
        self, server: NativeRef, root: BootVolume | None, volumes: Sequence[BootVolume]
    ) -> None: ...

    def mount_root(self, server: NativeRef, rootfs: Path) -> None: ...
