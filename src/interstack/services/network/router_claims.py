"""What routers did for ports that only named them, undone by tasks start-up queues.

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

Start-up only looks in the store and queues a task per router with listed subnets and per
such floating IP (none for one with a task pending or running); the task runner asks the
cloud, so one that hangs or raises what the gateway does not map delays or stops nothing but
the task, which is retried as other tasks are (given up: left to the next start). Until then
requests see what the cloud still does (the router routing, the floating IP associated),
and each step looks again with the row locked: an interface added or an association made
meanwhile is left alone.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import ColumnElement, Exists, delete, exists, select
from sqlalchemy.orm import QueryableAttribute, aliased

from interstack.backends.contract import NativeRef, NetworkDriver
from interstack.services.network.common import driver, now
from interstack.services.network.ports import ROUTER_INTERFACE
from interstack.services.regions import Regions
from interstack.services.tasks import Task, TaskHandler, TaskQueue, refusal_warned
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


#: the task kinds: a router stops routing its listed subnets; a floating IP is disassociated
UNROUTE = "network.unroute_claimed_subnets"
UNFORWARD = "network.disassociate_unreached_floating_ip"


def _unreached() -> ColumnElement[bool]:
    """Whether a floating IP reaches its port through no interface of its router."""
    fixed = aliased(IpAllocation)
    return ~exists().where(
        fixed.port_id == FloatingIp.port_id,
        fixed.ip_address == FloatingIp.fixed_ip_address,
        _held_on(FloatingIp.router_id, fixed.subnet_id),
    )


class RouterClaimSweep:
    def __init__(self, db: Database, regions: Regions, tasks: TaskQueue) -> None:
        self.db = db
        self.regions = regions
        self.tasks = tasks

    def handlers(self) -> dict[str, TaskHandler]:
        return {
            UNROUTE: TaskHandler(self._unroute_router, self._given_up),
            UNFORWARD: TaskHandler(self._disassociate_step, self._given_up),
        }

    def ensure(self) -> None:
        """Every router with subnets listed to stop routing, and every floating IP reaching
        its port through no interface of its router, has a task; no cloud is asked here."""
        for region in self.regions.names:
            names = self.regions.capabilities(region).names()
            if "networks" not in names:
                continue
            with self.db.session() as session:
                routers = session.scalars(
                    select(RouterClaimLeftover.router_id)
                    .join(Router, Router.id == RouterClaimLeftover.router_id)
                    .where(Router.region == region)
                    .distinct()
                    .order_by(RouterClaimLeftover.router_id)
                ).all()
                self.tasks.enqueue_once(session, UNROUTE, region, routers)
                if "floating_ips" in names:
                    found = session.scalars(
                        select(FloatingIp.id)
                        .where(
                            FloatingIp.region == region,
                            FloatingIp.router_id.is_not(None),
                            _unreached(),
                        )
                        .order_by(FloatingIp.id)
                    ).all()
                    self.tasks.enqueue_once(session, UNFORWARD, region, found)

    def _unroute_router(self, task: Task) -> None:
        """The router's listed subnets (none once undone); a refusal is raised for the
        runner to retry or give up, what was undone before it stays undone."""
        router_id = task.resource_id
        with self.db.session() as session:
            subnets = session.scalars(
                select(RouterClaimLeftover.subnet_id)
                .where(RouterClaimLeftover.router_id == router_id)
                .order_by(RouterClaimLeftover.subnet_id)
            ).all()
        net_driver = driver(self.regions, task.region)
        for subnet_id in subnets:
            routing = "region %s: router %s may still route subnet %s"
            with refusal_warned(log, routing, task.region, router_id, subnet_id):
                self._unroute(task.region, net_driver, router_id, subnet_id)

    def _disassociate_step(self, task: Task) -> None:
        reaching = "region %s: floating IP %s may still reach its port"
        with refusal_warned(log, reaching, task.region, task.resource_id):
            self._disassociate(task.region, driver(self.regions, task.region), task.resource_id)

    @staticmethod
    def _given_up(task: Task, error: str) -> None:
        what = "router" if task.kind == UNROUTE else "floating IP"
        log.warning(
            "region %s: undoing what a port's naming of a router did (%s %s) was given up "
            "(%s); asked again at the next start",
            task.region,
            what,
            task.resource_id,
            error,
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

    def _disassociate(self, region: str, net_driver: NetworkDriver, fip_id: str) -> None:
        # looked at again, locked: a replica serving meanwhile may have associated it anew
        with self.db.session() as session:
            row = session.scalar(
                select(FloatingIp)
                .where(FloatingIp.id == fip_id, FloatingIp.router_id.is_not(None), _unreached())
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
