"""Compute: servers, their power state and their console."""

from __future__ import annotations

import abc
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from interstack.backends.contract.common import NativeRef
from interstack.backends.contract.storage import ImageInfo
from interstack.errors import NotSupported

_HOSTNAME_SEPARATORS = re.compile(r"[ _.]+")
_NOT_IN_HOSTNAME = re.compile(r"[^a-z0-9-]+")


def hostname_for(server_name: str) -> str:
    """The guest's host name from a server's display name: one rule for what the API shows
    (``OS-EXT-SRV-ATTR:hostname``), what the metadata service tells cloud-init and what a
    backend gives the guest, so that the three never differ.

    As Nova sanitizes a display name: spaces, underscores and dots become ``-``, anything else
    that is not a letter, digit or ``-`` goes, lower case, one RFC 1123 label (63 characters,
    no ``-`` at either end); ``server`` when nothing is left. Unlike Nova, letters outside
    ASCII go too, so the result is always a name a resolver accepts.
    """
    label = _NOT_IN_HOSTNAME.sub("", _HOSTNAME_SEPARATORS.sub("-", server_name.lower()))
    return label.strip("-")[:63].strip("-") or "server"


class ServerStatus(StrEnum):
    """Where a server is in its lifecycle, as the backend sees it.

    The services layer maps these onto each API's own words (Nova's ``BUILD``, ``SHUTOFF``...).
    """

    BUILDING = "building"
    ACTIVE = "active"
    STOPPED = "stopped"
    PAUSED = "paused"
    SUSPENDED = "suspended"
    REBOOTING = "rebooting"
    ERROR = "error"
    DELETED = "deleted"


class PowerAction(StrEnum):
    START = "start"
    STOP = "stop"
    REBOOT = "reboot"
    HARD_REBOOT = "hard_reboot"
    PAUSE = "pause"
    UNPAUSE = "unpause"
    SUSPEND = "suspend"
    RESUME = "resume"


@dataclass(frozen=True)
class FlavorSpec:
    """The size of a server; backends pick their nearest native size that is not smaller,
    or, with the ``native_flavors`` capability, boot the native size named ``name``."""

    vcpus: int
    ram_mb: int
    disk_gb: int
    #: the flavor's name (a native size's name where the region's flavors are its sizes)
    name: str = ""


@dataclass(frozen=True)
class NativeSize:
    """One of a cloud's own server sizes (an EC2 instance type) with its real figures: with
    the ``native_flavors`` capability these are the region's flavors."""

    name: str
    vcpus: int
    ram_mb: int
    #: the root disk a server of this size has of its own; 0 where the root disk is the
    #: image's or a volume's size (Nova's disk 0)
    disk_gb: int = 0
    #: what else a person choosing the size should know (the cloud's local storage...)
    description: str | None = None


@dataclass(frozen=True)
class BootVolume:
    """A volume a server has from its first boot, and the device the guest sees it at."""

    ref: NativeRef
    #: the server's root device for the root volume (``/dev/vda`` unless its image names
    #: another), ``/dev/vdb``... for data volumes
    device: str


#: the fault of a server no host has room for, as Nova's scheduler words it (``NoValidHost``)
NO_VALID_HOST = "No valid host was found. There are not enough hosts available."
#: a :class:`LocalDisk`'s ``guest_format`` when it is the swap disk
SWAP_FORMAT = "swap"
#: the filesystem of an ephemeral disk whose mapping names none (Nova's on Linux guests)
DEFAULT_EPHEMERAL_FORMAT = "ext4"


@dataclass(frozen=True)
class LocalDisk:
    """A blank disk of the server's own besides its root (Nova's ephemeral and swap disks):
    made with the server, formatted before its first boot, deleted with it, never a volume."""

    #: Nova's virtual name: ``ephemeral0``, ``ephemeral1``... (also the filesystem label of
    #: an ephemeral disk, as Nova labels it), or ``swap``
    name: str
    #: the device the guest sees it at (``/dev/vdb``)
    device: str
    size_mb: int
    #: the filesystem it is made with (``ext4``...), or :data:`SWAP_FORMAT`
    guest_format: str = DEFAULT_EPHEMERAL_FORMAT

    @property
    def swap(self) -> bool:
        return self.guest_format == SWAP_FORMAT


@dataclass(frozen=True)
class ServerSpec:
    """Everything a backend needs to boot one server. Refs point at resources it realized.

    A server boots from ``image`` or, with the ``boot_from_volume`` capability, from
    ``root_volume`` (``image`` is then None): an ``AVAILABLE`` volume of this backend that the
    gateway filled from an image (or a snapshot, or the user brought), which becomes the
    server's root disk at ``root_volume.device``. ``volumes`` are data volumes attached at boot.
    """

    gateway_id: str
    name: str
    project_id: str
    flavor: FlavorSpec
    image: NativeRef | None = None
    ports: tuple[NativeRef, ...] = ()
    key_name: str | None = None
    public_key: str | None = None
    user_data: bytes | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)
    #: the files of the config drive the user asked for (``openstack/latest/meta_data.json``
    #: -> contents), to be shown to the instance as a drive labelled ``config-2``; None: none
    config_drive: Mapping[str, bytes] | None = None
    #: the volume the server boots from instead of an image (Nova's boot from volume)
    root_volume: BootVolume | None = None
    #: data volumes attached from the first boot on, beyond the root
    volumes: tuple[BootVolume, ...] = ()
    #: ephemeral and swap disks, with the ``ephemeral_disks`` capability (a backend without
    #: it is never given any)
    local_disks: tuple[LocalDisk, ...] = ()
    #: the device the guest sees its root disk at (Nova's ``root_device_name``: the image's, or
    #: the root volume's): no volume or local disk is given it, and ``/dev/vda`` is free for
    #: one when the root is elsewhere (``/dev/sda``)
    root_device: str = "/dev/vda"


@dataclass(frozen=True)
class ServerInfo:
    """A server as the backend sees it now."""

    ref: NativeRef
    gateway_id: str
    status: ServerStatus
    #: why the server is in ``ERROR``: one line a person can act on, no stack traces
    fault: str | None = None
    #: a ``STOPPED`` server whose guest died rather than shut down (Nova's ``CRASHED`` power
    #: state); until it is started again
    crashed: bool = False
    #: a ``STOPPED`` server whose guest ended (powered off, crashed) during the boot a create,
    #: start or reboot made, before it was up: how, one line a person can act on. It will not
    #: come up by itself: a start or reboot waiting for ``ACTIVE`` fails at once
    boot_ended: str | None = None


class ComputeDriver(abc.ABC):
    """Boots, powers and deletes servers."""

    def device_name_refusal(self, device: str) -> str | None:
        """Why a guest of this cloud cannot see a disk at ``device`` (``/dev/vdb``: one name
        under ``/dev``, as the gateway checked), one sentence a person can act on; None where
        it can. The gateway asks before it takes a boot (its root, volumes and local disks)
        or an attachment, so a name the cloud would fail at is the request's 400, not a
        server in ``ERROR`` or a failed attachment. Any name by default."""
        del device  # a cloud of no rules of its own
        return None

    def native_sizes(self) -> tuple[NativeSize, ...]:
        """The sizes this cloud boots (``native_flavors`` capability), as the region's
        flavors: a ``ServerSpec`` whose ``flavor.name`` names one boots exactly that size.
        Raises ``NotSupported`` without the capability (the default)."""
        raise NotSupported("this backend's flavors are the gateway's, not sizes of its own")

    @abc.abstractmethod
    def create_server(self, spec: ServerSpec) -> ServerInfo:
        """Start booting a server and return at once, usually in ``BUILDING``.

        Postconditions: the server exists in the backend, tagged with ``spec.gateway_id``; later
        ``get_server`` calls report ``ACTIVE`` once it runs, ``STOPPED`` (``crashed`` for a
        crash) if its guest powered off before it was up, or ``ERROR`` with a fault if the
        boot failed (the server then still exists and must be deleted). Called again with the
        same gateway id it returns the existing server. If this raises, nothing is left behind.

        Volumes (``spec.root_volume`` and ``spec.volumes``): once ``get_server`` reports
        ``ACTIVE``, ``BlockStorageDriver.get_volume`` reports each ``IN_USE`` with
        ``attached_to`` the server, at the device the spec names; they stay attached while the
        server is ``ERROR`` (``delete_server`` detaches them, never deletes them). If this
        raises, the volumes are left ``AVAILABLE`` and unattached. A ``root_volume`` without
        the ``boot_from_volume`` capability raises ``NotSupported`` before anything exists.
        A server the backend has no room for (its disks, cores or memory beyond what its hosts
        may hold) raises ``BackendError`` with :data:`NO_VALID_HOST` before anything exists:
        the server goes to ``ERROR`` with that fault, as Nova's does when it cannot be placed.

        Local disks (``spec.local_disks``, with the ``ephemeral_disks`` capability): the guest
        sees each at its device, formatted as its ``guest_format`` says (an ephemeral disk's
        filesystem labelled with its name, as Nova labels it), from the first boot on and
        across stops, reboots and gateway restarts; ``delete_server`` deletes them.
        """

    @abc.abstractmethod
    def get_server(self, ref: NativeRef) -> ServerInfo:
        """The server's current state. Raises ``NotFound`` once it is gone."""

    @abc.abstractmethod
    def delete_server(self, ref: NativeRef) -> None:
        """Destroy the server and everything the backend created only for it.

        Attached volumes are detached, not deleted; ports stay (they belong to the network
        driver). Deleting a server that is already gone is not an error. The deletion may
        complete in the background; ``get_server`` raises ``NotFound`` once it has.
        """

    @abc.abstractmethod
    def power_action(self, ref: NativeRef, action: PowerAction) -> ServerInfo:
        """Start, stop, reboot, pause, unpause, suspend or resume the server.

        Returns the state right after the request was accepted (``REBOOTING`` may precede
        ``ACTIVE``). Raises ``Conflict`` if the server's state forbids the action (pausing a
        stopped server) and ``NotSupported`` for pause/suspend without the capability. A failed
        action leaves the server in the state it was in.
        """

    def resize_server(self, ref: NativeRef, flavor: FlavorSpec) -> ServerInfo:
        """Give the server a new size, keeping its disk, ports and volumes.

        Returns the state right after the request was accepted; ``get_server`` reports the
        server back in the state it was in (``ACTIVE`` or ``STOPPED``) once it is done. Raises
        ``Conflict`` from other states and ``NotSupported`` without the ``resize`` capability
        (the default for backends that cannot resize).
        """
        raise NotSupported(f"server {ref}: this backend cannot resize servers")

    def snapshot_server(self, ref: NativeRef, image_gateway_id: str) -> ImageInfo:
        """Capture the server's disk as image data, stored as ``ImageDriver.store_image``
        stores it (usable as ``ServerSpec.image`` once this returns an info that is ``ready``).

        A backend whose capture takes long may start it and answer ``ready=False`` at once;
        the caller asks again later with the same ``image_gateway_id`` (idempotent: the capture
        in progress is looked at, not started again) until it is ready. The server keeps
        running. If this raises, nothing is left behind. Raises ``NotSupported`` without the
        ``server_snapshots`` capability (the default). A ready info names the ``disk_format``
        and ``container_format`` of the bytes when they are not the server's image's (the
        image takes them).
        """
        raise NotSupported(f"server {ref}: this backend cannot capture server images")

    def attach_port(self, ref: NativeRef, port: NativeRef) -> None:
        """Plug a realized port into the server as one more interface (Nova's ``os-interface``).

        The server keeps its state; attaching a port it already has is a no-op. Raises
        ``NotSupported`` without the ``interface_attach`` capability (the default).
        """
        raise NotSupported(f"server {ref}: this backend cannot attach interfaces")

    def detach_port(self, ref: NativeRef, port: NativeRef) -> None:
        """Unplug the port from the server; the port itself stays (the network driver owns it).

        Detaching a port the server does not have is a no-op. Raises ``NotSupported`` without
        the ``interface_attach`` capability (the default).
        """
        raise NotSupported(f"server {ref}: this backend cannot detach interfaces")

    def set_admin_password(self, ref: NativeRef, password: str) -> None:
        """Set the password of the guest's administrator account, while the server runs.

        Returns once the guest took it. Raises ``Conflict`` if the guest cannot take it now (no
        agent answering) and ``NotSupported`` without the ``set_admin_password`` capability
        (the default). Implementations never log or store the clear text.
        """
        raise NotSupported(f"server {ref}: this backend cannot set a guest's password")

    def set_server_metadata(self, ref: NativeRef, metadata: Mapping[str, str]) -> None:
        """Show the server's metadata, as it is now, where the cloud shows what a boot wrote
        of it (the aws backend's ``meta:<key>`` tags), so that the cloud follows its changes.

        Optional: the store is the metadata's home; a backend that shows it nowhere keeps this
        no-op default. Raising leaves the metadata as it was.
        """
        del ref, metadata  # shown nowhere but through the API

    def watch_settling(self, settled: Callable[[str], None]) -> None:
        """Call ``settled(gateway_id)`` (from any thread) when a booting server settles, so
        that the gateway looks at it at once instead of at its next poll.

        Optional: a backend that cannot tell cheaply keeps this no-op default; polling
        ``get_server`` still sees every change, only later. ``settled`` must not raise.
        """
        del settled  # nothing to tell: the gateway's polling sees every change

    @abc.abstractmethod
    def console_output(self, ref: NativeRef, length: int | None = None) -> str:
        """The last ``length`` lines of the server's serial console (all when ``None``).

        Raises ``NotSupported`` without the ``console_output`` capability.
        """

    @abc.abstractmethod
    def list_servers(self) -> list[ServerInfo]:
        """Every server this backend holds for the gateway, for the reconciler.

        Includes servers the store may not know (a crash between ``create_server`` and the
        store write) so they can be adopted or deleted; never includes foreign servers that
        carry no gateway id. Complete, across gateway restarts too: a server missing here is
        gone, and the reconciler shows its store server in ``ERROR`` as lost.
        """
