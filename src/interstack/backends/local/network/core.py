"""What every part of the local network driver shares: the saved state, the locks and the
re-rendering of what depends on the state.

State that the host cannot tell (rules, associations) is kept in a JSON file (:mod:`state`);
every change saves it and then re-renders what depends on it. One lock serializes changes; the
host lock (:mod:`hostlock`) keeps a second process from managing the same host.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TypeVar

from interstack.backends.local.network import conntrack, dhcp, firewall, nft, routers
from interstack.backends.local.network import state as records
from interstack.backends.local.network.external import DEFAULT_EGRESS, ExternalNetwork
from interstack.backends.local.network.hostlock import HostLock
from interstack.backends.local.network.metadata import MetadataProxies
from interstack.backends.local.network.state import PortRecord, SubnetRecord
from interstack.errors import NotFound

log = logging.getLogger(__name__)
DEFAULT_EXTERNAL_CIDR = "172.24.4.0/24"
#: locks that plugging and unplugging a port hold, a port's chosen by its ref (two ports may
#: share one: they then only wait for each other)
PORT_LOCK_STRIPES = 64
_Record = TypeVar("_Record")


class DriverCore:
    """The driver's state and the helpers its operations (ports, routing) share."""

    #: told (without the driver's lock) of the ports whose resolvers changed: their subnet's
    #: DNS servers or its DHCP server; the backend has its instances' resolv.conf follow
    resolvers_changed: Callable[[list[str]], None] | None = None

    def __init__(
        self,
        data_dir: Path,
        *,
        external_cidr: str = DEFAULT_EXTERNAL_CIDR,
        egress_cidrs: tuple[str, ...] = DEFAULT_EGRESS,
        resolvers: list[str] | None = None,
        lock_wait: float = 0.0,
        metadata_socket: Path | None = None,
    ) -> None:
        self.data_dir = data_dir
        self.external = ExternalNetwork(external_cidr, tuple(egress_cidrs))
        self._state_file = data_dir / "state.json"
        self._state = records.load(self._state_file)
        self._lock = threading.RLock()
        self._port_locks = [threading.Lock() for _ in range(PORT_LOCK_STRIPES)]
        found = dhcp.host_resolvers() if resolvers is None else resolvers
        self.dhcp = dhcp.DhcpServers(data_dir / "dhcp", found)
        #: with the gateway's metadata socket: a proxy per DHCP namespace (:mod:`metadata`)
        self.metadata = (
            MetadataProxies(data_dir / "metadata", metadata_socket)
            if metadata_socket is not None
            else None
        )
        self._host_lock = HostLock()
        self._lock_wait = lock_wait

    def _port_lock(self, port: str) -> threading.Lock:
        """The lock a plug or unplug of ``port`` holds while it makes or deletes the port's
        link, without the driver's lock (always taken after this one, never before)."""
        return self._port_locks[hash(port) % PORT_LOCK_STRIPES]

    @contextlib.contextmanager
    def _changing(self) -> Iterator[records.NetworkState]:
        """Hold the lock; on success save the state and re-render the host firewall. (Plugging,
        which cannot touch the rules, only writes the port's plug file.)"""
        with self._lock:
            self.dhcp.reap()
            if self.metadata is not None:
                self.metadata.reap()
            yield self._state
            records.save(self._state_file, self._state)
            self._apply_firewall()

    def _apply_firewall(self) -> None:
        nft.replace_tables(firewall.render(self._state, self.external))

    def _apply_router_rules(self) -> None:
        for router in self._state.routers.values():
            if router.external_gateway:
                routers.apply_rules(self._state, router, self.external)

    def _forget_connections(self, ports: Sequence[PortRecord]) -> None:
        """After a rule change: connections of these ports are judged again by the rules (read
        twice: a list, not an iterator)."""
        with self._lock:
            conntrack.forget(
                [ip.address for port in ports for ip in port.fixed_ips]
                + [pair.ip_address for port in ports for pair in port.allowed_address_pairs]
            )

    def _ports_on(self, subnet: str) -> list[str]:
        return [
            p.ref
            for p in self._state.ports.values()
            if any(i.subnet == subnet for i in p.fixed_ips)
        ]

    def _tell_resolvers_changed(self, ports: list[str]) -> None:
        """Tell :attr:`resolvers_changed` (outside the driver's lock: it reads the ports'
        resolvers); the change is made, so a listener's failure is only logged."""
        if ports and self.resolvers_changed is not None:
            try:
                self.resolvers_changed(ports)
            except Exception:
                log.exception("ports %s: resolvers not told", ", ".join(ports))

    def _get(self, table: dict[str, _Record], ref: str, what: str) -> _Record:
        found = table.get(ref)
        if found is None:
            raise NotFound(f"{what} {ref} does not exist on this host")
        return found

    def _start_metadata(self, subnet: SubnetRecord) -> None:
        if self.metadata is not None:
            self.metadata.start(subnet, self._state.networks[subnet.network].gateway_id)

    def _stop_metadata(self, subnet: SubnetRecord) -> None:
        if self.metadata is not None:
            self.metadata.remove(subnet)
