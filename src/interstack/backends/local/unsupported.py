"""Drivers for the domains the local backend does not serve (yet): every call is ``NotSupported``.

Volumes follow later. The capabilities say so, and the services layer
never calls these.
"""

from __future__ import annotations

from typing import NoReturn

from interstack.backends.contract import (
    BlockStorageDriver,
    NativeRef,
    SnapshotSpec,
    VolumeSpec,
)
from interstack.errors import NotSupported


def _unsupported(domain: str) -> NoReturn:
    raise NotSupported(f"the local backend does not provide {domain} yet")


class UnsupportedBlockStorage(BlockStorageDriver):
    """Every method raises ``NotSupported``."""

    def create_volume(self, spec: VolumeSpec) -> NoReturn:
        _unsupported("volumes")

    def get_volume(self, ref: NativeRef) -> NoReturn:
        _unsupported("volumes")

    def delete_volume(self, ref: NativeRef) -> NoReturn:
        _unsupported("volumes")

    def create_snapshot(self, spec: SnapshotSpec) -> NoReturn:
        _unsupported("volumes")

    def get_snapshot(self, ref: NativeRef) -> NoReturn:
        _unsupported("volumes")

    def delete_snapshot(self, ref: NativeRef) -> NoReturn:
        _unsupported("volumes")

    def attach_volume(
        self, volume: NativeRef, server: NativeRef, device: str | None = None
    ) -> NoReturn:
        _unsupported("volumes")

    def detach_volume(self, volume: NativeRef, server: NativeRef) -> NoReturn:
        _unsupported("volumes")
