"""The regions of this gateway: region name -> the backend serving it, and its capabilities.

Built once by the app factory from the configured regions through the backend registry; the
services layer asks here for a region's backend and adapts to its capabilities, never to its
type.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from pathlib import Path

from interstack.backends.contract import Backend, Capabilities
from interstack.backends.registry import load_backend
from interstack.config import RegionConfig
from interstack.errors import BackendUnavailable, InterstackError, NotFound, NotSupported
from interstack.store import Database

log = logging.getLogger(__name__)


class Regions:
    def __init__(self, backends: Mapping[str, Backend]) -> None:
        self._backends = dict(backends)
        self._started: list[Backend] = []

    @classmethod
    def load(cls, regions: Iterable[RegionConfig], *, db: Database, data_dir: Path) -> Regions:
        """Build each region's backend (raising ``BackendLoadError`` naming a bad one)."""
        return cls(
            {
                r.name: load_backend(r.backend, r.name, r.settings, data_dir=data_dir, db=db)
                for r in regions
            }
        )

    @property
    def names(self) -> list[str]:
        return list(self._backends)

    def backend(self, region: str) -> Backend:
        try:
            return self._backends[region]
        except KeyError:
            raise NotFound(f"region {region} does not exist") from None

    def capabilities(self, region: str) -> Capabilities:
        return self.backend(region).capabilities

    def require(self, region: str, capability: str) -> Backend:
        """The region's backend, or ``NotSupported`` if it lacks ``capability``."""
        backend = self.backend(region)
        if capability not in backend.capabilities.names():
            raise NotSupported(f"region {region} does not support {capability.replace('_', ' ')}")
        return backend

    def start(self) -> None:
        """Start every backend; if one fails, close those already started and raise
        ``BackendUnavailable`` naming the region that could not start and why."""
        try:
            for name, backend in self._backends.items():
                try:
                    backend.start()
                except InterstackError as exc:
                    raise BackendUnavailable(f"region {name} cannot start: {exc.message}") from exc
                self._started.append(backend)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        while self._started:
            backend = self._started.pop()
            try:
                backend.close()
            except Exception:
                log.exception("closing the backend of region %s failed", backend.region)
