"""The local backend: drivers composed over one host and one data directory."""

from __future__ import annotations

from interstack.backends.contract import (
    Backend,
    BackendContext,
    BlockStorageDriver,
    Capabilities,
    ComputeDriver,
    ImageDriver,
    NetworkDriver,
    ObjectStoreDriver,
)
from interstack.backends.local.compute import LocalCompute, PlugPort
from interstack.backends.local.host import unavailable_reason
from interstack.backends.local.images import LocalImages
from interstack.backends.local.settings import LocalSettings, image_cache_for
from interstack.backends.local.unsupported import (
    UnsupportedBlockStorage,
    UnsupportedNetwork,
    UnsupportedObjectStore,
)
from interstack.errors import BackendUnavailable

CAPABILITIES = Capabilities(
    compute=True,
    pause=True,
    suspend=True,  # a pause under another name: see compute.py
    console_output=True,
    images=True,
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
        self._network: NetworkDriver = UnsupportedNetwork()
        self._plug_port: PlugPort | None = None
        self._compute = LocalCompute(data_dir, self.settings, self._image, self._plug_port)
        self._capabilities = CAPABILITIES

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
    def block_storage(self) -> BlockStorageDriver:
        return UnsupportedBlockStorage()

    @property
    def image(self) -> ImageDriver:
        return self._image

    @property
    def object_store(self) -> ObjectStoreDriver:
        return UnsupportedObjectStore()

    def start(self) -> None:
        reason = unavailable_reason()
        if reason is not None:
            raise BackendUnavailable(
                f"region {self.region}: the local backend cannot run: {reason}"
            )
        (self.context.data_dir / "images").mkdir(parents=True, exist_ok=True)
        self._compute.start()

    def close(self) -> None:
        """Stop the boot jobs; instances keep running and are adopted by the next start."""
        self._compute.close()
