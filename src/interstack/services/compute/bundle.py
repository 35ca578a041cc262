"""The compute services of one gateway, built together because they count on each other."""

from __future__ import annotations

from dataclasses import dataclass

from interstack.services.compute.boot import ServerBoot
from interstack.services.compute.flavors import FlavorService
from interstack.services.compute.keypairs import KeypairService
from interstack.services.compute.quotas import QuotaService
from interstack.services.compute.server_actions import ServerActions
from interstack.services.compute.server_groups import ServerGroupService
from interstack.services.compute.server_interfaces import ServerInterfaces
from interstack.services.compute.server_metadata import ServerMetadata
from interstack.services.compute.server_passwords import ServerPasswords
from interstack.services.compute.server_tasks import ServerTasks
from interstack.services.compute.servers import ServerService
from interstack.services.interfaces import (
    BootImages,
    ConfigDrives,
    ServerBootVolumes,
    ServerNetworking,
    ServerSnapshots,
    ServerVolumeRelease,
    ServerVolumeSnapshots,
)
from interstack.services.regions import Regions
from interstack.services.tasks import TaskQueue
from interstack.store import Database


@dataclass
class ComputeServices:
    """What the compute API uses: one field per resource service."""

    flavors: FlavorService
    keypairs: KeypairService
    quotas: QuotaService
    servers: ServerService
    boot: ServerBoot
    server_actions: ServerActions
    server_metadata: ServerMetadata
    #: the handlers of the server task kinds, for the app's task handler table
    server_tasks: ServerTasks
    server_groups: ServerGroupService
    #: a server's ports (``os-interface``)
    interfaces: ServerInterfaces
    #: what guests post to the metadata service (``os-server-password``)
    passwords: ServerPasswords

    @classmethod
    def build(
        cls,
        db: Database,
        regions: Regions,
        tasks: TaskQueue,
        networking: ServerNetworking,
        *,
        images: BootImages,
        snapshots: ServerSnapshots,
        config_drives: ConfigDrives | None = None,
        volumes: ServerVolumeRelease | None = None,
        boot_volumes: ServerBootVolumes | None = None,
        volume_snapshots: ServerVolumeSnapshots | None = None,
    ) -> ComputeServices:
        quotas = QuotaService(db)
        passwords = ServerPasswords(db)
        flavors, keypairs = FlavorService(db, regions), KeypairService(db, quotas)
        return cls(
            flavors=flavors,
            keypairs=keypairs,
            quotas=quotas,
            servers=ServerService(db, regions, tasks, networking, boot_volumes),
            boot=ServerBoot(
                db, regions, tasks, flavors, keypairs, quotas, networking, images, boot_volumes
            ),
            server_actions=ServerActions(
                db,
                regions,
                tasks,
                flavors,
                keypairs,
                quotas,
                images,
                snapshots,
                networking,
                volume_snapshots,
                boot_volumes,
            ),
            interfaces=ServerInterfaces(db, regions, networking),
            server_metadata=ServerMetadata(db, quotas, regions),
            server_tasks=ServerTasks(
                db, regions, networking, snapshots, passwords, config_drives, volumes, boot_volumes
            ),
            server_groups=ServerGroupService(db, quotas),
            passwords=passwords,
        )

    def bootstrap(self) -> None:
        """First start only: the default flavors (an operator may delete them afterwards)."""
        self.flavors.seed()
