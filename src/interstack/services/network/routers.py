"""Routers: interfaces on tenant subnets, a gateway on an external network, extra routes.

An interface is a port on the subnet holding the subnet's gateway address (device owner
``network:router_interface``); the gateway is a port on the external network (``network:
router_gateway``). Which ports a router holds is recorded by its own operations
(``router_ports``), not read off the ports' device fields, which a port's project sets. The
backend is told which subnets the router routes and whether it gives them a way out; the
contract fixes that at creation, so changing the gateway re-realizes the router.
Interfaces are added and removed in ``router_interfaces``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, select, true, update
from sqlalchemy.orm import Session

from interstack.backends.contract import NativeRef, RouterSpec
from interstack.errors import BadRequest, Conflict, NotFound
from interstack.services.context import RequestContext
from interstack.services.listing import Page
from interstack.services.network import quotas
from interstack.services.network.common import (
    Filters,
    SeenById,
    check_owner,
    driver,
    new_id,
    now,
    owned,
    owned_by,
    stamp,
    tenant_of,
    visible_page,
)
from interstack.services.network.ipam import IpRequest
from interstack.services.network.networks import load_network
from interstack.services.network.ports import (
    ROUTER_GATEWAY,
    ROUTER_INTERFACE,
    PortCreate,
    PortService,
    fixed_ips_of,
)
from interstack.services.network.records import RouterInfo
from interstack.services.regions import Regions
from interstack.store import Database, rowcount
from interstack.store.models import FloatingIp, IpAllocation, Port, Router, RouterPort, Subnet

COLUMNS = {
    "id": Router.id,
    "name": Router.name,
    "description": Router.description,
    "project_id": Router.project_id,
    "tenant_id": Router.project_id,
    "admin_state_up": Router.admin_state_up,
    "status": Router.status,
    "created_at": Router.created_at,
    "updated_at": Router.updated_at,
}


@dataclass(frozen=True)
class GatewayRequest:
    network_id: str
    enable_snat: bool | None = None
    fixed_ips: tuple[IpRequest, ...] | None = None


@dataclass(frozen=True)
class RouterCreate:
    name: str = ""
    description: str = ""
    project_id: str | None = None
    admin_state_up: bool = True
    gateway: GatewayRequest | None = None


def _missing(router_id: str) -> NotFound:
    return NotFound(f"Router {router_id} could not be found", kind="RouterNotFound")


#: a router by id if the caller's project's (any for an admin), by statements built once
_SEEN = SeenById(Router, owned(Router.project_id), _missing)


def load_router(session: Session, ctx: RequestContext, region: str, router_id: str) -> Router:
    return _SEEN.load(session, ctx, region, router_id)


#: the only status a router is given (Neutron's routers are ACTIVE until they are gone; one
#: being deleted is marked by ``Router.deleting``, never by its status, which list filters match)
SHOWN_STATUS = "ACTIVE"


def lock_router(session: Session, router_id: str, *, deleting: bool = False) -> None:
    """Serialize changes to the router's ports: concurrent writers queue on its row (SQLite's
    write lock, PostgreSQL's row lock), so a check made after it sees every commit before
    (two interfaces on one subnet, of which removing one would unroute the other; a floating
    IP associated through an interface being removed). A router being deleted is not found
    (its deletion checked that it held nothing, and nothing is given to it after), except by
    a deletion (``deleting``): one asked again after a gateway stopped mid-way finishes it."""
    # a write that changes nothing: it takes the lock (PostgreSQL looks at the mark again
    # once a writer before has committed)
    usable = true() if deleting else Router.deleting.is_(False)
    locked = session.execute(
        update(Router).where(Router.id == router_id, usable).values(id=Router.id)
    )
    if rowcount(locked) == 0:
        # it shows ACTIVE while being deleted: say why it is not found, and what finishes it
        going = session.scalar(select(Router.deleting).where(Router.id == router_id))
        why = " (it is being deleted; a deletion cut short is finished by deleting it again)"
        raise NotFound(
            f"Router {router_id} could not be found{why if going else ''}", kind="RouterNotFound"
        )


def ports_of(session: Session, router_id: str, port_type: str) -> list[Port]:
    """The router's interfaces or its gateway (``port_type``): the ports its own operations
    gave it (``router_ports``), never those that merely name it as their device."""
    return list(
        session.scalars(
            select(Port)
            .join(RouterPort, RouterPort.port_id == Port.id)
            .where(RouterPort.router_id == router_id, RouterPort.port_type == port_type)
            .order_by(Port.created_at, Port.id)
        )
    )


def gateway_address(session: Session, router_id: str) -> str | None:
    """The IPv4 address of the router's gateway port: where its subnets' traffic is SNATed."""
    gateway = [p.id for p in ports_of(session, router_id, ROUTER_GATEWAY)]
    for ips in fixed_ips_of(session, gateway).values():
        for ip in ips:
            if ipaddress.ip_address(ip.ip_address).version == 4:
                return ip.ip_address
    return None


def router_info(session: Session, row: Router) -> RouterInfo:
    gateway = ports_of(session, row.id, ROUTER_GATEWAY)
    ips = fixed_ips_of(session, [p.id for p in gateway])
    return RouterInfo(
        id=row.id,
        project_id=row.project_id,
        name=row.name,
        description=row.description,
        admin_state_up=row.admin_state_up,
        status=row.status,
        gateway_network_id=row.gateway_network_id,
        enable_snat=row.enable_snat,
        external_fixed_ips=tuple(ip for p in gateway for ip in ips[p.id]),
        routes=tuple((str(d), str(n)) for d, n in row.routes or ()),
        stamp=stamp(row),
    )


def interface_subnets(session: Session, router_id: str) -> list[Subnet]:
    """The subnets the router has interfaces on."""
    ports = [p.id for p in ports_of(session, router_id, ROUTER_INTERFACE)]
    ips = fixed_ips_of(session, ports)
    ids = {ip.subnet_id for p in ports for ip in ips[p]}
    return list(session.scalars(select(Subnet).where(Subnet.id.in_(ids))))


def check_no_overlap(new: Sequence[Subnet], routed: Sequence[Subnet]) -> None:
    """Neutron's checks of subnets a router is to route (a new interface's, a new gateway
    network's) against those it routes (its interfaces', its gateway network's): none the same
    (removing one interface would unroute the other's), none overlapping (a prefix routed two
    ways)."""
    for candidate in new:
        new_net = ipaddress.ip_network(candidate.cidr)
        for existing in routed:
            if existing.id == candidate.id:
                raise BadRequest(
                    f"Bad router request: Router already has a port on subnet {candidate.id}."
                )
            other = ipaddress.ip_network(existing.cidr)
            if other.version == new_net.version and other.overlaps(new_net):
                raise BadRequest(
                    f"Bad router request: Cidr {candidate.cidr} of subnet {candidate.id} "
                    f"overlaps with cidr {existing.cidr} of subnet {existing.id}."
                )


def gateway_subnets(session: Session, router: Router) -> list[Subnet]:
    """The subnets of the router's gateway network, if it has a gateway."""
    if router.gateway_network_id is None or not ports_of(session, router.id, ROUTER_GATEWAY):
        return []
    return list(
        session.scalars(select(Subnet).where(Subnet.network_id == router.gateway_network_id))
    )


class RouterService:
    def __init__(self, db: Database, regions: Regions, ports: PortService) -> None:
        self.db = db
        self.regions = regions
        self.ports = ports

    # -- realization ---------------------------------------------------------------------------

    def _realize(self, region: str, router_id: str) -> None:
        """Make the backend's router match: created with the right way out, its interfaces
        added. A router whose way out changed is removed and realized again."""
        net_driver = driver(self.regions, region)
        with self.db.session() as session:
            row = session.get_one(Router, router_id)
            wants_out = row.gateway_network_id is not None and row.enable_snat
            native, name, project = row.native_ref, row.name, row.project_id
            address = gateway_address(session, router_id) if wants_out else None
            subnets = [s.native_ref for s in interface_subnets(session, router_id) if s.native_ref]
        if native is not None:
            for subnet in subnets:
                net_driver.remove_router_interface(NativeRef(native), NativeRef(subnet))
            net_driver.delete_router(NativeRef(native))
        native = net_driver.create_router(
            RouterSpec(
                gateway_id=router_id,
                name=name,
                project_id=project,
                external_gateway=wants_out,
                gateway_address=address,
            )
        )
        with self.db.session() as session:
            session.get_one(Router, router_id).native_ref = native
        for subnet in subnets:
            net_driver.add_router_interface(NativeRef(native), NativeRef(subnet))

    # -- gateway -------------------------------------------------------------------------------

    def _set_gateway(
        self, ctx: RequestContext, region: str, router_id: str, gateway: GatewayRequest | None
    ) -> None:
        """Replace the gateway port (none when ``gateway`` is None) and record the network, in
        one unit of work with the router locked: concurrent settings leave one gateway port."""
        with self.db.session() as session:
            row = load_router(session, ctx, region, router_id)
            if gateway is not None:
                network = load_network(session, ctx, region, gateway.network_id)
                if not network.external:
                    raise BadRequest(
                        f"Bad router request: Network {network.id} is not an external network."
                    )
            project_id = row.project_id
        if gateway is None:
            with self.db.session() as session:
                _replace_gateway(session, router_id, None)
            return
        if gateway.fixed_ips is None:
            with self.db.session() as session:
                if _kept_gateway(session, router_id, gateway):
                    return
        self.ports.record_router_port(
            ctx,
            region,
            PortCreate(
                network_id=gateway.network_id,
                project_id=project_id,
                fixed_ips=gateway.fixed_ips,
                device_id=router_id,
                device_owner=ROUTER_GATEWAY,
                security_groups=(),
                port_security_enabled=False,
                internal=True,
            ),
            lambda session: _replace_gateway(session, router_id, gateway),
        )

    # -- CRUD ----------------------------------------------------------------------------------

    def create(self, ctx: RequestContext, region: str, new: RouterCreate) -> RouterInfo:
        project_id = tenant_of(ctx, new.project_id)
        router_id = new_id()
        at = now()
        with self.db.session() as session:
            quotas.check(session, region, project_id, "router")
            session.add(
                Router(
                    id=router_id,
                    region=region,
                    project_id=project_id,
                    name=new.name,
                    description=new.description,
                    admin_state_up=new.admin_state_up,
                    status=SHOWN_STATUS,
                    gateway_network_id=None,
                    enable_snat=True,
                    routes=[],
                    tags=[],
                    native_ref=None,
                    created_at=at,
                    updated_at=at,
                    deleting=False,
                )
            )
        try:
            if new.gateway is not None:
                self._set_gateway(ctx, region, router_id, new.gateway)
            self._realize(region, router_id)
        except BaseException:
            self._forget(router_id)
            raise
        return self.get(ctx, region, router_id)

    def _forget(self, router_id: str) -> None:
        with self.db.session() as session:
            gateway = [p.id for p in ports_of(session, router_id, ROUTER_GATEWAY)]
        for port_id in gateway:
            self.ports.forget(port_id)
        with self.db.session() as session:
            # its router_ports rows go with it (ON DELETE CASCADE)
            session.execute(delete(Router).where(Router.id == router_id))

    def get(self, ctx: RequestContext, region: str, router_id: str) -> RouterInfo:
        with self.db.session() as session:
            return router_info(session, load_router(session, ctx, region, router_id))

    def list_page(
        self, ctx: RequestContext, region: str, filters: Filters, page: Page
    ) -> list[RouterInfo]:
        with self.db.session() as session:
            visible = owned_by(ctx, Router.project_id)
            rows = visible_page(session, Router, region, visible, filters, page, COLUMNS)
            return [router_info(session, r) for r in rows]

    def update(
        self, ctx: RequestContext, region: str, router_id: str, values: dict[str, Any]
    ) -> RouterInfo:
        with self.db.session() as session:
            row = load_router(session, ctx, region, router_id)
            check_owner(ctx, row.project_id, "router", router_id)
            for key in ("name", "description", "admin_state_up"):
                if values.get(key) is not None:
                    setattr(row, key, values[key])
            if "routes" in values:
                # locked before the interfaces are read: one removed meanwhile is seen (its
                # removal checks the routes under this lock, so it sees these after)
                lock_router(session, router_id)
                row.routes = self._routes(session, router_id, values["routes"] or [])
            row.updated_at = now()
            was_out = row.gateway_network_id is not None and row.enable_snat
            was_at = gateway_address(session, router_id) if "gateway" in values else None
        if "gateway" in values:
            self._set_gateway(ctx, region, router_id, values["gateway"])
            with self.db.session() as session:
                row = session.get_one(Router, router_id)
                now_out = row.gateway_network_id is not None and row.enable_snat
                now_at = gateway_address(session, router_id)
            # the cloud's router SNATs at the gateway's address: made again when either changes
            if (now_out, now_at) != (was_out, was_at):
                self._realize(region, router_id)
        return self.get(ctx, region, router_id)

    @staticmethod
    def _routes(
        session: Session, router_id: str, routes: Sequence[tuple[str, str]]
    ) -> list[list[str]]:
        """Extra routes: each next hop must lie on a subnet the router has an interface on."""
        subnets = [ipaddress.ip_network(s.cidr) for s in interface_subnets(session, router_id)]
        out: list[list[str]] = []
        for destination, nexthop in routes:
            try:
                dest = ipaddress.ip_network(destination)
                hop = ipaddress.ip_address(nexthop)
            except ValueError as exc:
                raise BadRequest(f"Invalid route {destination} via {nexthop}.") from exc
            if not any(hop in net for net in subnets):
                raise BadRequest(
                    f"Invalid format for routes: the nexthop {nexthop} is not connected with "
                    f"router {router_id}.",
                    kind="InvalidRoutes",
                )
            if [str(dest), str(hop)] not in out:
                out.append([str(dest), str(hop)])
        return out

    def delete(self, ctx: RequestContext, region: str, router_id: str) -> None:
        with self.db.session() as session:
            row = load_router(session, ctx, region, router_id)
            check_owner(ctx, row.project_id, "router", router_id)
            # locked as an interface's add or a floating IP's association locks it: one that
            # committed before is seen below, one after finds the router going (404)
            lock_router(session, router_id, deleting=True)
            if ports_of(session, router_id, ROUTER_INTERFACE):
                raise Conflict(
                    f"Router {router_id} still has ports",
                    kind="RouterInUse",
                )
            fips = session.scalar(
                select(func.count())
                .select_from(FloatingIp)
                .where(FloatingIp.router_id == router_id)
            )
            if fips:
                raise Conflict(f"Router {router_id} still routes floating IPs", kind="RouterInUse")
            row.deleting = True
            native = row.native_ref
        if native:
            try:
                driver(self.regions, region).delete_router(NativeRef(native))
            except BaseException:  # the cloud's router stays: the router is the API's again
                with self.db.session() as session:
                    session.execute(
                        update(Router).where(Router.id == router_id).values(deleting=False)
                    )
                raise
        self._forget(router_id)


def _kept_gateway(session: Session, router_id: str, gateway: GatewayRequest) -> bool:
    """Whether the router's gateway port stays, as Neutron keeps it: on the network asked for
    already, no address asked for (the SNAT setting asked for taken, the router locked)."""
    lock_router(session, router_id)
    row = session.get_one(Router, router_id)
    if row.gateway_network_id != gateway.network_id:
        return False
    if not ports_of(session, router_id, ROUTER_GATEWAY):
        return False
    row.enable_snat = True if gateway.enable_snat is None else gateway.enable_snat
    row.updated_at = now()
    return True


def _replace_gateway(session: Session, router_id: str, gateway: GatewayRequest | None) -> None:
    """The router locked, its gateway port (if any) gone and its gateway recorded as
    ``gateway``, in the unit of work that records the new port (the old one's address is
    free for it); clearing it is refused while floating IPs go through it."""
    lock_router(session, router_id)
    row = session.get_one(Router, router_id)
    old = [p.id for p in ports_of(session, router_id, ROUTER_GATEWAY)]
    leaving = row.gateway_network_id if gateway is None else None
    if gateway is not None and gateway.network_id != row.gateway_network_id:
        leaving = row.gateway_network_id
    if old and leaving is not None:
        in_use = session.scalar(
            select(func.count()).select_from(FloatingIp).where(FloatingIp.router_id == router_id)
        )
        if in_use:
            raise Conflict(
                f"Gateway cannot be updated for router {router_id}, since a gateway to "
                f"external network {leaving} is required by one or more floating IPs.",
                kind="RouterExternalGatewayInUseByFloatingIp",
            )
    if gateway is not None and gateway.network_id != row.gateway_network_id:
        network_subnets = session.scalars(
            select(Subnet).where(Subnet.network_id == gateway.network_id)
        ).all()
        check_no_overlap(network_subnets, interface_subnets(session, router_id))
    # the gateway ports are the router's alone (nothing in the backend): their rows go, and
    # the router's hold of them with them (ON DELETE CASCADE)
    session.execute(delete(IpAllocation).where(IpAllocation.port_id.in_(old)))
    session.execute(delete(Port).where(Port.id.in_(old)))
    row.gateway_network_id = gateway.network_id if gateway else None
    if gateway is not None:
        row.enable_snat = True if gateway.enable_snat is None else gateway.enable_snat
    row.updated_at = now()
