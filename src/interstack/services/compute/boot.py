"""Creating servers: check the request against flavors, images, key pairs and quotas, allocate the
ports, then write the server rows, their instance actions and their boot tasks in one transaction.

Everything that can be refused is refused before anything exists; if a later step fails, the
ports allocated so far are released, so a failed create leaves nothing behind. The request
and its answer are :mod:`.boot_request`'s, the rows written for each server :mod:`.boot_rows`'.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence

from sqlalchemy.orm import Session

from interstack.backends.contract import LocalDisk
from interstack.errors import BadRequest, NotFound, QuotaExceeded
from interstack.services.compute.block_devices import (
    ROOT_DEVICE,
    BootDisks,
    boot_disks,
    check_backend_device_names,
    check_local_disks,
    requested_local_disks,
)
from interstack.services.compute.boot_image_properties import mapped_root, root_volume_properties
from interstack.services.compute.boot_request import (
    DEFAULT_ZONE,
    BootRequest,
    BootResult,
    decode_user_data,
    new_password,
    new_reservation_id,
)
from interstack.services.compute.boot_rows import write_server
from interstack.services.compute.common import record
from interstack.services.compute.flavors import FlavorService
from interstack.services.compute.image_block_devices import (
    image_defined_devices,
    image_root_device,
    legacy_boot_order,
    merge_image_devices,
)
from interstack.services.compute.image_fit import check_image_fits, check_root_volume_fits
from interstack.services.compute.keypairs import KeypairService
from interstack.services.compute.local_disks import local_disks, with_local_disks
from interstack.services.compute.quotas import QuotaService
from interstack.services.compute.records import Flavor
from interstack.services.context import RequestContext
from interstack.services.interfaces import (
    BootImage,
    BootImages,
    ReservedBootVolumes,
    ServerBootVolumes,
    ServerNetworking,
    ServerPort,
)
from interstack.services.regions import Regions
from interstack.services.tasks import TaskQueue
from interstack.store import Database


class ServerBoot:
    """``POST /servers``: one or ``max_count`` servers, each booted by a persisted task."""

    def __init__(
        self,
        db: Database,
        regions: Regions,
        tasks: TaskQueue,
        flavors: FlavorService,
        keypairs: KeypairService,
        quotas: QuotaService,
        networking: ServerNetworking,
        images: BootImages,
        volumes: ServerBootVolumes | None = None,
    ) -> None:
        self.db = db
        self.regions = regions
        self.tasks = tasks
        self.flavors = flavors
        self.keypairs = keypairs
        self.quotas = quotas
        self.networking = networking
        self.images = images
        self.volumes = volumes

    # -- checks that refuse before anything exists -------------------------------------------

    def _flavor(self, ctx: RequestContext, region: str, flavor_id: str, session: Session) -> Flavor:
        try:
            return self.flavors.get(ctx, region, flavor_id, session)
        except NotFound as exc:
            raise BadRequest(exc.message) from exc

    def _image(
        self, ctx: RequestContext, region: str, image_id: str | None, session: Session
    ) -> BootImage | None:
        if image_id is None:
            return None
        try:
            return self.images.image_for_boot(ctx, region, image_id, session)
        except NotFound as exc:
            raise BadRequest(f"Image {image_id} could not be found.") from exc

    def _disks(
        self,
        region: str,
        request: BootRequest,
        flavor: Flavor,
        image: BootImage | None,
        root_properties: Mapping[str, str] | None = None,
    ) -> tuple[BootDisks, tuple[LocalDisk, ...]]:
        """What the server boots from, and its ephemeral and swap disks (where its backend
        gives them: :mod:`.local_disks`); volumes need a backend that boots from them. An image
        that defines block device mappings (a volume-backed server's snapshot) adds them under
        the request's; when they hold the boot device, the server boots from that (a volume
        made of the snapshot), not from the image's data, which it has none of. ``image`` is
        the request's ``imageRef``, loaded; ``flavor`` sizes the disks its ``mappings`` place.
        Without an imageRef, ``root_properties`` (of the image a root volume is made of, or
        the brought volume's image metadata) are the boot's image's, whose root device name
        Nova takes."""
        devices, image_ref = request.block_devices, request.image_id
        properties = image.properties if image is not None else {}
        defined = image_defined_devices(
            properties, ephemeral_gb=flavor.ephemeral_gb, swap_mb=flavor.swap_mb
        )
        boot_properties = properties if root_properties is None else root_properties
        if request.legacy_mapping:
            # the root is the entry at the boot image's root device name (a volume's too)
            devices = legacy_boot_order(
                devices,
                image_root_device(boot_properties),
                no_root=any(d.boot_index == 0 for d in defined),
            )
        if defined:
            devices = merge_image_devices(defined, devices)
            if any(d.boot_index == 0 for d in devices):
                image_ref = None
        sizes = {"ephemeral_gb": flavor.ephemeral_gb, "swap_mb": flavor.swap_mb}
        gives_local = "ephemeral_disks" in self.regions.backend(region).capabilities.names()
        root_device = image_root_device(boot_properties) or ROOT_DEVICE
        if gives_local:
            devices = with_local_disks(devices, **sizes, root_device=root_device)
        disks = boot_disks(image_ref, devices, request.max_count, root_device=root_device)
        check_local_disks(devices, disks, **sizes)
        local = local_disks(devices, **sizes) if gives_local else ()
        if requested_local_disks(request.block_devices) and not gives_local:
            raise BadRequest(
                f"Block Device Mapping is Invalid: region {region} cannot give servers "
                "ephemeral or swap disks (its backend lacks them); leave the blank 'local' "
                "mappings out, or map a blank 'volume' instead."
            )
        backend = self.regions.backend(region)
        check_backend_device_names(disks, local, backend.compute.device_name_refusal)
        if not disks.volumes:
            return disks, local
        if self.volumes is None or "boot_from_volume" not in backend.capabilities.names():
            raise BadRequest(
                f"Block Device Mapping is Invalid: region {region} cannot give servers volumes "
                "at boot (its backend lacks boot from volume); boot from an image (imageRef) "
                "and attach volumes once the server is active."
            )
        return disks, local

    def _boot_image_properties(
        self, ctx: RequestContext, region: str, request: BootRequest, session: Session
    ) -> tuple[BootImage | None, Mapping[str, str] | None]:
        """Without an imageRef, the image the root volume is made of and the properties the
        boot reads (:mod:`.boot_image_properties`); (None, None) with one."""
        if request.image_id is not None:
            return None, None
        devices = request.block_devices
        image = mapped_root(self.images, ctx, region, devices, session)
        if image is not None:
            return image, image.properties
        legacy = request.legacy_mapping
        return None, root_volume_properties(
            self.volumes, ctx, region, devices, session, legacy=legacy
        )

    def _root_image(
        self,
        ctx: RequestContext,
        region: str,
        flavor: Flavor,
        disks: BootDisks,
        session: Session,
        loaded: BootImage | None,
    ) -> None:
        root = disks.root
        if root is None or root.source != "image" or root.source_id is None:
            return
        image = loaded if loaded is not None and loaded.id == root.source_id else None
        try:
            image = image or self.images.image_for_boot(ctx, region, root.source_id, session)
        except NotFound as exc:
            raise BadRequest(
                f"Block Device Mapping is Invalid: failed to get image {root.source_id}."
            ) from exc
        check_root_volume_fits(flavor, image, root)

    def _images_of_no_disk(
        self, ctx: RequestContext, region: str, request: BootRequest, session: Session
    ) -> None:
        """Nova looks up every image a mapping names, one it makes no disk of (an image
        without ``destination_type``) too: one it cannot find is its 400."""
        for device in request.block_devices:
            if device.source_type != "image" or device.destination_type is not None:
                continue
            if device.uuid is None or device.uuid == request.image_id:
                continue
            try:
                self.images.image_for_boot(ctx, region, device.uuid, session)
            except NotFound as exc:
                raise BadRequest(
                    f"Block Device Mapping is Invalid: failed to get image {device.uuid}."
                ) from exc

    def _public_key(
        self, ctx: RequestContext, key_name: str | None, session: Session
    ) -> str | None:
        if key_name is None:
            return None
        try:
            return self.keypairs.get(ctx, key_name, session=session).public_key
        except NotFound as exc:
            raise BadRequest("Invalid key_name provided.") from exc

    def _count(
        self,
        session: Session,
        project_id: str,
        request: BootRequest,
        flavor: Flavor,
        limits: Mapping[str, int],
    ) -> int:
        """How many servers to create: ``max_count``, or fewer down to ``min_count`` if the
        quota allows only that many (as Nova does); 403 below ``min_count``."""
        vcpus, ram_mb = flavor.vcpus, flavor.ram_mb
        for count in range(request.max_count, request.min_count, -1):
            try:
                self.quotas.check_servers(session, project_id, count, vcpus, ram_mb, limits=limits)
            except QuotaExceeded:
                continue
            return count
        self.quotas.check_servers(
            session, project_id, request.min_count, vcpus, ram_mb, limits=limits
        )
        return request.min_count

    @staticmethod
    def _check_metadata(limits: Mapping[str, int], metadata: Mapping[str, str]) -> None:
        allowed = limits.get("metadata_items", -1)
        if allowed >= 0 and len(metadata) > allowed:
            raise QuotaExceeded(f"Maximum number of metadata items exceeds {allowed}")

    def _allocate(
        self,
        ctx: RequestContext,
        region: str,
        server_id: str,
        request: BootRequest,
        groups: Sequence[str],
    ) -> list[ServerPort]:
        """The server's ports; an unknown network, port or group is Nova's 400, not a 404."""
        try:
            return self.networking.allocate_for_server(
                ctx, region, server_id, request.networks, groups
            )
        except NotFound as exc:
            raise BadRequest(exc.message) from exc

    # -- create ------------------------------------------------------------------------------

    def create(self, ctx: RequestContext, region: str, request: BootRequest) -> BootResult:
        self.regions.require(region, "compute")
        project_id = ctx.project_id
        if project_id is None:
            raise BadRequest("Servers are created in a project: use a project-scoped token.")
        zone = (request.availability_zone or DEFAULT_ZONE).split(":", 1)[0] or DEFAULT_ZONE
        if zone != DEFAULT_ZONE:
            raise BadRequest("The requested availability zone is not available")
        if request.min_count > request.max_count:
            raise BadRequest("min_count must be <= max_count")
        # the flavor, the images, the key pair and the quota: read in one unit of work
        with self.db.session() as session:
            flavor = self._flavor(ctx, region, request.flavor_id, session)
            requested = self._image(ctx, region, request.image_id, session)
            mapped_root, root_properties = self._boot_image_properties(
                ctx, region, request, session
            )
            disks, local = self._disks(region, request, flavor, requested, root_properties)
            image = (
                requested
                if disks.image_id == request.image_id
                else self._image(ctx, region, disks.image_id, session)
            )
            if image is not None:
                check_image_fits(flavor, image)
            self._root_image(ctx, region, flavor, disks, session, mapped_root)
            self._images_of_no_disk(ctx, region, request, session)
            public_key = self._public_key(ctx, request.key_name, session)
            if request.user_data is not None:
                decode_user_data(request.user_data)
            limits = self.quotas.limits(project_id, session)
            self._check_metadata(limits, request.metadata)
            count = self._count(session, project_id, request, flavor, limits)

        server_ids = [str(uuid.uuid4()) for _ in range(count)]
        # one server of a backend whose boot starts with quick API calls: its first step is
        # made here, before the answer (which shows what was written: BUILD)
        here = count == 1 and self.regions.capabilities(region).steps_in_request
        groups = request.security_groups or ("default",)
        ports: dict[str, list[ServerPort]] = {}
        volumes: dict[str, ReservedBootVolumes] = {}
        try:
            for server_id in server_ids:
                if disks.volumes and self.volumes is not None:
                    volumes[server_id] = self.volumes.reserve_for_boot(
                        ctx, region, server_id, disks.volumes
                    )
                ports[server_id] = self._allocate(ctx, region, server_id, request, groups)
            reservation_id = new_reservation_id()
            with self.db.session() as session:
                written = [
                    write_server(
                        session,
                        self.tasks,
                        ctx,
                        region,
                        request,
                        server_id=server_id,
                        index=index,
                        count=count,
                        flavor=flavor,
                        image=image,
                        shown_image_id=request.image_id or disks.image_id,
                        public_key=public_key,
                        ports=ports[server_id],
                        groups=groups,
                        zone=zone,
                        reservation_id=reservation_id,
                        volumes=volumes.get(server_id),
                        local=local,
                        root_device=disks.root_device,
                        run_here=here,
                    )
                    for index, server_id in enumerate(server_ids)
                ]
                session.flush()
                # counted again with the rows written: a concurrent create may have come first
                self.quotas.check_servers(
                    session,
                    project_id,
                    count,
                    flavor.vcpus,
                    flavor.ram_mb,
                    added=True,
                    limits=limits,
                )
                servers = [record(row) for row, _task in written]
        except BaseException:
            for server_id in ports:
                self.networking.release_for_server(region, server_id)
            for server_id, reserved in volumes.items():
                assert self.volumes is not None
                self.volumes.abandon_boot(region, server_id, reserved.created)
            raise
        if here:
            self.tasks.run_now(written[0][1])
        return BootResult(servers, reservation_id, request.admin_password or new_password())
