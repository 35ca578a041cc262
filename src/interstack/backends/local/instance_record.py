"""What the local backend keeps of an instance: its record (``record.json`` in its directory,
:class:`.instances.Instance`), the server it is (its spec, flavor, ports, user data) and the
:class:`Phase` it is in, persisted so that a restarted gateway resumes where it was; and its
ref, named from the server's gateway id."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from interstack.backends.contract import FlavorSpec, LocalDisk, NativeRef, ServerSpec

REF_PREFIX = "ls-"


class Phase(StrEnum):
    """Where the backend is with an instance; persisted, so a restarted gateway resumes."""

    BUILDING = "building"  # preparing the image and the disk, not started yet
    STARTING = "starting"  # a start from stopped, not started yet
    REBOOTING = "rebooting"  # stopping to start again
    BOOTING = "booting"  # runc started it; ACTIVE once the init marks it up
    ACTIVE = "active"
    STOPPING = "stopping"
    STOPPED = "stopped"
    PAUSED = "paused"
    SUSPENDED = "suspended"
    ERROR = "error"


def ref_for(gateway_id: str) -> NativeRef:
    return NativeRef(f"{REF_PREFIX}{gateway_id}")


@dataclass(frozen=True)
class InstanceRecord:
    ref: str
    gateway_id: str
    name: str
    project_id: str
    vcpus: int
    ram_mb: int
    disk_gb: int
    image: str | None
    ports: tuple[str, ...]
    public_key: str | None
    user_data_b64: str | None
    phase: Phase
    #: the state reported while the instance boots (BUILDING, STOPPED for a start, REBOOTING)
    booting_as: Phase = Phase.BUILDING
    fault: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    #: the volume the instance boots from (mounted as its root), instead of ``image``
    root_volume: str | None = None
    #: a STOPPED instance whose PID 1 died without being asked to stop (:class:`Ending`)
    crashed: bool = False
    #: a STOPPED instance whose guest ended during a boot, before it was up: how, for a person
    boot_ended: str | None = None
    #: its ephemeral and swap disks (:mod:`.localdisks`)
    local_disks: tuple[LocalDisk, ...] = ()
    #: where the guest sees its root disk (``ServerSpec.root_device``; older records: vda)
    root_device: str = "/dev/vda"

    @classmethod
    def from_spec(cls, spec: ServerSpec) -> InstanceRecord:
        data = spec.user_data
        return cls(
            ref=ref_for(spec.gateway_id),
            gateway_id=spec.gateway_id,
            name=spec.name,
            project_id=spec.project_id,
            vcpus=spec.flavor.vcpus,
            ram_mb=spec.flavor.ram_mb,
            disk_gb=spec.flavor.disk_gb,
            image=spec.image,
            ports=tuple(spec.ports),
            public_key=spec.public_key,
            user_data_b64=base64.b64encode(data).decode() if data is not None else None,
            phase=Phase.BUILDING,
            metadata=dict(spec.metadata),
            root_volume=spec.root_volume.ref if spec.root_volume is not None else None,
            local_disks=tuple(spec.local_disks),
            root_device=spec.root_device,
        )

    @property
    def flavor(self) -> FlavorSpec:
        return FlavorSpec(vcpus=self.vcpus, ram_mb=self.ram_mb, disk_gb=self.disk_gb)

    @property
    def disk_mb(self) -> int:
        """What the server's disks may come to take of the host (:mod:`.hostdisk`): its root
        layer at the flavor's disk (none when it boots from a volume, which is counted as a
        volume), and its ephemeral and swap disks."""
        root = 0 if self.root_volume is not None else self.disk_gb * 1024
        return root + sum(disk.size_mb for disk in self.local_disks)

    @property
    def user_data(self) -> bytes | None:
        return base64.b64decode(self.user_data_b64) if self.user_data_b64 is not None else None

    def moved(
        self,
        phase: Phase,
        *,
        fault: str | None = None,
        crashed: bool = False,
        boot_ended: str | None = None,
        **changes: Any,
    ) -> InstanceRecord:
        return replace(
            self, phase=phase, fault=fault, crashed=crashed, boot_ended=boot_ended, **changes
        )
