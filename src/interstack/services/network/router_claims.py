"""What routers did for ports that only named them, undone at start-up (backends started).

Before ``router_ports`` a router's interfaces were the ports naming it as their device, which a
project could set on a port of its own, for another project's router too. So a cloud may still
route such a port's subnet through the router it named (the router was realized again with it)
and forward a floating IP through that router to the subnet. A router's interfaces are now
the ports it holds, so the backend's router stops routing every subnet no port it holds is on,
and a floating IP that reaches its port through a router holding no interface on the port's
subnet is disassociated (its address kept, ``DOWN``), as its project could not associate it now.
Both are no-ops on a cloud without such leftovers; the log names what was undone.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import ColumnElement, Exists, exists, select
from sqlalchemy.orm import QueryableAttribute, aliased

from interstack.backends.contract import NativeRef, NetworkDriver
from interstack.errors import InterstackError
from interstack.services.network.common import driver, now
from interstack.services.network.ports import ROUTER_INTERFACE
from interstack.services.regions import Regions
from interstack.store import Database
from interstack.store.models import FloatingIp, IpAllocation, Port, Router, RouterPort, Subnet

log = logging.getLogger(__name__)


def _held_on(router_id: QueryableAttribute[Any], subnet_id: QueryableAttribute[Any]) -> Exists:
    """Whether the router holds an interface on the subnet (a correlated EXISTS)."""
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
        with self.db.session() as session:
            rows = session.execute(
                select(Router.id, Router.native_ref, Subnet.id, Subnet.native_ref)
                .join(Port, Port.device_id == Router.id)
                .join(IpAllocation, IpAllocation.port_id == Port.id)
                .join(Subnet, Subnet.id == IpAllocation.subnet_id)
                .where(
                    Router.region == region,
                    Port.device_owner == ROUTER_INTERFACE,
                    ~_held_on(Router.id, Subnet.id),
                )
                .distinct()
            ).all()
        for router_id, router_ref, subnet_id, subnet_ref in rows:
            if not (router_ref and subnet_ref):
                continue
            try:
                net_driver.remove_router_interface(NativeRef(router_ref), NativeRef(subnet_ref))
            except InterstackError as exc:  # asked again at the next start
                log.warning(
                    "region %s: router %s may still route subnet %s: %s",
                    region,
                    router_id,
                    subnet_id,
                    exc.message,
                )
                continue
            log.info(
                "region %s: router %s no longer routes subnet %s, on which it holds no "
                "interface (a port only named the router)",
                region,
                router_id,
                subnet_id,
            )

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
