"""Floating IPs: a public address from an external network, forwarded to a port's fixed IP.

The gateway's IPAM chooses the address from the external subnet's allocation pools, as it does
a router's gateway address, and records it before the backend is asked for it, so that no port
or other floating IP is ever given it. A cloud that assigns its public addresses itself (no
``floating_ip_choice`` capability) is asked first, and the address it reports is recorded. When
the address is associated, the router that connects the port's subnet to the external network
is found.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from interstack.backends.contract import NativeRef
from interstack.errors import BadRequest, Conflict, Forbidden, NotFound
from interstack.services.context import RequestContext
from interstack.services.listing import Page
from interstack.services.network import quotas
from interstack.services.network.common import (
    DHCP_OWNER,
    Filters,
    SeenById,
    check_owner,
    driver,
    new_id,
    now,
    owned,
    owned_by,
    retrying,
    stamp,
    tenant_of,
    visible_page,
)
from interstack.services.network.ipam import IpRequest, choose, hold
from interstack.services.network.networks import load_network
from interstack.services.network.port_records import NOT_DELETING, lock_port
from interstack.services.network.port_removal import fip_turn
from interstack.services.network.ports import (
    ROUTER_INTERFACE,
    check_not_going,
    fixed_ips_of,
    load_port,
)
from interstack.services.network.records import FloatingIpInfo
from interstack.services.network.routers import lock_router
from interstack.services.regions import Regions
from interstack.store import Database
from interstack.store.models import FloatingIp, IpAllocation, Router, RouterPort, Subnet

COLUMNS = {
    "id": FloatingIp.id,
    "description": FloatingIp.description,
    "project_id": FloatingIp.project_id,
    "tenant_id": FloatingIp.project_id,
    "floating_network_id": FloatingIp.floating_network_id,
    "floating_ip_address": FloatingIp.floating_ip_address,
    "port_id": FloatingIp.port_id,
    "fixed_ip_address": FloatingIp.fixed_ip_address,
    "router_id": FloatingIp.router_id,
    "status": FloatingIp.status,
    "created_at": FloatingIp.created_at,
    "updated_at": FloatingIp.updated_at,
}


@dataclass(frozen=True)
class FloatingIpCreate:
    floating_network_id: str
    floating_ip_address: str | None = None
    subnet_id: str | None = None
    port_id: str | None = None
    fixed_ip_address: str | None = None
    description: str = ""
    project_id: str | None = None


def fip_info(row: FloatingIp) -> FloatingIpInfo:
    return FloatingIpInfo(
        id=row.id,
        project_id=row.project_id,
        description=row.description,
        floating_network_id=row.floating_network_id,
        floating_ip_address=row.floating_ip_address,
        port_id=row.port_id,
        fixed_ip_address=row.fixed_ip_address,
        router_id=row.router_id,
        status=row.status,
        stamp=stamp(row),
    )


def _fip_row(
    fip_id: str,
    region: str,
    project_id: str,
    new: FloatingIpCreate,
    subnet_id: str,
    address: str,
    native: str | None,
) -> FloatingIp:
    """A new floating IP's row: unassociated (``DOWN``), on ``address`` of ``subnet_id``."""
    at = now()
    return FloatingIp(
        id=fip_id,
        region=region,
        project_id=project_id,
        description=new.description,
        floating_network_id=new.floating_network_id,
        floating_subnet_id=subnet_id,
        floating_ip_address=address,
        status="DOWN",
        tags=[],
        native_ref=native,
        created_at=at,
        updated_at=at,
    )


@dataclass(frozen=True)
class _Target:
    port_id: str
    port_ref: str | None
    fixed_ip: str
    router_id: str
    #: the fixed IP's subnet, on which the router holds an interface
    subnet_id: str


def _missing(fip_id: str) -> NotFound:
    return NotFound(f"Floating IP {fip_id} could not be found", kind="FloatingIPNotFound")


#: a floating IP by id if the caller's project's (any for an admin), by statements built once
_SEEN = SeenById(FloatingIp, owned(FloatingIp.project_id), _missing)


class FloatingIpService:
    def __init__(self, db: Database, regions: Regions) -> None:
        self.db = db
        self.regions = regions

    @staticmethod
    def load(session: Session, ctx: RequestContext, region: str, fip_id: str) -> FloatingIp:
        return _SEEN.load(session, ctx, region, fip_id)

    def create(self, ctx: RequestContext, region: str, new: FloatingIpCreate) -> FloatingIpInfo:
        project_id = tenant_of(ctx, new.project_id)
        if new.floating_ip_address is not None and not ctx.is_admin:
            raise Forbidden(
                "(rule:create_floatingip and rule:create_floatingip:floating_ip_address) is "
                "disallowed by policy"
            )
        chooses = self.regions.capabilities(region).floating_ip_choice
        with self.db.session() as session:
            network = load_network(session, ctx, region, new.floating_network_id)
            if not network.external:
                raise BadRequest(
                    f"Bad floatingip request: Network {network.id} is not a valid external network."
                )
            subnets = list(
                session.scalars(
                    select(Subnet)
                    .where(Subnet.network_id == network.id, Subnet.ip_version == 4)
                    .order_by(Subnet.created_at)
                )
            )
            if not subnets:
                raise BadRequest(
                    f"Bad floatingip request: external network {network.id} has no IPv4 subnet."
                )
            if new.subnet_id is not None and new.subnet_id not in {s.id for s in subnets}:
                raise BadRequest(
                    f"Bad floatingip request: subnet {new.subnet_id} is not an IPv4 subnet of "
                    f"external network {network.id}."
                )
            quotas.check(session, region, project_id, "floatingip")
            if new.port_id is not None:
                self._target(session, ctx, region, network.id, new.port_id, new.fixed_ip_address)
        if new.floating_ip_address is not None and not chooses:
            raise BadRequest(
                "Bad floatingip request: this region's cloud chooses floating IP addresses; "
                "leave floating_ip_address out."
            )
        fip_id = new_id()
        net_driver = driver(self.regions, region)
        allocated = None
        try:
            if chooses:
                address = retrying(lambda: self._record_chosen(region, project_id, fip_id, new))
                allocated = net_driver.allocate_floating_ip(fip_id, address)
                with self.db.session() as session:
                    session.get_one(FloatingIp, fip_id).native_ref = allocated.ref
            else:
                allocated = net_driver.allocate_floating_ip(fip_id)
                self._record(
                    region, project_id, fip_id, new, subnets, allocated.address, allocated.ref
                )
            if new.port_id is not None:
                self.associate(ctx, region, fip_id, new.port_id, new.fixed_ip_address)
        except BaseException:
            if allocated is not None:
                net_driver.release_floating_ip(allocated.ref)
            self._forget(fip_id)
            raise
        return self.get(ctx, region, fip_id)

    def _record_chosen(
        self, region: str, project_id: str, fip_id: str, new: FloatingIpCreate
    ) -> str:
        """Choose the address from the external subnets' pools (or take the admin's) and record
        it with the floating IP, in one unit of work (run again on a lost race)."""
        with self.db.session() as session:
            subnets = session.scalars(
                select(Subnet)
                .where(Subnet.network_id == new.floating_network_id, Subnet.ip_version == 4)
                .order_by(Subnet.created_at)
            ).all()
            if new.subnet_id is not None:
                subnets = [s for s in subnets if s.id == new.subnet_id]
            wanted = None
            if new.subnet_id is not None or new.floating_ip_address is not None:
                wanted = [IpRequest(new.subnet_id, new.floating_ip_address)]
            ((subnet_id, address),) = choose(session, new.floating_network_id, subnets, wanted)
            holder = next(s for s in subnets if s.id == subnet_id)
            if address == holder.gateway_ip:
                raise Conflict(
                    f"IP address {address} already allocated in subnet {subnet_id}",
                    kind="IpAddressAlreadyAllocated",
                )
            session.add(_fip_row(fip_id, region, project_id, new, subnet_id, address, None))
            session.flush()
            quotas.check_added(session, region, project_id, "floatingip")
            hold(session, new.floating_network_id, [(subnet_id, address)], floating_ip_id=fip_id)
            return address

    def _record(
        self,
        region: str,
        project_id: str,
        fip_id: str,
        new: FloatingIpCreate,
        subnets: list[Subnet],
        address: str,
        native: str,
    ) -> None:
        holder = next(
            (s for s in subnets if ipaddress.ip_address(address) in ipaddress.ip_network(s.cidr)),
            None,
        )
        subnet_id = (holder or subnets[0]).id
        try:
            with self.db.session() as session:
                session.add(_fip_row(fip_id, region, project_id, new, subnet_id, address, native))
                if holder is not None:
                    session.add(
                        IpAllocation(
                            subnet_id=holder.id,
                            network_id=holder.network_id,
                            ip_address=address,
                            floating_ip_id=fip_id,
                        )
                    )
        except IntegrityError as exc:
            raise Conflict(
                f"Floating IP address {address} is already in use on the external network.",
                kind="IpAddressAlreadyAllocated",
            ) from exc

    def _forget(self, fip_id: str) -> None:
        with self.db.session() as session:
            _forget_in(session, fip_id)

    def _target(
        self,
        session: Session,
        ctx: RequestContext,
        region: str,
        network_id: str,
        port_id: str,
        fixed_ip: str | None,
    ) -> _Target:
        """The port's address to forward to and the router that reaches it (404/400/409)."""
        port = load_port(session, ctx, region, port_id)
        check_not_going(port)
        if port.device_owner == DHCP_OWNER:  # as Neutron: the DHCP server is no instance
            raise BadRequest(
                f"Bad floatingip request: Port {port_id} is unable to be assigned a floating IP: "
                f"it is the DHCP port of its network ({DHCP_OWNER})."
            )
        ips = fixed_ips_of(session, [port.id])[port.id]
        if fixed_ip is not None:
            chosen = next((ip for ip in ips if ip.ip_address == fixed_ip), None)
            if chosen is None:
                raise BadRequest(
                    f"Bad floatingip request: Port {port_id} does not have fixed ip {fixed_ip}."
                )
        else:
            chosen = next(
                (ip for ip in ips if ipaddress.ip_address(ip.ip_address).version == 4), None
            )
            if chosen is None:
                raise BadRequest(
                    f"Bad floatingip request: Port {port_id} does not have any IPv4 address."
                )
        # the first router with a gateway on the network holding an interface on the subnet:
        # one the router's own operations gave it, not a port that merely names the router
        router_id = session.scalar(
            select(Router.id)
            .join(RouterPort, RouterPort.router_id == Router.id)
            .join(IpAllocation, IpAllocation.port_id == RouterPort.port_id)
            .where(
                Router.gateway_network_id == network_id,
                Router.region == region,
                RouterPort.port_type == ROUTER_INTERFACE,
                IpAllocation.subnet_id == chosen.subnet_id,
            )
            .order_by(Router.created_at, Router.id)
            .limit(1)
        )
        if router_id is None:
            raise _unreachable(network_id, chosen.subnet_id, port_id)
        return _Target(port.id, port.native_ref, chosen.ip_address, router_id, chosen.subnet_id)

    def associate(
        self,
        ctx: RequestContext,
        region: str,
        fip_id: str,
        port_id: str | None,
        fixed_ip: str | None = None,
    ) -> FloatingIpInfo:
        """Forward the address to the port (or nowhere, ``port_id`` None)."""
        with self.db.session() as session:
            row = self.load(session, ctx, region, fip_id)
            check_owner(ctx, row.project_id, "floating IP", fip_id)
            target = None
            if port_id is not None:
                target = self._target(
                    session, ctx, region, row.floating_network_id, port_id, fixed_ip
                )
                _check_fixed_ip_free(session, row, target)
            native = row.native_ref
        net_driver = driver(self.regions, region)
        # the cloud told and the association recorded in the floating IP's turn, which a
        # port's deletion takes to unforward it: neither undoes the other's move in the cloud
        with fip_turn(self.db, fip_id) as session:
            net_driver.associate_floating_ip(
                NativeRef(native or ""),
                NativeRef(target.port_ref) if target and target.port_ref else None,
                target.fixed_ip if target else None,
            )
            refused = None if target is None else _still_taken(session, row, target)
            if refused is not None:
                target = None
            found = session.get(FloatingIp, fip_id)
            if found is None:  # deleted meanwhile: its deletion released the cloud's address
                raise NotFound(
                    f"Floating IP {fip_id} could not be found", kind="FloatingIPNotFound"
                )
            row = found
            row.port_id = target.port_id if target else None
            row.fixed_ip_address = target.fixed_ip if target else None
            row.router_id = target.router_id if target else None
            row.status = "ACTIVE" if target else "DOWN"
            row.updated_at = now()
            answer = fip_info(row)
        if refused is not None:  # changed while the cloud was told: undone in a turn of its
            # own (never in the one above, whose writes hold SQLite's write lock), unless the
            # floating IP was associated again meanwhile, whose call the cloud had after this,
            # or deleted meanwhile (its address released: nothing to undo)
            with fip_turn(self.db, fip_id) as session:
                still = session.execute(
                    select(FloatingIp.port_id).where(FloatingIp.id == fip_id)
                ).first()
                if still is not None and still.port_id is None:
                    net_driver.associate_floating_ip(NativeRef(native or ""), None)
            raise refused
        return answer

    def get(self, ctx: RequestContext, region: str, fip_id: str) -> FloatingIpInfo:
        with self.db.session() as session:
            return fip_info(self.load(session, ctx, region, fip_id))

    def list_page(
        self, ctx: RequestContext, region: str, filters: Filters, page: Page
    ) -> list[FloatingIpInfo]:
        with self.db.session() as session:
            visible = owned_by(ctx, FloatingIp.project_id)
            rows = visible_page(session, FloatingIp, region, visible, filters, page, COLUMNS)
            return [fip_info(r) for r in rows]

    def update(
        self, ctx: RequestContext, region: str, fip_id: str, values: dict[str, Any]
    ) -> FloatingIpInfo:
        if values.get("description") is not None:
            with self.db.session() as session:
                row = self.load(session, ctx, region, fip_id)
                check_owner(ctx, row.project_id, "floating IP", fip_id)
                row.description = values["description"]
                row.updated_at = now()
        if "port_id" in values:
            return self.associate(
                ctx, region, fip_id, values["port_id"], values.get("fixed_ip_address")
            )
        return self.get(ctx, region, fip_id)

    def delete(self, ctx: RequestContext, region: str, fip_id: str) -> None:
        with self.db.session() as session:
            row = self.load(session, ctx, region, fip_id)
            check_owner(ctx, row.project_id, "floating IP", fip_id)
            native = row.native_ref
        # in the floating IP's turn, as its association and a port deletion's unforwarding
        # (fip_turn): the address is not released under their cloud calls (which then failed
        # on an address gone: the port's deletion with it)
        with fip_turn(self.db, fip_id) as session:
            if native:
                driver(self.regions, region).release_floating_ip(NativeRef(native))
            _forget_in(session, fip_id)


def _forget_in(session: Session, fip_id: str) -> None:
    session.execute(delete(IpAllocation).where(IpAllocation.floating_ip_id == fip_id))
    session.execute(delete(FloatingIp).where(FloatingIp.id == fip_id))


def _check_fixed_ip_free(session: Session, fip: FloatingIp, target: _Target) -> None:
    """Neutron's FloatingIPPortAlreadyAssociated: one floating IP per fixed IP of a port."""
    other = session.scalar(
        select(FloatingIp.id).where(
            FloatingIp.port_id == target.port_id,
            FloatingIp.fixed_ip_address == target.fixed_ip,
            FloatingIp.id != fip.id,
        )
    )
    if other is not None:
        raise Conflict(
            f"Cannot associate floating IP {fip.floating_ip_address} ({fip.id}) with port "
            f"{target.port_id} using fixed IP {target.fixed_ip}, as that fixed IP already has "
            f"a floating IP on external network {fip.floating_network_id}.",
            kind="FloatingIPPortAlreadyAssociated",
        )


def _still_taken(session: Session, fip: FloatingIp, target: _Target) -> Exception | None:
    """In the unit of work that records the association, after the cloud was told: what
    changed meanwhile to refuse it, if anything. The router, then the port locked (a port's
    deletion marks it under its lock and reads its floating IPs after: one that committed
    before is seen here, one after sees this association and undoes it), the checks made
    before the cloud was told are made again: the interface still there, the port not going,
    its fixed IP no other floating IP's."""
    if not _still_reached(session, target):
        return _unreachable(fip.floating_network_id, target.subnet_id, target.port_id)
    if not lock_port(session, target.port_id, NOT_DELETING):
        return NotFound(
            f"Port {target.port_id} could not be found (it was deleted meanwhile).",
            kind="PortNotFound",
        )
    try:
        _check_fixed_ip_free(session, fip, target)
    except Conflict as taken:
        return taken
    return None


def _still_reached(session: Session, target: _Target) -> bool:
    """Whether the target's router still holds its interface on the target's subnet, the
    router locked: an interface's removal commits before (and this is False) or after, seeing
    the floating IP written here (and refusing: RouterInterfaceInUseByFloatingIP)."""
    try:
        lock_router(session, target.router_id)
    except NotFound:  # deleted meanwhile, its interfaces first
        return False
    held = exists().where(
        RouterPort.router_id == target.router_id,
        RouterPort.port_type == ROUTER_INTERFACE,
        IpAllocation.port_id == RouterPort.port_id,
        IpAllocation.subnet_id == target.subnet_id,
    )
    return bool(session.scalar(select(held)))


def _unreachable(network_id: str, subnet_id: str, port_id: str) -> NotFound:
    return NotFound(
        f"External network {network_id} is not reachable from subnet {subnet_id}. "
        f"Therefore, cannot associate Port {port_id} with a Floating IP.",
        kind="ExternalGatewayForFloatingIPNotFound",
    )
