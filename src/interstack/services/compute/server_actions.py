"""Server actions (``POST /servers/{id}/action``): power, lock, rebuild, resize, console (and
createImage, made by :mod:`server_images`).

Each action checks the lock and the state machine (Nova's 409s), records an instance action and,
where the backend must do the work, enqueues a task; the API answers before the backend is done.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy.orm import Session

from interstack.backends.contract import PowerAction
from interstack.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    NotSupported,
    QuotaExceeded,
)
from interstack.services.compute.boot_request import decode_user_data, new_password
from interstack.services.compute.boot_rows import flavor_snapshot
from interstack.services.compute.common import (
    check_unlocked,
    ready_ref,
    record,
    record_action,
    start_action,
    touch,
    visible_row,
)
from interstack.services.compute.flavors import FlavorService
from interstack.services.compute.image_fit import check_rebuild_image
from interstack.services.compute.keypairs import KeypairService
from interstack.services.compute.quotas import QuotaService
from interstack.services.compute.records import Flavor, Server
from interstack.services.compute.server_images import ServerImages
from interstack.services.compute.server_tasks import POWER, REBUILD, RESIZE
from interstack.services.compute.state import (
    SOFT_REBOOT,
    TaskState,
    VmState,
    check_state,
)
from interstack.services.context import RequestContext
from interstack.services.interfaces import (
    BootImages,
    ServerBootVolumes,
    ServerNetworking,
    ServerSnapshots,
    ServerVolumeSnapshots,
    VolumesAtRebuild,
)
from interstack.services.regions import Regions
from interstack.services.tasks import TaskQueue
from interstack.store import Database
from interstack.store.models import Server as ServerRow


@dataclass(frozen=True)
class PowerSpec:
    """One power action: the backend's action, the task_state meanwhile, Nova's words for it."""

    backend_action: PowerAction
    task_state: TaskState
    #: the action's name in Nova's 409 messages and in os-instance-actions
    nova_name: str
    event: str
    capability: str = "compute"
    allowed: frozenset[VmState] | None = None


#: the explicit table of power actions, by the API's action name
POWER_ACTIONS: dict[str, PowerSpec] = {
    "reboot_soft": PowerSpec(
        PowerAction.REBOOT,
        TaskState.REBOOTING,
        "reboot",
        "compute_reboot_instance",
        allowed=SOFT_REBOOT,
    ),
    "reboot_hard": PowerSpec(
        PowerAction.HARD_REBOOT, TaskState.REBOOTING_HARD, "reboot", "compute_reboot_instance"
    ),
    "stop": PowerSpec(PowerAction.STOP, TaskState.POWERING_OFF, "stop", "compute_stop_instance"),
    "start": PowerSpec(PowerAction.START, TaskState.POWERING_ON, "start", "compute_start_instance"),
    "pause": PowerSpec(
        PowerAction.PAUSE, TaskState.PAUSING, "pause", "compute_pause_instance", "pause"
    ),
    "unpause": PowerSpec(
        PowerAction.UNPAUSE, TaskState.UNPAUSING, "unpause", "compute_unpause_instance", "pause"
    ),
    "suspend": PowerSpec(
        PowerAction.SUSPEND, TaskState.SUSPENDING, "suspend", "compute_suspend_instance", "suspend"
    ),
    "resume": PowerSpec(
        PowerAction.RESUME, TaskState.RESUMING, "resume", "compute_resume_instance", "suspend"
    ),
}


#: marks a rebuild field the client did not send (None means "unset it" for some fields)
UNSET = object()


@dataclass(frozen=True)
class RebuildRequest:
    image_id: str
    name: str | None = None
    metadata: Mapping[str, str] | None = None
    description: object = UNSET
    key_name: object = UNSET
    user_data: object = UNSET
    access_ipv4: str | None = None
    access_ipv6: str | None = None
    #: keep the ephemeral disks (Nova's ``preserve_ephemeral``): Ironic's alone can
    preserve_ephemeral: bool = False


#: Nova's ``PreserveEphemeralNotSupported``: every driver but Ironic's refuses such a rebuild
#: (its default rebuild would make the ephemeral disks anew)
NO_PRESERVE_EPHEMERAL = (
    "The current driver does not support preserving ephemeral partitions. Rebuild without "
    "preserve_ephemeral (the ephemeral disks are made anew), or keep the data on a volume."
)


class ServerActions:
    def __init__(
        self,
        db: Database,
        regions: Regions,
        tasks: TaskQueue,
        flavors: FlavorService,
        keypairs: KeypairService,
        quotas: QuotaService,
        images: BootImages,
        snapshots: ServerSnapshots,
        networking: ServerNetworking,
        volume_snapshots: ServerVolumeSnapshots | None = None,
        boot_volumes: ServerBootVolumes | None = None,
    ) -> None:
        self.boot_volumes = boot_volumes
        self.networking = networking
        self.db = db
        self.regions = regions
        self.tasks = tasks
        self.flavors = flavors
        self.keypairs = keypairs
        self.quotas = quotas
        self.images = images
        self.server_images = ServerImages(db, regions, tasks, images, snapshots, volume_snapshots)

    # -- power -------------------------------------------------------------------------------

    def power(self, ctx: RequestContext, region: str, server_id: str, name: str) -> None:
        spec = POWER_ACTIONS[name]
        with self.db.session() as session:
            row = visible_row(session, ctx, region, server_id)
            check_unlocked(ctx, row)
            check_state(spec.nova_name, row.id, row.vm_state, row.task_state, spec.allowed)
            self.regions.require(region, spec.capability)
            ready_ref(row)
            action_id = start_action(session, ctx, row, spec.nova_name, spec.event, spec.task_state)
            payload = {"action": spec.backend_action.value, "action_id": action_id}
            self.tasks.enqueue(POWER, region, row.id, payload, session=session)

    # -- lock --------------------------------------------------------------------------------

    def lock(self, ctx: RequestContext, region: str, server_id: str, reason: str | None) -> None:
        with self.db.session() as session:
            row = visible_row(session, ctx, region, server_id)
            owner = ctx.project_id == row.project_id
            row.locked_by = "owner" if owner else "admin"
            row.locked_reason = reason
            touch(row)
            record_action(session, ctx, row, "lock")

    def unlock(self, ctx: RequestContext, region: str, server_id: str) -> None:
        with self.db.session() as session:
            row = visible_row(session, ctx, region, server_id)
            if row.locked_by == "admin" and not ctx.is_admin:
                raise Forbidden(
                    "Policy doesn't allow os_compute_api:os-lock-server:unlock:unlock_override "
                    "to be performed."
                )
            row.locked_by = None
            row.locked_reason = None
            touch(row)
            record_action(session, ctx, row, "unlock")

    # -- rebuild -----------------------------------------------------------------------------

    def rebuild(
        self, ctx: RequestContext, region: str, server_id: str, request: RebuildRequest
    ) -> tuple[Server, str]:
        """Boot the server again from ``image_id`` on the same ports; returns the new password."""
        try:
            image = self.images.image_for_boot(ctx, region, request.image_id)
        except NotFound as exc:
            raise BadRequest(f"Image {request.image_id} could not be found.") from exc
        public_key: object = UNSET
        if isinstance(request.key_name, str):
            try:
                public_key = self.keypairs.get(ctx, request.key_name).public_key
            except NotFound as exc:
                raise BadRequest("Invalid key_name provided.") from exc
        if isinstance(request.user_data, str):
            decode_user_data(request.user_data)
        with self.db.session() as session:
            row = visible_row(session, ctx, region, server_id)
            check_unlocked(ctx, row)
            check_state("rebuild", row.id, row.vm_state, row.task_state)
            if request.preserve_ephemeral:
                # Nova's rebuild keeps the server as it was and records this fault; none of
                # these backends keeps a server's disks across its rebuild
                raise BadRequest(NO_PRESERVE_EPHEMERAL)
            # read in the unit of work that starts the rebuild, not before it
            volumes = self._volumes_at_rebuild(session, region, server_id)
            check_rebuild_image(_flavor_of(row), image, volumes)
            stopped = row.vm_state == VmState.STOPPED
            if not volumes.volume_backed:
                # a volume-backed server keeps its image, as in Nova: its root volume stays
                row.image_id = image.id
                row.image_ref = image.native_ref
            if request.name is not None:
                row.name = request.name
            if request.metadata is not None:
                row.metadata_items = dict(request.metadata)
            if request.description is not UNSET:
                description = request.description
                row.description = description if isinstance(description, str) else None
            if request.key_name is not UNSET:
                row.key_name = request.key_name if isinstance(request.key_name, str) else None
                row.key_data = public_key if isinstance(public_key, str) else None
            if request.user_data is not UNSET:
                row.user_data = request.user_data if isinstance(request.user_data, str) else None
            if request.access_ipv4 is not None:
                row.access_ipv4 = request.access_ipv4
            if request.access_ipv6 is not None:
                row.access_ipv6 = request.access_ipv6
            row.launched_at = None
            action_id = start_action(
                session, ctx, row, "rebuild", "compute_rebuild_instance", TaskState.REBUILDING
            )
            payload = {"action_id": action_id, "stopped": stopped}
            self.tasks.enqueue(REBUILD, region, row.id, payload, session=session)
            session.flush()
            return record(row), new_password()

    # -- resize ------------------------------------------------------------------------------

    def resize(self, ctx: RequestContext, region: str, server_id: str, flavor_id: str) -> None:
        try:
            flavor = self.flavors.get(ctx, region, flavor_id)
        except NotFound as exc:
            # what follows the 404's own sentence: the region's flavors, where it names them (a
            # flavor id may hold ". " itself)
            where = exc.message.removeprefix(f"Flavor {flavor_id} could not be found.").strip()
            raise BadRequest(f"Unable to find flavor with id {flavor_id}. {where}".strip()) from exc
        with self.db.session() as session:
            row = visible_row(session, ctx, region, server_id)
            check_unlocked(ctx, row)
            check_state("resize", row.id, row.vm_state, row.task_state)
            self.regions.require(region, "resize")
            ready_ref(row)
            if flavor.id == row.flavor_id:
                raise BadRequest("When resizing, instances must change flavor!")
            current = _flavor_of(row)
            # A region whose flavors are its cloud's sizes changes the size only: the root disk
            # (EBS) keeps its size, so a server booted with a shared flavor's disk before may
            # move to a size of disk 0 there.
            if not self.regions.capabilities(region).native_flavors:
                if flavor.disk_gb == 0 and current.disk_gb > 0:
                    raise BadRequest("Resize to zero disk flavor is not allowed.")
                if flavor.disk_gb < current.disk_gb:
                    raise BadRequest("Unable to resize disk down.")
            self._check_growth(session, row, current, flavor)
            action_id = start_action(
                session, ctx, row, "resize", "compute_prep_resize", TaskState.RESIZE_PREP
            )
            payload = {"action_id": action_id, "flavor": flavor_snapshot(flavor)}
            self.tasks.enqueue(RESIZE, region, row.id, payload, session=session)

    def _check_growth(
        self, session: Session, row: ServerRow, current: Flavor, wanted: Flavor
    ) -> None:
        """403 if the bigger flavor's extra cores or RAM exceed the project's quota."""
        limits = self.quotas.limits(row.project_id, session)
        used = self.quotas.usage(row.project_id, session)
        growth = {
            "cores": max(0, wanted.vcpus - current.vcpus),
            "ram": max(0, wanted.ram_mb - current.ram_mb),
        }
        for key, more in growth.items():
            if more and limits[key] >= 0 and used[key] + more > limits[key]:
                raise QuotaExceeded(
                    f"Quota exceeded for {key}: Requested {more}, but already used "
                    f"{used[key]} of {limits[key]} {key}"
                )

    def confirm_resize(self, ctx: RequestContext, region: str, server_id: str) -> None:
        with self.db.session() as session:
            row = visible_row(session, ctx, region, server_id)
            check_unlocked(ctx, row)
            check_state("confirmResize", row.id, row.vm_state, row.task_state)
            row.vm_state = VmState.ACTIVE if row.power_state == 1 else VmState.STOPPED
            row.old_flavor = None
            touch(row)
            record_action(session, ctx, row, "confirmResize")

    def revert_resize(self, ctx: RequestContext, region: str, server_id: str) -> None:
        with self.db.session() as session:
            row = visible_row(session, ctx, region, server_id)
            check_unlocked(ctx, row)
            check_state("revertResize", row.id, row.vm_state, row.task_state)
            if row.old_flavor is None:
                raise Conflict(f"Instance {row.id} has no resize to revert")
            action_id = start_action(
                session,
                ctx,
                row,
                "revertResize",
                "compute_revert_resize",
                TaskState.RESIZE_REVERTING,
            )
            payload = {"action_id": action_id, "flavor": dict(row.old_flavor), "revert": True}
            self.tasks.enqueue(RESIZE, region, row.id, payload, session=session)

    # -- createImage -------------------------------------------------------------------------

    def create_image(
        self,
        ctx: RequestContext,
        region: str,
        server_id: str,
        name: str,
        metadata: Mapping[str, str],
    ) -> str:
        """Register a private image of the server at once and capture the disk into it in a
        task; returns the image id (:mod:`server_images`)."""
        return self.server_images.create(ctx, region, server_id, name, metadata)

    def _volumes_at_rebuild(
        self, session: Session, region: str, server_id: str
    ) -> VolumesAtRebuild:
        if self.boot_volumes is None:
            return VolumesAtRebuild(volume_backed=False)
        return self.boot_volumes.volumes_at_rebuild(region, server_id, session)

    # -- changePassword ----------------------------------------------------------------------

    def change_password(
        self, ctx: RequestContext, region: str, server_id: str, password: str
    ) -> None:
        """Set the guest's administrator password now (Nova waits for the hypervisor too).

        A backend without the ``set_admin_password`` capability answers Nova's 501; the
        password is passed on and never stored or logged.
        """
        with self.db.session() as session:
            row = visible_row(session, ctx, region, server_id)
            check_unlocked(ctx, row)
            check_state("changePassword", row.id, row.vm_state, row.task_state)
            ref = ready_ref(row)
        try:
            backend = self.regions.require(region, "set_admin_password")
        except NotSupported as exc:
            raise NotSupported(
                f"Unable to set password on instance: the backend of region {region} cannot "
                "set a guest's password."
            ) from exc
        backend.compute.set_admin_password(ref, password)
        with self.db.session() as session:
            row = visible_row(session, ctx, region, server_id)
            record_action(session, ctx, row, "changePassword")
            touch(row)

    # -- console, security groups ------------------------------------------------------------

    def console_output(
        self, ctx: RequestContext, region: str, server_id: str, length: int | None
    ) -> str:
        with self.db.session() as session:
            row = visible_row(session, ctx, region, server_id)
            ref = ready_ref(row)
        backend = self.regions.require(region, "console_output")
        return backend.compute.console_output(ref, length)

    def add_security_group(
        self, ctx: RequestContext, region: str, server_id: str, group: str
    ) -> None:
        """The group goes on the server's ports in Neutron, where Nova keeps it."""
        with self.db.session() as session:
            visible_row(session, ctx, region, server_id)
        self.networking.add_security_group(ctx, region, server_id, group)

    def remove_security_group(
        self, ctx: RequestContext, region: str, server_id: str, group: str
    ) -> None:
        with self.db.session() as session:
            visible_row(session, ctx, region, server_id)
        self.networking.remove_security_group(ctx, region, server_id, group)


def _flavor_of(row: ServerRow) -> Flavor:
    """The server's flavor as it booted with it (the flavor itself may be gone since)."""
    f = row.flavor
    return Flavor(
        id=str(f.get("id", row.flavor_id)),
        name=str(f.get("original_name", "")),
        vcpus=int(f.get("vcpus", 0)),
        ram_mb=int(f.get("ram", 0)),
        disk_gb=int(f.get("disk", 0)),
        ephemeral_gb=int(f.get("ephemeral", 0)),
        swap_mb=int(f.get("swap", 0)),
        rxtx_factor=1.0,
        is_public=True,
        description=None,
        extra_specs=dict(f.get("extra_specs", {})),
    )
