"""The block storage services of one gateway, built together because they count on each other."""

from __future__ import annotations

from dataclasses import dataclass

from interstack.services.interfaces import VolumeImages
from interstack.services.regions import Regions
from interstack.services.tasks import TaskQueue
from interstack.services.volume.attachments import AttachmentService
from interstack.services.volume.boot_volumes import BootVolumes
from interstack.services.volume.messages import (
    MESSAGE_REAP_SECONDS,
    MESSAGE_TTL_SECONDS,
    UserMessages,
)
from interstack.services.volume.quotas import VolumeQuotaService
from interstack.services.volume.server_volumes import ServerVolumes
from interstack.services.volume.snapshots import SnapshotService
from interstack.services.volume.volume_actions import VolumeActions
from interstack.services.volume.volume_tasks import VolumeTasks
from interstack.services.volume.volume_types import VolumeTypeService
from interstack.services.volume.volumes import VolumeService
from interstack.store import Database


@dataclass
class VolumeServices:
    """What the block storage API uses: one field per resource service."""

    volumes: VolumeService
    actions: VolumeActions
    snapshots: SnapshotService
    types: VolumeTypeService
    quotas: VolumeQuotaService
    attachments: AttachmentService
    #: volumes on servers (Nova's os-volume_attachments)
    server_volumes: ServerVolumes
    #: volumes servers get at boot (Nova's boot from volume)
    boot_volumes: BootVolumes
    #: the handlers of the volume task kinds, for the app's task handler table
    tasks: VolumeTasks
    #: why operations answered 2xx failed later (Cinder's user messages)
    messages: UserMessages

    @classmethod
    def build(
        cls,
        db: Database,
        regions: Regions,
        tasks: TaskQueue,
        images: VolumeImages,
        *,
        message_ttl_seconds: float = MESSAGE_TTL_SECONDS,
        message_reap_seconds: float = MESSAGE_REAP_SECONDS,
    ) -> VolumeServices:
        quotas = VolumeQuotaService(db)
        types = VolumeTypeService(db)
        volumes = VolumeService(db, regions, tasks, quotas, types, images)
        snapshots = SnapshotService(db, regions, tasks, quotas)
        with_volumes = [r for r in regions.names if regions.capabilities(r).volumes]
        messages = UserMessages(db, tasks, with_volumes, message_ttl_seconds, message_reap_seconds)
        return cls(
            volumes=volumes,
            actions=VolumeActions(db, regions, tasks, quotas, images),
            snapshots=snapshots,
            types=types,
            quotas=quotas,
            attachments=AttachmentService(db),
            server_volumes=ServerVolumes(db, regions, tasks, snapshots, messages),
            boot_volumes=BootVolumes(db, regions, tasks, volumes),
            tasks=VolumeTasks(db, regions, images, tasks, messages),
            messages=messages,
        )

    def bootstrap(self) -> None:
        """First start only: the default volume type; on every start, each region's purge of
        expired messages if it has none (a new region, or a purge task that failed)."""
        self.types.seed()
        self.messages.ensure_purging()
