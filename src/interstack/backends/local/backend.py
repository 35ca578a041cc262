"""The local backend: drivers composed over one host and one data directory."""

from __future__ import annotations

from dataclasses import replace

from interstack.backends.contract import (
    METADATA_SOCKET,
    Backend,
    BackendContext,
    BlockStorageDriver,
    Capabilities,
    ComputeDriver,
    ImageDriver,
    NetworkDriver,
    ObjectStoreDriver,
)
from interstack.backends.local import cpushare
from interstack.backends.local.compute import LocalCompute
from interstack.backends.local.host import unavailable_reason
from interstack.backends.local.hostdisk import HostDisk
from interstack.backends.local.images import LocalImages
from interstack.backends.local.network import LocalNetwork
from interstack.backends.local.objects import LocalObjectStore
from interstack.backends.local.settings import LocalSettings, image_cache_for
from interstack.backends.local.snapshots import ServerCaptures
from interstack.backends.local.volumes import LocalBlockStorage, hot_plug_supported
from interstack.errors import BackendUnavailable

CAPABILITIES = Capabilities(
    compute=True,
    pause=True,
    suspend=True,  # a pause under another name: see compute.py
    console_output=True,
    images=True,
    networks=True,
    floating_ips=True,
    floating_ip_choice=True,
    security_groups=True,
    ssh_reachable=True,
    object_store=True,
    metadata_service=True,
    interface_attach=True,
    set_admin_password=True,
    volumes=True,
    snapshots=True,
    volume_extend=True,
    volume_to_image=True,
    boot_from_volume=True,
    ephemeral_disks=True,  # a flavor's ephemeral and swap disks: see localdisks.py
    server_snapshots=True,  # createImage: see snapshots.py
    settle_notices=True,  # booting instances are watched: see bootwatch.py
)


class LocalBackend(Backend):
    """Servers as runc instances on this host; see the package docstring."""

    def __init__(self, context: BackendContext) -> None:
        super().__init__(context)
        self.settings = LocalSettings.parse(context.region, context.settings)
        data_dir = context.data_dir
        self._image = LocalImages(
            data_dir / "images",
            image_cache_for(data_dir, context.settings, context.region),
            self.settings.apt_sources,
        )
        self._network = LocalNetwork(
            data_dir / "network",
            external_cidr=self.settings.external_cidr,
            egress_cidrs=self.settings.egress_cidrs,
            lock_wait=self.settings.network_lock_wait_seconds,
            metadata_socket=data_dir / METADATA_SOCKET,
        )
        self._compute = LocalCompute(data_dir, self.settings, self._image, self._network)
        self._image.images_in_use = self._compute.images_in_use
        self._network.resolvers_changed = self._compute.refresh_resolvers
        self._object_store = LocalObjectStore(data_dir / "objects")
        self._block_storage = LocalBlockStorage(data_dir / "volumes", self._image, self._compute)
        self._compute.volumes = self._block_storage
        self._captures = ServerCaptures(
            data_dir / "captures",
            self._image,
            self._compute.instances_dir,
            self._compute.runc_root,
            self._compute.instance_lock,
        )
        self._captures.volumes = self._block_storage
        self._compute.captures = self._captures
        self._capabilities = replace(CAPABILITIES, volume_attach_hot=hot_plug_supported())
        self.host_disk = HostDisk(
            data_dir,
            disk_allocation_ratio=self.settings.disk_allocation_ratio,
            max_over_subscription_ratio=self.settings.max_over_subscription_ratio,
            capacity_mb=(
                None
                if self.settings.disk_capacity_gb is None
                else self.settings.disk_capacity_gb * 1024
            ),
        )
        self.host_disk.allotments = [
            self._compute.disk_allotted_mb,
            self._block_storage.disk_allotted_mb,
            self._image.disk_allotted_mb,
        ]
        self._image.host_disk = self.host_disk
        self._compute.host_disk = self.host_disk
        self._block_storage.host_disk = self.host_disk

    @property
    def capabilities(self) -> Capabilities:
        return self._capabilities

    @property
    def compute(self) -> ComputeDriver:
        return self._compute

    @property
    def network(self) -> NetworkDriver:
        return self._network

    @property
    def local_network(self) -> LocalNetwork:
        """The network driver with its host-side extras (the external network, plugging)."""
        return self._network

    @property
    def local_block_storage(self) -> LocalBlockStorage:
        """The block storage driver with its host-side extras (its start and close)."""
        return self._block_storage

    @property
    def block_storage(self) -> BlockStorageDriver:
        return self._block_storage

    @property
    def image(self) -> ImageDriver:
        return self._image

    @property
    def object_store(self) -> ObjectStoreDriver:
        return self._object_store

    def start(self) -> None:
        """Check the host, bring networking back to its saved state, then adopt instances
        (whose ports must have somewhere to plug into)."""
        reason = unavailable_reason()
        if reason is not None:
            raise BackendUnavailable(f"the local backend cannot run: {reason}")
        (self.context.data_dir / "images").mkdir(parents=True, exist_ok=True)
        (self.context.data_dir / "network").mkdir(parents=True, exist_ok=True)
        cpushare.keep_gateway_share()  # before any helper starts: they inherit its cgroup
        self._object_store.start()
        self._network.start()
        try:
            self._block_storage.start()
            self._compute.start()
            self._captures.start()
            self._image.start()  # after the instances' records are adopted
        except BaseException:
            self._block_storage.close()
            self._network.close()
            raise

    def close(self) -> None:
        """Stop the boot jobs and let go of the host; instances, bridges and rules stay and
        keep serving, and the next start adopts them."""
        try:
            self._captures.close()
            self._compute.close()
            self._block_storage.close()
        finally:
            self._network.close()
