"""``createImage`` of a server: an image registered at once and the backend's capture of the
server's disk into it in a task (:mod:`snapshot_task`), or, for a volume-backed server where
the region's block storage takes snapshots, Nova's image that maps snapshots of its volumes.
"""

from __future__ import annotations

from collections.abc import Mapping

from interstack.errors import BadRequest, NotFound
from interstack.services.compute.block_devices import ROOT_DEVICE
from interstack.services.compute.common import (
    ready_ref,
    record_action,
    start_action,
    touch,
    visible_row,
)
from interstack.services.compute.image_block_devices import image_mapping_properties
from interstack.services.compute.snapshot_task import SNAPSHOT
from interstack.services.compute.state import TaskState, check_state
from interstack.services.context import RequestContext
from interstack.services.interfaces import (
    BootImage,
    BootImages,
    ServerSnapshots,
    ServerVolumeSnapshots,
    VolumeSnapshotForImage,
)
from interstack.services.regions import Regions
from interstack.services.tasks import TaskQueue
from interstack.store import Database


class ServerImages:
    """Images of servers (``POST /servers/{id}/action`` ``createImage``)."""

    def __init__(
        self,
        db: Database,
        regions: Regions,
        tasks: TaskQueue,
        images: BootImages,
        snapshots: ServerSnapshots,
        volume_snapshots: ServerVolumeSnapshots | None,
    ) -> None:
        self.db = db
        self.regions = regions
        self.tasks = tasks
        self.images = images
        self.snapshots = snapshots
        self.volume_snapshots = volume_snapshots

    def create(
        self,
        ctx: RequestContext,
        region: str,
        server_id: str,
        name: str,
        metadata: Mapping[str, str],
    ) -> str:
        """Register a private image of the server at once and capture the disk into it in a
        task; returns the image id."""
        volume_backed = self._snapshots_volumes(region) and self._boots_from_volume(
            region, server_id
        )
        with self.db.session() as session:
            row = visible_row(session, ctx, region, server_id)
            check_state("createImage", row.id, row.vm_state, row.task_state)
            if not volume_backed:
                self.regions.require(region, "server_snapshots")
            ready_ref(row)
            base_id, root_device = row.image_id, row.root_device_name
            root_gb, project_id = int(row.flavor.get("disk", 0)), row.project_id
        base = self._base_image(ctx, region, base_id)
        if volume_backed:
            # Nova's volume-backed image keeps the base its server's image names, or that image
            inherited = {**({"base_image_ref": base.id} if base else {}), **_inherited(base, None)}
            return self._create_volume_backed(
                ctx, region, server_id, name, inherited, metadata, project_id
            )
        image = self.snapshots.begin_snapshot(
            ctx,
            region,
            name,
            server_id=server_id,
            base=base,
            inherited=_inherited(base, root_device),
            metadata=metadata,
            root_gb=root_gb,
            instance_project=project_id,
        )
        try:
            with self.db.session() as session:
                row = visible_row(session, ctx, region, server_id)
                check_state("createImage", row.id, row.vm_state, row.task_state)
                action_id = start_action(
                    session,
                    ctx,
                    row,
                    "createImage",
                    "compute_snapshot_instance",
                    TaskState.IMAGE_SNAPSHOT,
                )
                payload = {"action_id": action_id, "image_id": image.id}
                self.tasks.enqueue(SNAPSHOT, region, row.id, payload, session=session)
        except BaseException:
            self.snapshots.abandon_snapshot(region, image.id)
            raise
        return image.id

    def _boots_from_volume(self, region: str, server_id: str) -> bool:
        """Whether the server's root disk is a volume (a server booted from an image that maps
        its volumes keeps that image's id, as in Nova, so its image does not tell)."""
        if self.volume_snapshots is None:
            return False
        return self.volume_snapshots.boots_from_volume(region, server_id)

    def _snapshots_volumes(self, region: str) -> bool:
        """Whether a volume-backed server's image is made as Nova makes it, of snapshots of its
        volumes: the region's block storage takes snapshots."""
        backend = self.regions.backend(region)
        return self.volume_snapshots is not None and "snapshots" in backend.capabilities.names()

    def _create_volume_backed(
        self,
        ctx: RequestContext,
        region: str,
        server_id: str,
        name: str,
        inherited: Mapping[str, str],
        metadata: Mapping[str, str],
        instance_project: str,
    ) -> str:
        """Nova's createImage of a volume-backed server: Cinder snapshots each of its volumes
        (``force``: they are in use; no task, the server's state does not change) and an image
        without data maps them (``block_device_mapping``, over any the ``inherited`` properties
        of the server's image had); a server booted from the image gets volumes made of the
        snapshots. The snapshots may still be ``creating`` when this returns, as in Nova;
        deleting the image leaves them."""
        assert self.volume_snapshots is not None
        image = self.snapshots.begin_volume_backed(
            ctx, region, name, metadata={**inherited, **metadata}, instance_project=instance_project
        )
        taken: list[VolumeSnapshotForImage] = []
        try:
            taken = self.volume_snapshots.snapshot_for_image(ctx, region, server_id, name)
            self.snapshots.finish_volume_backed(region, image.id, image_mapping_properties(taken))
            with self.db.session() as session:
                row = visible_row(session, ctx, region, server_id)
                record_action(session, ctx, row, "createImage")
                touch(row)
        except BaseException:
            # nothing is left half-made: neither the image nor the snapshots it would map
            self.volume_snapshots.discard_for_image(region, [t.snapshot_id for t in taken])
            self.snapshots.abandon_snapshot(region, image.id)
            raise
        return image.id

    def _base_image(
        self, ctx: RequestContext, region: str, image_id: str | None
    ) -> BootImage | None:
        """The server's image, for the formats the snapshot inherits (gone is fine)."""
        if image_id is None:
            return None
        try:
            return self.images.image_for_boot(ctx, region, image_id)
        except (NotFound, BadRequest):
            return None


#: the image properties a server's snapshot never inherits, as Nova drops them: its
#: ``NON_INHERITABLE_IMAGE_PROPERTIES`` (an encryption key, a signature: they are of the image's
#: data, not the snapshot's), its ``non_inheritable_image_properties`` option's default, and the
#: mappings its system metadata never keeps (they place the image's own disks); and the
#: cloud's id of a provided image's data (``aws_image_id``: the snapshot is another image)
NOT_INHERITED = frozenset(
    {
        "aws_image_id",
        "cinder_encryption_key_id",
        "cinder_encryption_key_deletion_policy",
        "img_signature",
        "img_signature_hash_method",
        "img_signature_key_type",
        "img_signature_certificate_uuid",
        "cache_in_nova",
        "bittorrent",
        "mappings",
        "block_device_mapping",
        "img_mappings",
        "img_block_device_mapping",
    }
)
#: property namespaces other services keep for their own use (Glance's ``os_glance_*``)
NOT_INHERITED_NAMESPACES = ("os_glance",)


def _inherited(base: BootImage | None, root_device: str | None) -> dict[str, str]:
    """The properties a server's snapshot inherits of its image, as Nova copies them (from the
    image's properties it kept at boot): every one but :data:`NOT_INHERITED` and the reserved
    namespaces — ``hw_*``, ``os_distro``, ``root_device_name`` (a server booted from the
    snapshot has its root where the image's server had it) ... and ``base_image_ref`` where
    the image, itself a snapshot, names its own base. What Nova sets itself and the
    createImage metadata win over them. With the image gone, the server's own root device
    says where it is when not the default."""
    if base is not None:
        return {
            key: value
            for key, value in base.properties.items()
            if key not in NOT_INHERITED and not key.startswith(NOT_INHERITED_NAMESPACES)
        }
    if root_device and root_device != ROOT_DEVICE:
        return {"root_device_name": root_device}
    return {}
