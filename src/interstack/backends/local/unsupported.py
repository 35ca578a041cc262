"""Drivers for the domains the local backend does not serve (yet): every call is ``NotSupported``.

Networking comes from the local backend's network package once it lands; volumes and object
storage follow later. The capabilities say so, and the services layer never calls these.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NoReturn

from interstack.backends.contract import (
    BlockStorageDriver,
    NativeRef,
    NetworkDriver,
    NetworkSpec,
    ObjectStoreDriver,
    PortSpec,
    RouterSpec,
    SecurityGroupRule,
    SecurityGroupSpec,
    SnapshotSpec,
    SubnetSpec,
    VolumeSpec,
)
from interstack.errors import NotSupported


def _unsupported(domain: str) -> NoReturn:
    raise NotSupported(f"the local backend does not provide {domain} yet")


class UnsupportedNetwork(NetworkDriver):
    """Every method raises ``NotSupported``."""

    def create_network(self, spec: NetworkSpec) -> NoReturn:
        _unsupported("networks")

    def delete_network(self, ref: NativeRef) -> NoReturn:
        _unsupported("networks")

    def create_subnet(self, spec: SubnetSpec) -> NoReturn:
        _unsupported("networks")

    def delete_subnet(self, ref: NativeRef) -> NoReturn:
        _unsupported("networks")

    def create_port(self, spec: PortSpec) -> NoReturn:
        _unsupported("networks")

    def update_port_security_groups(
        self, ref: NativeRef, groups: tuple[NativeRef, ...]
    ) -> NoReturn:
        _unsupported("networks")

    def delete_port(self, ref: NativeRef) -> NoReturn:
        _unsupported("networks")

    def create_router(self, spec: RouterSpec) -> NoReturn:
        _unsupported("networks")

    def add_router_interface(self, router: NativeRef, subnet: NativeRef) -> NoReturn:
        _unsupported("networks")

    def remove_router_interface(self, router: NativeRef, subnet: NativeRef) -> NoReturn:
        _unsupported("networks")

    def delete_router(self, ref: NativeRef) -> NoReturn:
        _unsupported("networks")

    def allocate_floating_ip(self, gateway_id: str) -> NoReturn:
        _unsupported("networks")

    def associate_floating_ip(
        self, ref: NativeRef, port: NativeRef | None, fixed_address: str | None = None
    ) -> NoReturn:
        _unsupported("networks")

    def release_floating_ip(self, ref: NativeRef) -> NoReturn:
        _unsupported("networks")

    def create_security_group(self, spec: SecurityGroupSpec) -> NoReturn:
        _unsupported("networks")

    def set_security_group_rules(
        self, ref: NativeRef, rules: tuple[SecurityGroupRule, ...]
    ) -> NoReturn:
        _unsupported("networks")

    def delete_security_group(self, ref: NativeRef) -> NoReturn:
        _unsupported("networks")


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


class UnsupportedObjectStore(ObjectStoreDriver):
    """Every method raises ``NotSupported``."""

    def create_container(self, account: str, name: str) -> NoReturn:
        _unsupported("object storage")

    def delete_container(self, ref: NativeRef) -> NoReturn:
        _unsupported("object storage")

    def put_object(
        self, container: NativeRef, name: str, data: Iterable[bytes], content_type: str
    ) -> NoReturn:
        _unsupported("object storage")

    def head_object(self, container: NativeRef, name: str) -> NoReturn:
        _unsupported("object storage")

    def get_object(self, container: NativeRef, name: str) -> NoReturn:
        _unsupported("object storage")

    def delete_object(self, container: NativeRef, name: str) -> NoReturn:
        _unsupported("object storage")

    def list_objects(
        self, container: NativeRef, prefix: str = "", marker: str = "", limit: int = 10000
    ) -> NoReturn:
        _unsupported("object storage")
