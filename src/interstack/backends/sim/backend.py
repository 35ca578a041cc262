"""The sim backend: drivers composed over one region's rows and files."""

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
from interstack.backends.sim.compute import SimCompute
from interstack.backends.sim.network import SimNetwork
from interstack.backends.sim.objects import SimObjectStore
from interstack.backends.sim.settings import SimOperation, SimSettings
from interstack.backends.sim.state import SimState
from interstack.backends.sim.storage import SimBlockStorage, SimImages
from interstack.config import ConfigError
from interstack.errors import BackendUnavailable


class SimBackend(Backend):
    """Simulates a whole cloud in the store; see the package docstring for its semantics."""

    def __init__(self, context: BackendContext) -> None:
        super().__init__(context)
        if context.db is None:
            raise ConfigError(f"region {context.region}: the sim backend needs the store")
        self.settings = SimSettings.parse(context.region, context.settings)
        self._capabilities = self.settings.capabilities
        state = SimState(context.db, context.region)
        caps = self._capabilities
        self._image = SimImages(state, self.settings, caps, context.data_dir / "images")
        self._compute = SimCompute(state, self.settings, caps, self._image)
        self._network = SimNetwork(state, self.settings, caps)
        self._block_storage = SimBlockStorage(state, self.settings, caps, self._image)
        self._object_store = SimObjectStore(
            state, self.settings, caps, context.data_dir / "objects"
        )

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
        return self._block_storage

    @property
    def image(self) -> ImageDriver:
        return self._image

    @property
    def object_store(self) -> ObjectStoreDriver:
        return self._object_store

    def start(self) -> None:
        failure = self.settings.fault(SimOperation.START, self.region)
        if failure is not None:
            raise BackendUnavailable(failure)
        for directory in ("images", "objects"):
            (self.context.data_dir / directory).mkdir(parents=True, exist_ok=True)

    def close(self) -> None:
        """Nothing to release: every call opens and closes its own session and files."""
