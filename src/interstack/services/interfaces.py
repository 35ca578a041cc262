"""What one service needs from another, as small protocols.

Compute boots servers on ports that the network service owns and from images that the image
service owns, and its servers hold volumes that block storage owns. Compute depends on these
protocols only; the network, image and volume services implement them, and the app factory hands
the implementations to compute.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

from sqlalchemy.orm import Session

from interstack.backends.contract import BootVolume, NativeRef
from interstack.backends.contract import ImageInfo as StoredImage
from interstack.services.context import RequestContext


@dataclass(frozen=True)
class RequestedNetwork:
    """One entry of a server create's ``networks``: a network (optionally a fixed IP), or a port."""

    network_id: str | None = None
    port_id: str | None = None
    fixed_ip: str | None = None
    #: Nova's device role tag (2.32+): kept with the server's interface, not on Neutron's port
    tag: str | None = None


@dataclass(frozen=True)
class ServerPort:
    port_id: str
    network_id: str
    mac_address: str
    fixed_ips: tuple[str, ...]
    native_ref: NativeRef | None
    #: the device role tag the port was asked for with
    tag: str | None = None


@dataclass(frozen=True)
class ServerAddress:
    """One entry of a server's ``addresses``, grouped there by network name."""

    network_name: str
    address: str
    version: Literal[4, 6]
    kind: Literal["fixed", "floating"]
    mac_address: str


@dataclass(frozen=True)
class ServerGroupRule:
    """An ingress rule of a server's security group, in the terms Nova shows it."""

    id: str
    group_id: str
    protocol: str | None
    port_range_min: int | None
    port_range_max: int | None
    remote_ip_prefix: str | None
    #: name and project of the remote group, when the rule names one
    remote_group: tuple[str, str] | None


@dataclass(frozen=True)
class ServerSecurityGroup:
    id: str
    name: str
    description: str
    project_id: str
    rules: tuple[ServerGroupRule, ...]


@dataclass(frozen=True)
class InterfaceIp:
    ip_address: str
    subnet_id: str


@dataclass(frozen=True)
class ServerInterface:
    """One of a server's ports, as ``os-interface`` shows it."""

    port_id: str
    network_id: str
    mac_address: str
    #: Neutron's port status (``ACTIVE``, ``DOWN``...)
    status: str
    fixed_ips: tuple[InterfaceIp, ...]
    native_ref: NativeRef | None


class ServerNetworking(Protocol):
    def allocate_for_server(
        self,
        ctx: RequestContext,
        region: str,
        server_id: str,
        requested: Sequence[RequestedNetwork] | Literal["auto", "none"],
        security_groups: Sequence[str],
    ) -> list[ServerPort]:
        """Ports for a new server, bound to it (``device_id`` = server, owner ``compute:<az>``).

        No networks asked for (an empty sequence, as before microversion 2.37) uses the
        project's one available network, nothing if there is none, Nova's 409 if there are
        several; ``auto`` does the same but answers 400 when there is none; ``none`` allocates
        nothing. Security groups are names or ids in the caller's project (400 if unknown). On
        any failure, ports created here are deleted and pre-existing ports are left unbound:
        nothing is half-allocated.
        """
        ...

    def interfaces(self, region: str, server_id: str) -> list[ServerInterface]:
        """The server's ports, oldest first."""
        ...

    def attach_interface(
        self,
        ctx: RequestContext,
        region: str,
        server_id: str,
        requested: RequestedNetwork | None,
    ) -> ServerInterface:
        """One more port for an existing server: the requested port (409 if bound to any
        device), or a new port on the requested network (with the fixed IP if given), or,
        with ``None``, on the project's one available network (400 if none or several). A new
        port gets the project's default security group, as Nova leaves it to Neutron."""
        ...

    def detach_interface(self, region: str, server_id: str, port_id: str) -> None:
        """Undo an attach: delete a port made for the server, unbind one the user brought
        (``NotFound`` if the server has no such port)."""
        ...

    def add_security_group(
        self, ctx: RequestContext, region: str, server_id: str, group: str
    ) -> None:
        """Put the caller's group (name or id) on every port of the server; 404 if the group
        or the server's ports are not found, 400 if a port cannot take groups."""
        ...

    def remove_security_group(
        self, ctx: RequestContext, region: str, server_id: str, group: str
    ) -> None:
        """Take the group off every port of the server; 404 if no port has it."""
        ...

    def release_for_server(self, region: str, server_id: str) -> None:
        """Delete the ports created for the server, unbind the ones the user brought, and
        disassociate floating IPs from them. Idempotent."""
        ...

    def addresses(
        self, region: str, server_ids: Sequence[str]
    ) -> Mapping[str, Sequence[ServerAddress]]:
        """Current fixed and floating addresses of each server, from the ports (one query)."""
        ...

    def addresses_and_groups(
        self, region: str, server_ids: Sequence[str], session: Session | None = None
    ) -> tuple[Mapping[str, Sequence[ServerAddress]], Mapping[str, Sequence[str]]]:
        """:meth:`addresses` and each server's security group names, port by port as Nova
        lists them, from one read of the ports (a server's view needs both); in ``session``
        when given (the caller's read of the servers), else in a session of its own."""
        ...

    def security_groups(self, region: str, server_id: str) -> Sequence[ServerSecurityGroup]:
        """The security groups on the server's ports (each once), with their ingress rules."""
        ...


@dataclass(frozen=True)
class VolumeSnapshotForImage:
    """A Cinder snapshot of one of a server's volumes, taken for the server's ``createImage``,
    with what the image's block device mapping says of the volume it came from."""

    snapshot_id: str
    #: where the server has the volume (``/dev/vda``...)
    device: str | None
    size_gb: int
    #: 0 for the server's root volume, None for the others
    boot_index: int | None
    delete_on_termination: bool


class ServerVolumeSnapshots(Protocol):
    """Which servers are volume-backed, and snapshots of their volumes for their images (Nova's
    ``createImage`` of such a server has Cinder take them)."""

    def boots_from_volume(self, region: str, server_id: str) -> bool:
        """Whether the server's root disk is a volume (its attachment of boot index 0), whatever
        image it was booted with."""
        ...

    def snapshot_for_image(
        self, ctx: RequestContext, region: str, server_id: str, image_name: str
    ) -> list[VolumeSnapshotForImage]:
        """Snapshot every volume attached to the server (``force``: in-use ones too), named
        ``snapshot for <image name>``, root first; all are made or none. Cinder's 400s for a
        volume that cannot be snapshotted, 413 over quota."""
        ...

    def discard_for_image(self, region: str, snapshot_ids: list[str]) -> None:
        """The image those snapshots were for was not made: delete them (the ones still being
        created once the backend has them)."""
        ...


class ServerVolumeRelease(Protocol):
    def release_for_server(self, region: str, server_id: str) -> None:
        """The server is gone (the backend detached its volumes): its attachments go, its
        volumes are ``available`` again, and the ones marked ``delete_on_termination`` are
        deleted. Idempotent."""
        ...


@dataclass(frozen=True)
class VolumeForBoot:
    """A volume a new server gets at boot (one ``block_device_mapping_v2`` entry with a volume
    destination): one the user brings (``source`` ``volume``), or one made for the server from
    an image, a snapshot or nothing (``blank``)."""

    source: Literal["volume", "image", "snapshot", "blank"]
    #: the volume, image or snapshot id; None for ``blank``
    source_id: str | None
    #: the device the guest sees (``/dev/vda`` for the root)
    device: str
    #: GiB of a volume made for the server (None: the snapshot's size)
    size_gb: int | None = None
    volume_type: str | None = None
    delete_on_termination: bool = False
    #: the server boots from it (``boot_index`` 0)
    root: bool = False
    #: the device role tag (``block_device_mapping_v2[].tag``)
    tag: str | None = None


@dataclass(frozen=True)
class ReservedBootVolumes:
    """What ``reserve_for_boot`` did, for the boot task (which undoes it if the boot fails)."""

    #: the volumes made for the server, in request order
    created: tuple[str, ...]
    #: the root volume's id, None when the server boots from an image
    root_id: str | None


@dataclass(frozen=True)
class ReadyBootVolumes:
    """The server's boot volumes once each is ``available``, as the backend gets them."""

    root: BootVolume | None
    data: tuple[BootVolume, ...]


@dataclass(frozen=True)
class VolumesAtRebuild:
    """What a rebuild must know of a server's volumes before it is accepted (Nova's checks)."""

    #: the server boots from a volume (its attachment of boot index 0)
    volume_backed: bool
    #: the image the root volume was made of (Cinder's ``volume_image_metadata.image_id``)
    root_image_id: str | None = None
    #: the attached volumes that are not ``in-use`` (being attached or detached): id, status
    not_in_use: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class AttachedVolume:
    """One entry of a server's ``os-extended-volumes:volumes_attached``."""

    volume_id: str
    delete_on_termination: bool


class ServerBootVolumes(Protocol):
    """The volumes of a server booted with volume block device mappings (Nova's boot from
    volume), owned by block storage: reserved or created at the request, attached by the boot."""

    def reserve_for_boot(
        self,
        ctx: RequestContext,
        region: str,
        server_id: str,
        volumes: Sequence[VolumeForBoot],
    ) -> ReservedBootVolumes:
        """Reserve the volumes the user brings (``reserved``) and create the others in the
        caller's project (``creating``, counted in its quotas), each with an ``attaching``
        attachment to the server at its device, in one transaction.

        Nova's 400s: a volume, snapshot or image not found or of another project ("Block
        Device Mapping is Invalid: failed to get volume ..."), a volume that is not available
        ("Invalid volume: ..."), a size too small for its source; 413/403 over quota. If this
        raises, nothing was reserved or created.
        """
        ...

    def image_properties(
        self, ctx: RequestContext, region: str, source: str, source_id: str, session: Session
    ) -> Mapping[str, str]:
        """The image metadata (Cinder's ``volume_image_metadata``) of a volume the caller sees,
        or of a snapshot's volume (``source`` ``snapshot``): the properties of a boot from it.
        Empty if there is none or it cannot be seen (:meth:`reserve_for_boot` says why)."""
        ...

    def ready_for_boot(
        self, region: str, server_id: str, root_id: str | None
    ) -> ReadyBootVolumes | None:
        """The server's boot volumes with their backend refs (``root_id`` as the root), marked
        ``attaching``, once each is available; None while one is still being created. Raises
        ``BackendError`` with a message for the server's fault if one failed."""
        ...

    def attached_at_boot(self, region: str, server_id: str) -> None:
        """The server runs: its boot volumes are ``in-use``, their attachments ``attached``."""
        ...

    def abandon_boot(self, region: str, server_id: str, created: Sequence[str]) -> None:
        """The boot failed or never started: detach the server's boot volumes in the backend,
        delete those in ``created``, and make the others ``available`` again. Idempotent."""
        ...

    def volumes_at_rebuild(self, region: str, server_id: str, session: Session) -> VolumesAtRebuild:
        """The server's volumes as a rebuild request sees them, in ``session``: the rebuild's
        own, which checks and changes the server."""
        ...

    def attached_for_rebuild(self, region: str, server_id: str) -> ReadyBootVolumes:
        """The server's attached volumes with their backend refs, root included, for the
        backend to attach again when it boots the server anew (a rebuild keeps them)."""
        ...

    def volumes_attached(
        self, region: str, server_ids: Sequence[str], session: Session | None = None
    ) -> Mapping[str, Sequence[AttachedVolume]]:
        """Each server's attached (or attaching) volumes, oldest first (one query); in
        ``session`` when given, else in a session of its own."""
        ...


@dataclass(frozen=True)
class BootImage:
    id: str
    name: str
    min_disk_gb: int
    min_ram_mb: int
    size_bytes: int | None
    disk_format: str | None
    container_format: str | None
    native_ref: NativeRef | None
    #: the image's additional properties (``block_device_mapping`` of a volume-backed
    #: server's snapshot among them)
    properties: Mapping[str, str] = field(default_factory=dict)
    #: the MD5 of its data (Glance's ``checksum``), which a volume made of it keeps
    checksum: str | None = None


class BootImages(Protocol):
    def image_for_boot(
        self, ctx: RequestContext, region: str, image_id: str, session: Session | None = None
    ) -> BootImage:
        """The image a server boots from: visible to the caller and ``active``; read in
        ``session`` when the caller has one open (a boot's).

        NotFound (Nova answers 400 "Image ... could not be found") if not visible; BadRequest if
        it is not active.
        """
        ...


class SnapshotImage(Protocol):
    @property
    def id(self) -> str: ...


class ServerSnapshots(Protocol):
    """Registers the image of a server's ``createImage``: a record at once, data later."""

    def begin_snapshot(
        self,
        ctx: RequestContext,
        region: str,
        name: str,
        *,
        server_id: str,
        base: BootImage | None = None,
        inherited: Mapping[str, str] | None = None,
        metadata: Mapping[str, str] | None = None,
        root_gb: int = 0,
        instance_project: str | None = None,
    ) -> SnapshotImage:
        """An image of the caller's project, not yet usable; its id answers the call:
        ``inherited`` properties (the server's image's) under Nova's own and ``metadata``;
        ``root_gb`` (the server's flavor's root disk) and the image's min_disk its min_disk.
        Private, or shared with the server's project (``instance_project``) if another's."""
        ...

    def finish_snapshot(self, region: str, image_id: str, stored: StoredImage) -> object:
        """Activate the image with the data the backend stored for it."""
        ...

    def begin_volume_backed(
        self,
        ctx: RequestContext,
        region: str,
        name: str,
        *,
        metadata: Mapping[str, str] | None = None,
        instance_project: str | None = None,
    ) -> SnapshotImage:
        """A volume-backed server's image, not yet usable: it will hold no data, only the
        block device mapping of its volumes' snapshots; shared as :meth:`begin_snapshot`'s."""
        ...

    def finish_volume_backed(
        self, region: str, image_id: str, properties: Mapping[str, str]
    ) -> None:
        """Activate the image without data, ``properties`` added to it."""
        ...

    def abandon_snapshot(self, region: str, image_id: str) -> None:
        """The snapshot failed: remove the image record and any data."""
        ...


@dataclass(frozen=True)
class VolumeUpload:
    """The image an ``os-volume_upload_image`` asks for."""

    name: str
    volume_id: str
    disk_format: str = "raw"
    container_format: str = "bare"
    visibility: str = "private"
    protected: bool = False
    min_disk: int = 0


class VolumeImages(Protocol):
    """What block storage uses of images: the source of a volume (``image_for_boot``: visible
    and active) and the target of ``os-volume_upload_image``."""

    def image_for_boot(self, ctx: RequestContext, region: str, image_id: str) -> BootImage: ...

    def begin_upload(self, ctx: RequestContext, region: str, upload: VolumeUpload) -> SnapshotImage:
        """A private (or as asked) ``saving`` image of the caller's project."""
        ...

    def finish_snapshot(self, region: str, image_id: str, stored: StoredImage) -> object:
        """Activate the image with the data the backend stored for it."""
        ...

    def abandon_snapshot(self, region: str, image_id: str) -> None:
        """The copy failed: remove the image record and any data."""
        ...


class ConfigDrives(Protocol):
    """The contents of a server's config drive, as its metadata service would answer them."""

    def files(self, region: str, server_id: str) -> Mapping[str, bytes]:
        """Path in the drive (``openstack/latest/meta_data.json``…) -> contents."""
        ...
