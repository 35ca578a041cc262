"""Volumes a server gets at boot (Nova's boot from volume and its other volume block device
mappings): reserved or created when the server is asked for, attached by its boot task.

At the request, brought volumes become ``reserved`` and the others are created (``creating``,
in the caller's project and quotas), each with an ``attaching`` attachment to the server, in
one transaction. The boot task waits until each is ``available``, hands them to the backend
(``attaching``) and marks them ``in-use`` once the server runs. A boot that fails, or never
starts, detaches them again: the volumes made for it are deleted, the brought ones become
``available``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from interstack.backends.contract import BootVolume, NativeRef
from interstack.errors import BackendError, BadRequest, NotFound
from interstack.services.context import RequestContext
from interstack.services.interfaces import (
    AttachedVolume,
    ReadyBootVolumes,
    ReservedBootVolumes,
    VolumeForBoot,
    VolumesAtRebuild,
)
from interstack.services.regions import Regions
from interstack.services.tasks import TaskQueue, utcnow
from interstack.services.volume.common import (
    live_attachments,
    new_attachment,
    server_attachments,
    touch,
    visible_snapshot,
    visible_volume,
)
from interstack.services.volume.state import AttachStatus, VolumeStatus
from interstack.services.volume.volume_tasks import DELETE as VOLUME_DELETE
from interstack.services.volume.volumes import NewVolume, VolumeService
from interstack.store import Database, run_core, table_of
from interstack.store.models import Server as ServerRow
from interstack.store.models import Volume as VolumeRow
from interstack.store.models import VolumeAttachment as AttachmentRow

_ATTACHMENTS = table_of(AttachmentRow).c
#: the volumes attached to some servers, built once: read on every server's show and list
_ATTACHED = (
    select(_ATTACHMENTS.server_id, _ATTACHMENTS.volume_id, _ATTACHMENTS.delete_on_termination)
    .where(
        _ATTACHMENTS.server_id.in_(bindparam("server_ids", expanding=True)),
        _ATTACHMENTS.status.in_(
            (AttachStatus.ATTACHING, AttachStatus.ATTACHED, AttachStatus.DETACHING)
        ),
    )
    .order_by(_ATTACHMENTS.created_at, _ATTACHMENTS.mountpoint)
)

#: statuses of a boot volume that is ready to be handed to the backend
READY = frozenset({VolumeStatus.AVAILABLE, VolumeStatus.RESERVED, VolumeStatus.ATTACHING})


class BootVolumes:
    """``ServerBootVolumes`` for compute: the boot-time half of volumes on servers."""

    def __init__(
        self, db: Database, regions: Regions, tasks: TaskQueue, volumes: VolumeService
    ) -> None:
        self.db = db
        self.regions = regions
        self.tasks = tasks
        self.volumes = volumes

    # -- at the request ----------------------------------------------------------------------

    def reserve_for_boot(
        self,
        ctx: RequestContext,
        region: str,
        server_id: str,
        volumes: Sequence[VolumeForBoot],
    ) -> ReservedBootVolumes:
        created: list[str] = []
        root_id: str | None = None
        with self.db.session() as session:
            for wanted in volumes:
                row = self._volume_for(session, ctx, region, wanted)
                if wanted.source != "volume":
                    created.append(row.id)
                if wanted.root:
                    root_id = row.id
                session.add(
                    new_attachment(
                        region,
                        row,
                        server_id,
                        mountpoint=wanted.device,
                        mode="ro" if row.readonly else "rw",
                        status=AttachStatus.ATTACHING,
                        delete_on_termination=wanted.delete_on_termination,
                        tag=wanted.tag,
                        boot_index=0 if wanted.root else None,
                    )
                )
                session.flush()
        return ReservedBootVolumes(created=tuple(created), root_id=root_id)

    def _volume_for(
        self, session: Session, ctx: RequestContext, region: str, wanted: VolumeForBoot
    ) -> VolumeRow:
        """The brought volume, reserved, or a new one made from the mapping's source."""
        if wanted.source == "volume":
            try:
                row = visible_volume(session, ctx, region, wanted.source_id or "")
            except NotFound:
                raise BadRequest(
                    f"Block Device Mapping is Invalid: failed to get volume {wanted.source_id}."
                ) from None
            if row.status != VolumeStatus.AVAILABLE or live_attachments(session, [row.id])[row.id]:
                raise BadRequest(
                    f"Invalid volume: volume {row.id} status must be 'available' to be "
                    f"attached, but it is {row.status}; detach it from its server first."
                )
            row.status = VolumeStatus.RESERVED
            touch(row)
            return row
        new = NewVolume(
            size=wanted.size_gb,
            name="",
            volume_type=wanted.volume_type,
            snapshot_id=wanted.source_id if wanted.source == "snapshot" else None,
            image_id=wanted.source_id if wanted.source == "image" else None,
        )
        try:
            return self.volumes.add(session, ctx, region, new)
        except NotFound as exc:
            raise BadRequest(
                f"Block Device Mapping is Invalid: failed to get {wanted.source} "
                f"{wanted.source_id}."
            ) from exc

    def image_properties(
        self, ctx: RequestContext, region: str, source: str, source_id: str, session: Session
    ) -> Mapping[str, str]:
        try:
            if source == "snapshot":
                snapshot = visible_snapshot(session, ctx, region, source_id)
                row = session.get(VolumeRow, snapshot.volume_id)
            else:
                row = visible_volume(session, ctx, region, source_id)
        except NotFound:
            return {}
        return {str(k): str(v) for k, v in row.image_metadata.items()} if row else {}

    # -- in the boot task --------------------------------------------------------------------

    def ready_for_boot(
        self, region: str, server_id: str, root_id: str | None
    ) -> ReadyBootVolumes | None:
        root: BootVolume | None = None
        data: list[BootVolume] = []
        with self.db.session() as session:
            attachments = server_attachments(session, server_id, AttachStatus.ATTACHING)
            volumes = {row.volume_id: session.get(VolumeRow, row.volume_id) for row in attachments}
            for row in attachments:
                volume = volumes[row.volume_id]
                if volume is None:
                    raise BackendError(f"Volume {row.volume_id} was deleted before the boot.")
                if volume.status == VolumeStatus.CREATING:
                    return None
                if volume.status not in READY or volume.native_ref is None:
                    raise BackendError(
                        f"Volume {volume.id} did not finish being created: its status is "
                        f"{volume.status}" + (f" ({volume.fault})" if volume.fault else "") + "."
                    )
            for row in attachments:
                volume = volumes[row.volume_id]
                assert volume is not None and volume.native_ref is not None
                volume.status = VolumeStatus.ATTACHING
                touch(volume)
                found = BootVolume(NativeRef(volume.native_ref), row.mountpoint or "")
                if volume.id == root_id:
                    root = found
                else:
                    data.append(found)
        return ReadyBootVolumes(root=root, data=tuple(data))

    def attached_at_boot(self, region: str, server_id: str) -> None:
        with self.db.session() as session:
            for row in server_attachments(session, server_id, AttachStatus.ATTACHING):
                row.status = AttachStatus.ATTACHED
                row.updated_at = utcnow()
                volume = session.get(VolumeRow, row.volume_id)
                if volume is not None:
                    volume.status = VolumeStatus.IN_USE
                    touch(volume)

    def abandon_boot(self, region: str, server_id: str, created: Sequence[str]) -> None:
        self._detach_boot_volumes(region, server_id)
        with self.db.session() as session:
            for row in server_attachments(session, server_id, AttachStatus.ATTACHING):
                volume = session.get(VolumeRow, row.volume_id)
                session.delete(row)
                if volume is None:
                    continue
                if volume.id in created:
                    volume.status = VolumeStatus.DELETING
                    self.tasks.enqueue(VOLUME_DELETE, region, volume.id, session=session)
                elif volume.status != VolumeStatus.CREATING:
                    volume.status = VolumeStatus.AVAILABLE
                touch(volume)

    def _detach_boot_volumes(self, region: str, server_id: str) -> None:
        """A server in ERROR may hold its boot volumes in the backend: free them before their
        deletion is queued (the delete task may run at once)."""
        with self.db.session() as session:
            server = session.get(ServerRow, server_id)
            if server is None or server.native_ref is None:
                return
            server_ref = NativeRef(server.native_ref)
            refs = []
            for row in server_attachments(session, server_id, AttachStatus.ATTACHING):
                volume = session.get(VolumeRow, row.volume_id)
                if volume is not None and volume.native_ref:
                    refs.append(NativeRef(volume.native_ref))
        storage = self.regions.backend(region).block_storage
        for ref in refs:
            storage.detach_volume(ref, server_ref)

    # -- at a rebuild ------------------------------------------------------------------------

    def volumes_at_rebuild(self, region: str, server_id: str, session: Session) -> VolumesAtRebuild:
        backed, root_image, busy = False, None, []
        for row in server_attachments(session, server_id):
            volume = session.get(VolumeRow, row.volume_id)
            if volume is None:
                continue
            if row.boot_index == 0:
                backed = True
                root_image = volume.image_metadata.get("image_id") or None
            if volume.status != VolumeStatus.IN_USE:
                busy.append((volume.id, str(volume.status)))
        return VolumesAtRebuild(
            volume_backed=backed,
            root_image_id=str(root_image) if root_image else None,
            not_in_use=tuple(busy),
        )

    def attached_for_rebuild(self, region: str, server_id: str) -> ReadyBootVolumes:
        root: BootVolume | None = None
        data: list[BootVolume] = []
        with self.db.session() as session:
            for row in server_attachments(session, server_id):
                volume = session.get(VolumeRow, row.volume_id)
                if row.status != AttachStatus.ATTACHED or volume is None or not volume.native_ref:
                    continue
                found = BootVolume(NativeRef(volume.native_ref), row.mountpoint or "")
                if row.boot_index == 0:
                    root = found
                else:
                    data.append(found)
        return ReadyBootVolumes(root=root, data=tuple(data))

    # -- for show and list -------------------------------------------------------------------

    def volumes_attached(
        self, region: str, server_ids: Sequence[str], session: Session | None = None
    ) -> Mapping[str, Sequence[AttachedVolume]]:
        found: dict[str, list[AttachedVolume]] = {s: [] for s in server_ids}
        if not server_ids:
            return found
        if session is None:
            with self.db.session() as own:
                return self.volumes_attached(region, server_ids, own)
        rows = run_core(session, _ATTACHED, {"server_ids": list(server_ids)})
        for server_id, volume_id, delete_on_termination in rows:
            if server_id is not None:
                found[server_id].append(AttachedVolume(volume_id, bool(delete_on_termination)))
        return found
