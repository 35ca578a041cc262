"""Simulated networking: rows recording what a real backend would have realized."""

from __future__ import annotations

import ipaddress
import threading
from collections.abc import Callable
from dataclasses import asdict

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from interstack.backends.contract import (
    Capabilities,
    ExternalNetworkSpec,
    FloatingIpInfo,
    NativeRef,
    NetworkDriver,
    NetworkSpec,
    PortSpec,
    RouterSpec,
    SecurityGroupRule,
    SecurityGroupSpec,
    SubnetSpec,
)
from interstack.backends.sim.settings import SimOperation, SimSettings
from interstack.backends.sim.state import Kind, SimState, ref
from interstack.errors import BackendError, Conflict, NotSupported
from interstack.store.models import SimResource

READY = "ready"
Busy = Callable[[Session, SimResource], bool]


def _fip(row: SimResource) -> FloatingIpInfo:
    port = row.data.get("port")
    return FloatingIpInfo(ref=ref(row), address=row.name, port=NativeRef(port) if port else None)


class SimNetwork(NetworkDriver):
    def __init__(self, state: SimState, settings: SimSettings, capabilities: Capabilities) -> None:
        self.state = state
        self.settings = settings
        self.capabilities = capabilities
        self._allocating = threading.Lock()

    def _require(self, capability: str) -> None:
        if capability not in self.capabilities.names():
            raise NotSupported(f"region {self.state.region} does not support {capability}")

    def _create(
        self,
        kind: Kind,
        gateway_id: str,
        name: str = "",
        parent: str | None = None,
        data: dict[str, object] | None = None,
        restate: bool = False,
    ) -> NativeRef:
        """Make the resource, or answer the one already made for ``gateway_id``.

        ``restate``: a repeated create (its first answer lost) gives the existing resource the
        spec's ``data`` again, for creates whose contract is "exactly the spec's ..." (rules).
        """
        try:
            with self.state.session() as session:
                existing = self.state.by_gateway_id(session, kind, gateway_id)
                if existing is not None:
                    if restate:
                        existing.data = {**existing.data, **(data or {})}
                    return ref(existing)
                if parent is not None:
                    self.state.get(session, Kind.NETWORK, parent)
                row = self.state.new(
                    session,
                    kind,
                    status=READY,
                    gateway_id=gateway_id,
                    name=name,
                    parent=parent,
                    data=dict(data or {}),
                )
                return ref(row)
        except IntegrityError:
            # a concurrent create of the same gateway id won: idempotent, so answer its resource
            with self.state.session() as session:
                winner = self.state.by_gateway_id(session, kind, gateway_id)
                if winner is None:
                    raise
                return ref(winner)

    def _delete(self, kind: Kind, ref: NativeRef, busy: Busy | None = None) -> None:
        with self.state.session() as session:
            row = self.state.find(session, kind, ref)
            if row is None:
                return
            if busy is not None and busy(session, row):
                raise Conflict(f"{kind.replace('_', ' ')} {row.gateway_id} is still in use")
            session.delete(row)

    def _network_busy(self, session: Session, row: SimResource) -> bool:
        return any(self.state.children(session, kind, row.ref) for kind in (Kind.SUBNET, Kind.PORT))

    def _subnet_busy(self, session: Session, row: SimResource) -> bool:
        users = [*self.state.all(session, Kind.PORT), *self.state.all(session, Kind.ROUTER)]
        return any(row.ref in user.data.get("subnets", []) for user in users)

    def _group_busy(self, session: Session, row: SimResource) -> bool:
        """A port uses the group, or another group's rule names it (as EC2 refuses such a
        deletion: the gateway takes those rules off first)."""
        ports = self.state.all(session, Kind.PORT)
        if any(row.ref in p.data.get("security_groups", []) for p in ports):
            return True
        others = (g for g in self.state.all(session, Kind.SECURITY_GROUP) if g.ref != row.ref)
        return any(
            r.get("remote_group") == row.ref for g in others for r in g.data.get("rules", [])
        )

    def external_network(self) -> ExternalNetworkSpec | None:
        """The configured ``external_network``: its first host the gateway, the rest the pool
        the gateway's IPAM hands router gateways and floating IPs from."""
        configured = self.settings.external_network
        if configured is None:
            return None
        network = ipaddress.ip_network(configured.cidr)
        first, last = network.network_address + 1, network.broadcast_address - 1
        return ExternalNetworkSpec(
            name=configured.name,
            cidr=str(network),
            gateway_ip=str(first),
            allocation_pool=(str(first + 1), str(last)),
        )

    def create_network(self, spec: NetworkSpec) -> NativeRef:
        self._require("networks")
        fault = self.settings.fault(SimOperation.CREATE_NETWORK, spec.name)
        if fault is not None:
            raise BackendError(f"creating network {spec.name} failed: {fault}")
        return self._create(Kind.NETWORK, spec.gateway_id, spec.name, data={"mtu": spec.mtu})

    def delete_network(self, ref: NativeRef) -> None:
        self._require("networks")
        self._delete(Kind.NETWORK, ref, self._network_busy)

    def create_subnet(self, spec: SubnetSpec) -> NativeRef:
        self._require("networks")
        ipaddress.ip_network(spec.cidr)  # the gateway validated it; a bad one is a bug
        dhcp = {"address": spec.dhcp_address, "mac": spec.dhcp_mac} if spec.dhcp else None
        return self._create(
            Kind.SUBNET,
            spec.gateway_id,
            spec.cidr,
            parent=spec.network,
            data={"cidr": spec.cidr, "dhcp": dhcp},
        )

    def set_subnet_dhcp(
        self, ref: NativeRef, address: str | None, mac_address: str | None = None
    ) -> None:
        """Record where the subnet's DHCP server now is (``None``: it serves no more)."""
        self._require("networks")
        dhcp = None if address is None else {"address": address, "mac": mac_address}
        with self.state.session() as session:
            row = self.state.get(session, Kind.SUBNET, ref)
            row.data = {**row.data, "dhcp": dhcp}

    def dhcp_address(self, ref: NativeRef) -> str | None:
        self._require("networks")
        with self.state.session() as session:
            dhcp = self.state.get(session, Kind.SUBNET, ref).data.get("dhcp")
        return None if dhcp is None else dhcp.get("address")

    def delete_subnet(self, ref: NativeRef) -> None:
        self._require("networks")
        self._delete(Kind.SUBNET, ref, self._subnet_busy)

    def create_port(self, spec: PortSpec) -> NativeRef:
        self._require("networks")
        fault = self.settings.fault(SimOperation.CREATE_PORT, spec.gateway_id)
        if fault is not None:
            raise BackendError(f"creating port {spec.gateway_id} failed: {fault}")
        return self._create(
            Kind.PORT,
            spec.gateway_id,
            spec.mac_address,
            parent=spec.network,
            data={
                "subnets": sorted({ip.subnet for ip in spec.fixed_ips}),
                "addresses": [ip.address for ip in spec.fixed_ips],
                "security_groups": list(spec.security_groups),
            },
        )

    def update_port_security_groups(self, ref: NativeRef, groups: tuple[NativeRef, ...]) -> None:
        self._require("security_groups")
        with self.state.session() as session:
            row = self.state.get(session, Kind.PORT, ref)
            row.data = {**row.data, "security_groups": list(groups)}

    def delete_port(self, ref: NativeRef) -> None:
        self._require("networks")
        with self.state.session() as session:
            row = self.state.find(session, Kind.PORT, ref)
            fault = None if row is None else self.settings.fault(SimOperation.DELETE_PORT, row.name)
        if fault is not None:
            raise BackendError(f"deleting port {ref} failed: {fault}")
        self._delete(Kind.PORT, ref)

    def create_router(self, spec: RouterSpec) -> NativeRef:
        self._require("networks")
        return self._create(
            Kind.ROUTER,
            spec.gateway_id,
            spec.name,
            data={"external_gateway": spec.external_gateway, "subnets": []},
        )

    def _interfaces(self, router: NativeRef, subnet: NativeRef, *, add: bool) -> None:
        with self.state.session() as session:
            row = self.state.get(session, Kind.ROUTER, router)
            subnets = set(row.data.get("subnets", []))
            fault = self.settings.fault(SimOperation.ADD_ROUTER_INTERFACE, row.name)
            if add and fault is not None:
                raise BackendError(f"adding an interface to router {row.name} failed: {fault}")
            if add:
                self.state.get(session, Kind.SUBNET, subnet)
                subnets.add(subnet)
            else:
                subnets.discard(subnet)
            row.data = {**row.data, "subnets": sorted(subnets)}

    def add_router_interface(self, router: NativeRef, subnet: NativeRef) -> None:
        self._require("networks")
        self._interfaces(router, subnet, add=True)

    def remove_router_interface(self, router: NativeRef, subnet: NativeRef) -> None:
        self._require("networks")
        self._interfaces(router, subnet, add=False)

    def delete_router(self, ref: NativeRef) -> None:
        self._require("networks")
        with self.state.session() as session:
            row = self.state.find(session, Kind.ROUTER, ref)
            if row is None:
                return
            if row.data.get("subnets"):
                raise Conflict(f"router {row.gateway_id} still has interfaces")
            session.delete(row)

    def allocate_floating_ip(self, gateway_id: str, address: str | None = None) -> FloatingIpInfo:
        """The address the gateway chose (unique on its external subnet, which the gateway
        keeps; external networks may overlap), or the first free one of ``floating_ip_cidr``."""
        self._require("floating_ips")
        with self._allocating, self.state.session() as session:
            existing = self.state.by_gateway_id(session, Kind.FLOATING_IP, gateway_id)
            if existing is not None:
                return _fip(existing)
            pool = ipaddress.ip_network(self.settings.floating_ip_cidr)
            if address is None:
                used = {r.name for r in self.state.all(session, Kind.FLOATING_IP)}
                address = next((str(a) for a in pool.hosts() if str(a) not in used), None)
            if address is None:
                raise BackendError(f"no free floating IP left in {pool}")
            row = self.state.new(
                session, Kind.FLOATING_IP, status=READY, gateway_id=gateway_id, name=address
            )
            return _fip(row)

    def associate_floating_ip(
        self, ref: NativeRef, port: NativeRef | None, fixed_address: str | None = None
    ) -> FloatingIpInfo:
        self._require("floating_ips")
        with self.state.session() as session:
            row = self.state.get(session, Kind.FLOATING_IP, ref)
            if port is not None:
                target = self.state.get(session, Kind.PORT, port)
                addresses = target.data.get("addresses", [])
                if fixed_address is not None and fixed_address not in addresses:
                    raise Conflict(f"port {target.gateway_id} has no address {fixed_address}")
                fixed_address = fixed_address or next(iter(addresses), None)
            row.data = {"port": port, "fixed_address": fixed_address if port else None}
            return _fip(row)

    def release_floating_ip(self, ref: NativeRef) -> None:
        self._require("floating_ips")
        self._delete(Kind.FLOATING_IP, ref)

    def create_security_group(self, spec: SecurityGroupSpec) -> NativeRef:
        self._require("security_groups")
        return self._create(
            Kind.SECURITY_GROUP,
            spec.gateway_id,
            spec.name,
            data={"rules": [asdict(r) for r in spec.rules]},
            restate=True,
        )

    def set_security_group_rules(
        self, ref: NativeRef, rules: tuple[SecurityGroupRule, ...]
    ) -> None:
        self._require("security_groups")
        with self.state.session() as session:
            row = self.state.get(session, Kind.SECURITY_GROUP, ref)
            row.data = {**row.data, "rules": [asdict(r) for r in rules]}

    def delete_security_group(self, ref: NativeRef) -> None:
        self._require("security_groups")
        self._delete(Kind.SECURITY_GROUP, ref, self._group_busy)
