"""The backend: capabilities, lifecycle, and the drivers it is composed of."""

from __future__ import annotations

import abc
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from interstack.backends.contract.compute import ComputeDriver
from interstack.backends.contract.network import NetworkDriver
from interstack.backends.contract.objects import ObjectStoreDriver
from interstack.backends.contract.storage import BlockStorageDriver, ImageDriver
from interstack.errors import NotSupported
from interstack.store import Database


@dataclass(frozen=True)
class Capabilities:
    """What a backend can do. The services layer adapts to these flags (it hides an extension,
    answers the OpenStack error for an unsupported action) and never asks which backend it is.
    Tests skip by these flags, never by backend name."""

    compute: bool = False
    pause: bool = False
    suspend: bool = False
    console_output: bool = False
    resize: bool = False
    #: the region's flavors are its compute driver's own sizes (``ComputeDriver.native_sizes``,
    #: EC2's instance types with their real figures), not the gateway's shared ones; a server
    #: boots and resizes to exactly the size its flavor names
    native_flavors: bool = False
    #: a server's disk can be captured as an image (Nova's ``createImage``)
    server_snapshots: bool = False
    #: ports plug into and out of existing servers (Nova's ``os-interface`` attach/detach)
    interface_attach: bool = False
    #: the guest's administrator password can be set while it runs (Nova's ``changePassword``)
    set_admin_password: bool = False
    networks: bool = False
    floating_ips: bool = False
    #: the driver takes the floating IP address the gateway's IPAM chose from the external
    #: subnet's pools; without it the cloud assigns each address (EC2's Elastic IPs) and the
    #: gateway records the one the driver reports
    floating_ip_choice: bool = False
    security_groups: bool = False
    volumes: bool = False
    #: servers boot from a volume as their root disk (``ServerSpec.root_volume``), and take
    #: data volumes at boot (``ServerSpec.volumes``)
    boot_from_volume: bool = False
    #: servers get blank local disks besides their root, as a block device mapping asks
    #: (``blank`` -> ``local``: ephemeral and swap disks); without it such a boot is refused
    ephemeral_disks: bool = False
    #: volumes attach to and detach from running servers (else only stopped ones)
    volume_attach_hot: bool = False
    snapshots: bool = False
    #: volumes grow in place (``BlockStorageDriver.extend_volume``)
    volume_extend: bool = False
    #: a volume's data can be copied into image data (``copy_volume_to_image``)
    volume_to_image: bool = False
    #: image data can be uploaded to and downloaded from Glance (provided images need not)
    images: bool = False
    #: image data can be uploaded to Glance, and downloaded only where ``open_image`` can read
    #: it back (the cloud keeps machine images: EC2's AMIs); ``images`` implies it
    image_upload: bool = False
    object_store: bool = False
    #: servers are reachable over SSH from the gateway host (real guests, not simulated ones)
    ssh_reachable: bool = False
    #: instances read their metadata from the gateway's metadata service (see ``metadata.py``)
    metadata_service: bool = False
    #: the compute driver calls ``watch_settling``'s callback when a boot settles, so the
    #: gateway may look at a booting server rarely instead of every half second
    settle_notices: bool = False
    #: a server's boot and delete start with a few calls to a cloud's API that answer at once
    #: (no local work): the request that starts one makes the task's first step before it
    #: answers, so a backend that settles at once shows the server ACTIVE (or gone) at the
    #: client's first look; the task stays persisted and the workers take any later step
    steps_in_request: bool = False

    def names(self) -> frozenset[str]:
        """The names of the flags that are set."""
        return frozenset(f.name for f in fields(self) if getattr(self, f.name))


@dataclass(frozen=True)
class Polling:
    """How often the gateway's tasks look at a resource the cloud is still changing (a server
    booting, stopping or being deleted): the first look at once, then after ``first_seconds``,
    doubling per look up to ``ceiling_seconds``. An emulator or a local hypervisor settles in
    milliseconds and answers every look cheaply; a public cloud takes seconds to tens of
    seconds and throttles an account that asks too often, so its backend waits longer."""

    first_seconds: float = 0.025
    ceiling_seconds: float = 0.5
    #: how long the cloud's reads may lag a change it accepted (EC2's eventual consistency:
    #: a volume made or an attachment started moments ago not described yet); within it, a
    #: look that does not see the change yet is not its failure
    settling_seconds: float = 0.0

    def delay(self, looks: int, ceiling: float | None = None) -> float:
        """The wait before the next look after ``looks`` looks (at most ``ceiling`` where
        the caller has its own, else :attr:`ceiling_seconds`)."""
        top = self.ceiling_seconds if ceiling is None else ceiling
        return min(top, self.first_seconds * float(2 ** max(0, min(looks, 16))))


@dataclass(frozen=True)
class BackendContext:
    """What the registry hands a backend when it builds it for one region."""

    region: str
    #: the region's ``settings`` mapping from the config file; each backend validates its own
    settings: Mapping[str, Any] = field(default_factory=dict)
    #: a directory the backend owns for this region (image files, object data, bundles)
    data_dir: Path = Path()
    #: the gateway's store, for backends that keep state there (``sim``) or map refs
    db: Database | None = None


class Backend(abc.ABC):
    """One cloud serving one region, composed of per-domain drivers.

    Constructing a backend validates its settings (raising a ``ConfigError`` naming the region)
    but touches nothing outside the process; :meth:`start` connects, :meth:`close` lets go.
    A driver for a domain the capabilities leave out raises ``NotSupported`` from every method.
    """

    def __init__(self, context: BackendContext) -> None:
        self.context = context

    @property
    def region(self) -> str:
        return self.context.region

    @property
    @abc.abstractmethod
    def capabilities(self) -> Capabilities: ...

    @property
    def polling(self) -> Polling:
        """How often to look at a resource this cloud is still changing (fast by default:
        a backend whose cloud is slow or throttles says so)."""
        return Polling()

    @property
    @abc.abstractmethod
    def compute(self) -> ComputeDriver: ...

    @property
    @abc.abstractmethod
    def network(self) -> NetworkDriver: ...

    @property
    @abc.abstractmethod
    def block_storage(self) -> BlockStorageDriver: ...

    @property
    @abc.abstractmethod
    def image(self) -> ImageDriver: ...

    @property
    @abc.abstractmethod
    def object_store(self) -> ObjectStoreDriver: ...

    @abc.abstractmethod
    def start(self) -> None:
        """Prepare to serve: create directories, open clients, check credentials.

        Raises ``BackendUnavailable`` if the cloud cannot be reached and ``ConfigError`` if it
        rejects the configuration; a backend that raised is not used and need not be closed.
        """

    def clean_up(self, *, dry_run: bool = False) -> list[str]:
        """Remove from the cloud everything the gateway created for this region, whatever the
        gateway's store says (``interstack cleanup --region``), or with ``dry_run`` only list
        it; one line per resource. Called between :meth:`start` and :meth:`close` while no
        gateway serves the region. ``NotSupported`` by default (nothing to remove outside the
        gateway's own data directory)."""
        raise NotSupported(f"region {self.region}: its backend has no cloud resources to clean up")

    @abc.abstractmethod
    def close(self) -> None:
        """Release clients and files. Resources in the cloud stay. Safe to call twice."""
