"""What routers did for ports that only named them, undone at start-up (backends started).

Before ``router_ports`` a router's interfaces were the ports naming it as their device, which a
project could set on a port of its own, for another project's router too. So a cloud may still
route such a port's subnet through the router it named (the router was realized again with it)
and forward a floating IP through that router to the subnet. A router's interfaces are now
the ports it holds, so the backend's router stops routing each subnet revision 0006 listed (a
port named the router on it, the router holding no interface there): once, as nothing makes a
router route such a subnet now, and the list empties as the cloud does it. And a floating IP
that reaches its port through a router holding no interface on the port's subnet is
disassociated (its address kept, ``DOWN``), as its project could not associate it now: one
query at each start, the cloud asked only about such a floating IP. The log names what was
undone.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import ColumnElement, Exists, delete, exists, select
from sqlalchemy.orm import QueryableAttribute, aliased

from interstack.backends.contract import NativeRef, NetworkDriver
from interstack.errors import InterstackError
from interstack.services.network.common import driver, now
from interstack.services.network.ports import ROUTER_INTERFACE
from interstack.services.regions import Regions
from interstack.store import Database
from interstack.store.models import (
    FloatingIp,
    IpAllocation,
    Router,
    RouterClaimLeftover,
    RouterPort,
    Subnet,
)

log = logging.getLogger(__name__)


def _held_on(
    router_id: QueryableAttribute[Any] | str, subnet_id: QueryableAttribute[Any] | str
) -> Exists:
    """Whether the router holds an interface on the subnet (correlated, given columns)."""
    address = aliased(IpAllocation)
    return exists().where(
        RouterPort.router_id == router_id,
        RouterPort.port_type == ROUTER_INTERFACE,
        address.port_id == RouterPort.port_id,
        address.subnet_id == subnet_id,
    )


class RouterClaimSweep:
    def __init__(self, db: Database, regions: Regions) -> None:
        self.db = db
        self.regions = regions

    def ensure(self) -> None:
        """Every region's routers route only their interfaces' subnets, and every floating IP
        reaches its port through an interface of its router."""
        for region in self.regions.names:
            names = self.regions.capabilities(region).names()
            if "networks" not in names:
                continue
            net_driver = driver(self.regions, region)
            self._unroute_claims(region, net_driver)
            if "floating_ips" in names:
                self._disassociate_unreached(region, net_driver)

    def _unroute_claims(self, region: str, net_driver: NetworkDriver) -> None:
        """The pairs revision 0006 listed (none once undone: a start asks the cloud nothing)."""
        with self.db.session() as session:
            pairs = session.execute(
                select(RouterClaimLeftover.router_id, RouterClaimLeftover.subnet_id)
                .join(Router, Router.id == RouterClaimLeftover.router_id)
                .where(Router.region == region)
                .order_by(RouterClaimLeftover.router_id, RouterClaimLeftover.subnet_id)
            ).all()
        for router_id, subnet_id in pairs:
            try:
                self._unroute(region, net_driver, router_id, subnet_id)
            except InterstackError as exc:  # asked again at the next start
                log.warning(
                    "region %s: router %s may still route subnet %s: %s",
                    region,
                    router_id,
                    subnet_id,
                    exc.message,
                )

    def _unroute(
        self, region: str, net_driver: NetworkDriver, router_id: str, subnet_id: str
    ) -> None:
        """The cloud's router stops routing the subnet, the router's row locked meanwhile: an
        interface a replica adds on the subnet (its hold recorded with the router locked, then
        the cloud told) is either seen here, and the subnet left routed, or told to the cloud
        after this."""
        leftover = (
            RouterClaimLeftover.router_id == router_id,
            RouterClaimLeftover.subnet_id == subnet_id,
        )
        with self.db.session() as session:
            router_ref = session.scalar(
                select(Router.native_ref).where(Router.id == router_id).with_for_update()
            )
            subnet_ref = session.scalar(select(Subnet.native_ref).where(Subnet.id == subnet_id))
            held = session.scalar(select(_held_on(router_id, subnet_id)))
            if router_ref and subnet_ref and not held:
                net_driver.remove_router_interface(NativeRef(router_ref), NativeRef(subnet_ref))
                log.info(
                    "region %s: router %s no longer routes subnet %s, on which it holds no "
                    "interface (a port only named the router)",
                    region,
                    router_id,
                    subnet_id,
                )
            session.execute(delete(RouterClaimLeftover).where(*leftover))

    def _disassociate_unreached(self, region: str, net_driver: NetworkDriver) -> None:
        fixed = aliased(IpAllocation)
        unreached = ~exists().where(
            fixed.port_id == FloatingIp.port_id,
            fixed.ip_address == FloatingIp.fixed_ip_address,
            _held_on(FloatingIp.router_id, fixed.subnet_id),
        )
        with self.db.session() as session:
            found = session.scalars(
                select(FloatingIp.id).where(
                    FloatingIp.region == region, FloatingIp.router_id.is_not(None), unreached
                )
            ).all()
        for fip_id in found:
            try:
                self._disassociate(region, net_driver, fip_id, unreached)
            except InterstackError as exc:  # asked again at the next start
                log.warning(
                    "region %s: floating IP %s may still reach its port: %s",
                    region,
                    fip_id,
                    exc.message,
                )

    def _disassociate(
        self,
        region: str,
        net_driver: NetworkDriver,
        fip_id: str,
        unreached: ColumnElement[bool],
    ) -> None:
        # looked at again, locked: a replica serving meanwhile may have associated it anew
        with self.db.session() as session:
            row = session.scalar(
                select(FloatingIp)
                .where(FloatingIp.id == fip_id, FloatingIp.router_id.is_not(None), unreached)
                .with_for_update()
            )
            if row is None:
                return
            if row.native_ref:
                net_driver.associate_floating_ip(NativeRef(row.native_ref), None)
            log.info(
                "region %s: floating IP %s disassociated from port %s: router %s holds no "
                "interface on its subnet",
                region,
                fip_id,
                row.port_id,
                row.router_id,
            )
            row.port_id = row.fixed_ip_address = row.router_id = None
            row.status = "DOWN"
            row.updated_at = now()
