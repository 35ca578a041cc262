"""One served local gateway for consecutive test modules that use this directory's ``cloud``.

Starting a local gateway, then stopping it and cleaning the host after it, costs seconds a
module; the modules on it (each with its own keypair, networks and servers) only need the
host's networking to themselves. So the gateway stays up from one such module to the next
when both ask for the same configuration; between them what the module that ended made is
deleted (:func:`empty_the_cloud`), so each module starts on a cloud holding only its external
network, as on a gateway of its own: no address of a subnet, a router or a floating IP is held
by a module before it. The gateway holds the host's one networking lock while it runs: the
modules on it are run one after the other (:func:`run_together`), and it stops before any
other module (a local backend or a network driver of its own needs the lock).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.support.gateway import ServedGateway
from tests.support.waiting import eventually

#: the ``cloud`` fixture's name, and the directory whose conftest defines it
FIXTURE = "cloud"
DIRECTORY = "tests/backends/local"


def uses_shared_cloud(item: pytest.Item) -> bool:
    """Whether a test runs on this directory's ``cloud`` (not a module's own fixture of that
    name)."""
    info = getattr(item, "_fixtureinfo", None)
    definitions = info.name2fixturedefs.get(FIXTURE) if info is not None else None
    return definitions is not None and definitions[-1].baseid == DIRECTORY


def own_settings(item: pytest.Item) -> bool:
    """Whether a test's module overrides the gateway's settings (it gets a gateway of its own
    configuration, so its modules go last and the rest share one)."""
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
        return False
    return any(
        definitions[-1].baseid != DIRECTORY
        for name in ("cloud_settings", "gateway_settings")
        if (definitions := info.name2fixturedefs.get(name))
    )


def settings_of(item: pytest.Item) -> dict[str, Any] | None:
    """The values of the settings fixtures a test's module uses (its own or the directory's),
    known before its fixtures run: None where one of them takes arguments."""
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
        return None
    found: dict[str, Any] = {}
    for name in ("cloud_settings", "gateway_settings"):
        definition = info.name2fixturedefs[name][-1]
        if definition.argnames:
            return None
        found[name] = definition.func()
    return found


def run_together(items: list[pytest.Item]) -> None:
    """Reorder ``items`` in place: the tests on the shared ``cloud`` run one after the other
    where the first of them ran (modules of default settings first), the rest keep their
    order."""
    shared = [item for item in items if uses_shared_cloud(item)]
    if not shared:
        return
    first = items.index(shared[0])
    others = [item for item in items if not uses_shared_cloud(item)]
    shared.sort(key=own_settings)  # stable: each group keeps its modules' order
    items[:] = [*others[:first], *shared, *others[first:]]


class SharedCloud:
    """The gateway kept between modules, and the configuration the next test asks for."""

    def __init__(self) -> None:
        self.served: ServedGateway | None = None
        self.config: dict[str, Any] | None = None
        self.stop_and_clean: Callable[[], None] = lambda: None
        #: the configuration of the gateway the next test runs on; None: not on this one
        self.next_config: dict[str, Any] | None = None

    def take(
        self,
        config: dict[str, Any],
        start: Callable[[dict[str, Any]], tuple[ServedGateway, Callable[[], None]]],
    ) -> ServedGateway:
        """The running gateway if it has ``config``, else a new one (the old one stopped)."""
        if self.running() and self.config == config:
            assert self.served is not None
            return self.served
        self.release()
        self.served, self.stop_and_clean = start(config)
        self.config = config
        return self.served

    def module_done(self) -> None:
        """Keep the gateway, emptied, if the next test runs on one of its configuration;
        otherwise stop it and clean the host at once (the host's clean-up stops the servers
        without waiting for their deletion through the API)."""
        if self.running() and self.next_config is not None and self.next_config == self.config:
            assert self.served is not None
            try:
                empty_the_cloud(self.served)
            except BaseException:  # things left: the next module gets a gateway of its own
                self.release()
                raise
            return
        self.release()

    def running(self) -> bool:
        """Whether the kept gateway still runs (a module that restarted it and failed, or a
        gateway that died, leaves the next module a new one rather than a dead one)."""
        process = self.served.process if self.served is not None else None
        return process is not None and process.poll() is None

    def release(self) -> None:
        if self.served is None:
            return
        try:
            self.stop_and_clean()
        finally:
            self.served, self.config = None, None
            self.stop_and_clean = lambda: None


def empty_the_cloud(served: ServedGateway) -> None:
    """Delete what every project made: servers (waited for: their ports go with them), floating
    IPs, then routers (their interfaces first, their gateways with them), the ports left, every
    network but the external ones (subnets and DHCP ports with them), the security groups but
    the default ones (no port holds one now; other groups' rules naming them go with them, as
    in Neutron), the volumes with their snapshots (waited for: the servers' deletion detaches
    them), and both users' keypairs."""
    admin = served.connect("interstack-admin")
    try:
        for server in admin.compute.servers(all_projects=True):
            admin.compute.delete_server(server, ignore_missing=True)
        eventually(
            lambda: list(admin.compute.servers(all_projects=True)),
            lambda left: not left,
            "the servers of the module that ended to be deleted",
            bound=300,
        )
        _empty_the_network(admin.network)
        _delete_volumes(admin.block_storage)
        for user in ("interstack", "interstack-admin"):
            conn = admin if user == "interstack-admin" else served.connect(user)
            try:
                for keypair in conn.compute.keypairs():
                    conn.compute.delete_keypair(keypair, ignore_missing=True)
            finally:
                if conn is not admin:
                    conn.close()
    finally:
        admin.close()


def _empty_the_network(net: Any) -> None:
    for fip in net.ips():  # after the servers: a deletion releases its ports meanwhile
        net.delete_ip(fip, ignore_missing=True)
    ports = list(net.ports())
    for router in net.routers():
        for port in ports:
            if port.device_id == router.id and port.device_owner == "network:router_interface":
                net.remove_interface_from_router(router, port_id=port.id)
        net.delete_router(router, ignore_missing=True)
    for port in ports:
        if not (port.device_owner or "").startswith("network:"):
            net.delete_port(port, ignore_missing=True)
    for network in net.networks():
        if not network.is_router_external:
            net.delete_network(network, ignore_missing=True)
    for group in net.security_groups():
        if group.name != "default":
            net.delete_security_group(group, ignore_missing=True)


def _delete_volumes(storage: Any) -> None:
    """Every project's volume snapshots, then its volumes, once no server holds them."""
    for snapshot in storage.snapshots(all_projects=True):
        storage.delete_snapshot(snapshot, ignore_missing=True)
    eventually(
        lambda: list(storage.snapshots(all_projects=True)),
        lambda left: not left,
        "the volume snapshots of the module that ended to be deleted",
    )
    settled = eventually(
        lambda: list(storage.volumes(all_projects=True)),
        lambda found: all(v.status in {"available", "error"} for v in found),
        "the volumes of the deleted servers to be detached",
    )
    for volume in settled:
        storage.delete_volume(volume, ignore_missing=True)
    eventually(
        lambda: list(storage.volumes(all_projects=True)),
        lambda left: not left,
        "the volumes of the module that ended to be deleted",
    )
