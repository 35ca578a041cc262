"""Router interfaces: a router's ports on tenant subnets, holding each subnet's gateway address.

Added by subnet (a new port with the gateway IP) or by port (a port of the caller's, unbound),
and recorded as the router's (``router_ports``); removing one deletes its port either way, as
Neutron does. An interface that floating IPs reach
their ports through cannot be removed (409).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from interstack.backends.contract import NativeRef
from interstack.errors import BadRequest, Conflict, NotFound
from interstack.services.context import RequestContext
from interstack.services.network.common import check_owner, driver, now
from interstack.services.network.ipam import IpRequest, in_pools
from interstack.services.network.port_records import take_port
from interstack.services.network.ports import (
    ROUTER_INTERFACE,
    PortCreate,
    PortService,
    check_not_going,
    fixed_ips_of,
    load_port,
)
from interstack.services.network.records import FixedIpInfo
from interstack.services.network.routers import (
    check_no_overlap,
    gateway_subnets,
    interface_subnets,
    load_router,
    lock_router,
    ports_of,
)
from interstack.services.network.subnets import load_subnet
from interstack.services.regions import Regions
from interstack.store import Database
from interstack.store.models import FloatingIp, Port, Router, RouterPort, Subnet


@dataclass(frozen=True)
class InterfaceInfo:
    """What add/remove_router_interface answers."""

    router_id: str
    project_id: str
    port_id: str
    network_id: str
    subnet_ids: tuple[str, ...]


class RouterInterfaceService:
    def __init__(self, db: Database, regions: Regions, ports: PortService) -> None:
        self.db = db
        self.regions = regions
        self.ports = ports

    # -- interfaces ----------------------------------------------------------------------------

    def add(
        self,
        ctx: RequestContext,
        region: str,
        router_id: str,
        subnet_id: str | None,
        port_id: str | None,
    ) -> InterfaceInfo:
        if (subnet_id is None) == (port_id is None):
            raise BadRequest("Bad router request: specify exactly one of subnet_id and port_id.")
        with self.db.session() as session:
            router = load_router(session, ctx, region, router_id)
            check_owner(ctx, router.project_id, "router", router_id)
            if subnet_id is not None:
                subnet = load_subnet(session, ctx, region, subnet_id)
                candidates = [subnet]
                if subnet.gateway_ip is None:
                    raise BadRequest(
                        f"Bad router request: Subnet {subnet_id} does not have a gateway IP."
                    )
                _check_subnet_owned(ctx, subnet)
            else:
                port = load_port(session, ctx, region, str(port_id))
                check_not_going(port)
                if port.device_id or port.device_owner:
                    raise Conflict(
                        f"Port {port_id} is in use by {port.device_owner or port.device_id}.",
                        kind="PortInUse",
                    )
                ips = fixed_ips_of(session, [port.id])[port.id]
                if not ips:
                    raise BadRequest(
                        f"Bad router request: Router port {port_id} has no IP address."
                    )
                candidates = [session.get_one(Subnet, ip.subnet_id) for ip in ips]
                if len([c for c in candidates if c.ip_version == 4]) > 1:
                    raise BadRequest(
                        "Bad router request: Cannot have multiple IPv4 subnets on router port."
                    )
                _check_port_in_pools(ctx, port.id, ips, candidates)
            _check_subnets(session, router_id, candidates)
            router_ref = router.native_ref
            project_id = router.project_id
            subnet_refs = [s.native_ref for s in candidates if s.native_ref]
        if subnet_id is not None:
            gateway = candidates[0]
            new_port = self.ports.record_router_port(
                ctx,
                region,
                PortCreate(
                    network_id=gateway.network_id,
                    project_id=project_id,
                    fixed_ips=(IpRequest(subnet_id=gateway.id, ip_address=gateway.gateway_ip),),
                    device_id=router_id,
                    device_owner=ROUTER_INTERFACE,
                    security_groups=(),
                    port_security_enabled=False,
                ),
                lambda session: _lock_and_check(session, router_id, candidates),
            )
        else:
            new_port = str(port_id)
            self._bind(router_id, new_port, candidates, bound=True)
        net_driver = driver(self.regions, region)
        try:
            for subnet_ref in subnet_refs:
                net_driver.add_router_interface(NativeRef(router_ref or ""), NativeRef(subnet_ref))
        except BaseException:
            if subnet_id is not None:
                self.ports.forget(new_port)
            else:
                self._bind(router_id, new_port, candidates, bound=False)
            raise
        return self._interface(router_id, project_id, new_port)

    def _bind(
        self, router_id: str, port_id: str, subnets: Sequence[Subnet], *, bound: bool
    ) -> None:
        """Make the caller's unbound port the router's interface (and its record the router's
        hold of it), or (``bound`` False, the cloud refused it) unbound again."""
        try:
            with self.db.session() as session:
                if not bound:
                    session.execute(delete(RouterPort).where(RouterPort.port_id == port_id))
                    session.execute(
                        update(Port)
                        .where(Port.id == port_id)
                        .values(device_id="", device_owner="", status="DOWN", updated_at=now())
                    )
                    return
                _lock_and_check(session, router_id, subnets)
                # taken only if still unbound: a server's boot may bind it meanwhile
                unbound = (Port.device_id == "", Port.device_owner == "")
                if not take_port(session, port_id, router_id, ROUTER_INTERFACE, *unbound):
                    raise Conflict(f"Port {port_id} is in use.", kind="PortInUse")
                session.add(
                    RouterPort(port_id=port_id, router_id=router_id, port_type=ROUTER_INTERFACE)
                )
        except IntegrityError as exc:  # another router took it meanwhile
            raise Conflict(f"Port {port_id} is in use.", kind="PortInUse") from exc

    def _interface(self, router_id: str, project_id: str, port_id: str) -> InterfaceInfo:
        with self.db.session() as session:
            port = session.get_one(Port, port_id)
            ips = fixed_ips_of(session, [port_id])[port_id]
            return InterfaceInfo(
                router_id=router_id,
                project_id=project_id,
                port_id=port_id,
                network_id=port.network_id,
                subnet_ids=tuple(ip.subnet_id for ip in ips),
            )

    def remove(
        self,
        ctx: RequestContext,
        region: str,
        router_id: str,
        subnet_id: str | None,
        port_id: str | None,
    ) -> InterfaceInfo:
        if subnet_id is None and port_id is None:
            raise BadRequest("Bad router request: specify subnet_id or port_id.")
        with self.db.session() as session:
            router = load_router(session, ctx, region, router_id)
            check_owner(ctx, router.project_id, "router", router_id)
            # a floating IP's association through the interface, if any, commits before this
            # looks (and is refused below) or finds the interface gone (FloatingIpService)
            lock_router(session, router_id)
            ports = ports_of(session, router_id, ROUTER_INTERFACE)
            ips = fixed_ips_of(session, [p.id for p in ports])
            found = [
                p
                for p in ports
                if (port_id is None or p.id == port_id)
                and (subnet_id is None or any(ip.subnet_id == subnet_id for ip in ips[p.id]))
            ]
            mine = port_id is not None and any(p.id == port_id for p in ports)
            if not found and mine and subnet_id is not None:  # its interface, other subnets
                raise BadRequest(
                    f"Bad router request: Subnet {subnet_id} does not match port {port_id}.",
                    kind="SubnetMismatchForPort",
                )
            if not found:
                if port_id is not None:
                    raise NotFound(
                        f"Router {router_id} does not have an interface with id {port_id}",
                        kind="RouterInterfaceNotFound",
                    )
                raise NotFound(
                    f"Router {router_id} has no interface on subnet {subnet_id}",
                    kind="RouterInterfaceNotFoundForSubnet",
                )
            port = found[0]
            subnet_ids = [ip.subnet_id for ip in ips[port.id]]
            if router.gateway_network_id is not None:
                fixed = {
                    f.fixed_ip_address
                    for f in session.scalars(
                        select(FloatingIp).where(FloatingIp.router_id == router_id)
                    )
                }
                cidrs = [
                    ipaddress.ip_network(s.cidr)
                    for s in session.scalars(select(Subnet).where(Subnet.id.in_(subnet_ids)))
                ]
                if any(a and any(ipaddress.ip_address(a) in c for c in cidrs) for a in fixed):
                    raise Conflict(
                        f"Router interface for subnet {subnet_ids[0]} on router {router_id} "
                        "cannot be deleted, as it is required by one or more floating IPs.",
                        kind="RouterInterfaceInUseByFloatingIP",
                    )
            subnets = list(session.scalars(select(Subnet).where(Subnet.id.in_(subnet_ids))))
            _check_no_route_through(router_id, router.routes or (), subnets)
            subnet_refs = [s.native_ref for s in subnets if s.native_ref]
            answer = InterfaceInfo(
                router_id, router.project_id, port.id, port.network_id, tuple(subnet_ids)
            )
            router_ref = router.native_ref
            # the router holds it no longer: nothing reaches a port through it from now on
            session.execute(delete(RouterPort).where(RouterPort.port_id == port.id))
        net_driver = driver(self.regions, region)
        try:
            for subnet_ref in subnet_refs:
                net_driver.remove_router_interface(
                    NativeRef(router_ref or ""), NativeRef(subnet_ref)
                )
        except BaseException:  # still routed by the cloud: still the router's
            with self.db.session() as session:
                session.add(
                    RouterPort(port_id=port.id, router_id=router_id, port_type=ROUTER_INTERFACE)
                )
            raise
        self.ports.remove(region, port.id)
        return answer


def _check_subnet_owned(ctx: RequestContext, subnet: Subnet) -> None:
    """Neutron's rule (LP 1757482): only an admin adds an interface on another project's
    subnet (a shared or external network's), else a project's router would take the gateway
    address that the subnet's other projects' instances route through."""
    if ctx.is_admin or subnet.project_id == ctx.project_id:
        return
    raise BadRequest(
        f"Bad router request: Cannot add interface to router because subnet {subnet.id} is not "
        "owned by project making the request."
    )


def _check_port_in_pools(
    ctx: RequestContext, port_id: str, ips: Sequence[FixedIpInfo], subnets: Sequence[Subnet]
) -> None:
    """Neutron's rule for an interface by port: an address outside the pools of a subnet of
    another project (one its project chose, such as the gateway address) is an admin's to make
    a router's; one of the pools is any instance's."""
    if ctx.is_admin:
        return
    by_id = {s.id: s for s in subnets}
    for ip in ips:
        subnet = by_id[ip.subnet_id]
        if subnet.project_id == ctx.project_id or in_pools(subnet, ip.ip_address):
            continue
        raise BadRequest(
            f"Bad router request: Cannot add interface to router because specified port "
            f"{port_id} has an IP address out of the allocation pool of subnet {subnet.id}, "
            "which is not owned by the project making the request."
        )


def _check_subnets(session: Session, router_id: str, candidates: Sequence[Subnet]) -> None:
    """A new interface's subnets against those the router routes (:func:`check_no_overlap`)."""
    router = session.get_one(Router, router_id)
    routed = [*interface_subnets(session, router_id), *gateway_subnets(session, router)]
    check_no_overlap(candidates, routed)


def _lock_and_check(session: Session, router_id: str, candidates: Sequence[Subnet]) -> None:
    """In the unit of work that records the router's hold of a new interface: the router
    locked, :func:`_check_subnets` again, as a concurrent add may have committed since."""
    lock_router(session, router_id)
    _check_subnets(session, router_id, candidates)


def _check_no_route_through(
    router_id: str, routes: Sequence[Sequence[str]], subnets: Sequence[Subnet]
) -> None:
    """Neutron's RouterInterfaceInUseByRoute: an interface whose subnet holds the next hop of
    one of the router's extra routes stays until the route goes."""
    for subnet in subnets:
        cidr = ipaddress.ip_network(subnet.cidr)
        for destination, nexthop in routes:
            if ipaddress.ip_address(nexthop) in cidr:
                raise Conflict(
                    f"Router interface for subnet {subnet.id} on router {router_id} cannot be "
                    f"deleted, as it is required by one or more routes ({destination} via "
                    f"{nexthop}).",
                    kind="RouterInterfaceInUseByRoute",
                )
