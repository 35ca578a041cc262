"""DHCP ports for subnets that have none: those made before the gateway gave each network one.

A DHCP-enabled subnet realized before then has its DHCP server on an address its backend chose
(the local backend's dnsmasq on the subnet's last address, which the default pools left out),
and no port holds it. Each such subnet gets an address on its network's DHCP port, by a task
that start-up queues (one per subnet, none for one with a task pending or running; start-up
asks no cloud, so a cloud that hangs or raises what the gateway does not map delays or stops
nothing but the task, which is retried as other tasks are): the one its server is on, if no
port holds it, so that nothing moves and the guests keep their leases and routes; otherwise
(a user's pool gave that address to a port) a free one of its pools, and the backend moves the
server there. A subnet whose pools are full keeps what it has, and the gateway's log says so.
Until its task is done a subnet shows no DHCP port, as before the gateway started; a port a
request makes meanwhile gets an address of the subnet's pools (the server's only if a user's
pool holds it: the task then moves the server, as it would have at start-up).
"""

from __future__ import annotations

import logging

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from interstack.backends.contract import NativeRef, NetworkDriver
from interstack.services.network import dhcp_ports
from interstack.services.network.common import DHCP_OWNER, driver, retrying
from interstack.services.network.ipam import in_subnet
from interstack.services.network.subnets import lock_network
from interstack.services.regions import Regions
from interstack.services.tasks import Task, TaskHandler, TaskQueue, refusal_warned
from interstack.store import Database
from interstack.store.models import IpAllocation, Network, Port, Subnet

log = logging.getLogger(__name__)

#: the task kind giving one subnet its address on its network's DHCP port
GIVE_DHCP = "network.give_dhcp_port"


class DhcpBackfill:
    def __init__(self, db: Database, regions: Regions, tasks: TaskQueue) -> None:
        self.db = db
        self.regions = regions
        self.tasks = tasks

    def handlers(self) -> dict[str, TaskHandler]:
        return {GIVE_DHCP: TaskHandler(self._step, self._given_up)}

    def ensure(self) -> None:
        """Every served subnet of every region lacking an address on its network's DHCP port
        has a task to give it one; no cloud is asked here."""
        for region in self.regions.names:
            if "networks" not in self.regions.capabilities(region).names():
                continue
            lacking = [subnet_id for subnet_id, _native in self._lacking(region)]
            if lacking:
                with self.db.session() as session:
                    self.tasks.enqueue_once(session, GIVE_DHCP, region, lacking)

    def _step(self, task: Task) -> None:
        """Give the subnet its address (nothing if it went or got one meanwhile); a refusal
        is raised for the runner to retry or give up, the log saying so."""
        with self.db.session() as session:
            native = session.scalar(select(Subnet.native_ref).where(Subnet.id == task.resource_id))
        net_driver = driver(self.regions, task.region)
        no_port = "region %s: subnet %s still has no DHCP port"
        with refusal_warned(log, no_port, task.region, task.resource_id):
            self._give(task.region, net_driver, task.resource_id, native)

    @staticmethod
    def _given_up(task: Task, error: str) -> None:
        log.warning(
            "region %s: subnet %s still has no DHCP port, given up (%s); asked again at the "
            "next start",
            task.region,
            task.resource_id,
            error,
        )

    def _lacking(self, region: str) -> list[tuple[str, str | None]]:
        """The DHCP-enabled subnets of tenant networks with no address on a DHCP port."""
        held = exists().where(
            IpAllocation.subnet_id == Subnet.id,
            IpAllocation.port_id.in_(select(Port.id).where(Port.device_owner == DHCP_OWNER)),
        )
        with self.db.session() as session:
            rows = session.execute(
                select(Subnet.id, Subnet.native_ref)
                .join(Network, Network.id == Subnet.network_id)
                .where(Subnet.region == region, Subnet.enable_dhcp, ~Network.external, ~held)
                .order_by(Subnet.created_at, Subnet.id)
            ).all()
        return [(subnet_id, native) for subnet_id, native in rows]

    def _give(
        self, region: str, net_driver: NetworkDriver, subnet_id: str, native: str | None
    ) -> None:
        serving = net_driver.dhcp_address(NativeRef(native)) if native else None

        def record() -> tuple[dhcp_ports.DhcpPort | None, bool] | None:
            """The DHCP port's address on the subnet (None: no address left) and whether the
            server must move there; None if the subnet went, got one or stopped being served
            meanwhile."""
            with self.db.session() as session:
                subnet = session.get(Subnet, subnet_id)
                if subnet is None:
                    return None
                # locked before looking: another gateway on the same store starting at the
                # same time gives the subnet its address first, or sees this one's
                lock_network(session, subnet.network_id)
                # read again under the lock: requests were served since start-up queued the
                # task, and a subnet its owner switched DHCP off on (or deleted) is left so
                subnet = session.get(Subnet, subnet_id, populate_existing=True)
                if subnet is None or dhcp_ports.of_subnet(session, subnet_id) is not None:
                    return None
                network = session.get_one(Network, subnet.network_id)
                if not dhcp_ports.served(network, subnet):
                    return None
                if (
                    serving is not None
                    and in_subnet(subnet, serving)
                    and not _held(session, subnet_id, serving)
                ):
                    return dhcp_ports.add_at(session, region, network, subnet, serving), False
                return dhcp_ports.add(session, region, network, subnet), True

        given = retrying(record)
        if given is None:
            return
        dhcp, moving = given
        if dhcp is None:
            log.warning("region %s: subnet %s has DHCP but no free address", region, subnet_id)
            return
        if moving and native:
            try:
                net_driver.set_subnet_dhcp(NativeRef(native), dhcp.address, dhcp.mac_address)
            except BaseException:
                with self.db.session() as session:
                    dhcp_ports.remove_of_subnet(session, subnet_id)
                raise
        log.info(
            "region %s: subnet %s has DHCP port %s at %s%s",
            region,
            subnet_id,
            dhcp.port_id,
            dhcp.address,
            " (its DHCP server moved there)" if moving else "",
        )


def _held(session: Session, subnet_id: str, address: str) -> bool:
    """Whether a port (a user's, from the subnet's pools) holds ``address`` on the subnet."""
    found = session.scalar(
        select(IpAllocation.id).where(
            IpAllocation.subnet_id == subnet_id, IpAllocation.ip_address == address
        )
    )
    return found is not None
