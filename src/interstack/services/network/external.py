"""A cloud's own external network, shown in Neutron as an operator would have created it.

Some clouds come with an external network (the local backend's floating range, which the host
reaches); a fresh gateway on one should let a project do what it does on a new OpenStack:
``router set --external-gateway public`` and ``floating ip create public``. So each region
whose network driver describes one gets it as a ``router:external`` network owned by the
admin project, with a subnet of the range without DHCP whose allocation pool is the part the
cloud leaves to the gateway's IPAM. A region that has an external network already (made here
before, or by the operator) is left alone.

Making it asks the cloud, so start-up only queues a task per region lacking one (none while
one is pending or running) and the task runner makes it, retried as other tasks are: a cloud
that hangs or raises what the gateway does not map delays or stops nothing but the task.
A fresh gateway promises the network to its first request, so start-up, once the runner
runs, waits for the task to end (:meth:`ExternalNetworks.wait_made`), for
:data:`MADE_WAIT_SECONDS` at most: a cloud that hangs delays the start by that much, not for
ever, and a request served after sees no external network until the task made it, as on an
OpenStack whose operator has not made one yet (the log says so). Later starts find it made.
A network made before its subnet (the cloud refusing the subnet) gets the subnet at the retry.
"""

from __future__ import annotations

import logging
import time

from sqlalchemy import select

from interstack.backends.contract import ExternalNetworkSpec
from interstack.services.context import operator_context
from interstack.services.network.networks import NetworkCreate, NetworkService
from interstack.services.network.subnets import SubnetCreate, SubnetService
from interstack.services.regions import Regions
from interstack.services.tasks import Task, TaskHandler, TaskQueue, TaskStatus
from interstack.store import Database
from interstack.store.models import Network, Subnet
from interstack.store.models import Task as TaskRow

log = logging.getLogger(__name__)


#: the task kind making a region's cloud-provided external network (resource: the region)
MAKE_EXTERNAL = "network.make_external_network"
#: how long start-up waits for the external networks' tasks before it serves regardless
MADE_WAIT_SECONDS = 30.0


class ExternalNetworks:
    def __init__(
        self,
        db: Database,
        regions: Regions,
        networks: NetworkService,
        subnets: SubnetService,
        admin_project_id: str,
        tasks: TaskQueue,
    ) -> None:
        self.db = db
        self.regions = regions
        self.networks = networks
        self.subnets = subnets
        self.admin_project_id = admin_project_id
        self.tasks = tasks

    def handlers(self) -> dict[str, TaskHandler]:
        return {MAKE_EXTERNAL: TaskHandler(self._step, self._given_up)}

    def ensure(self) -> None:
        """Every region whose cloud provides an external network and that has none, or has
        it without its subnet, has a task to make it (backends started; no cloud asked)."""
        for region in self.regions.names:
            if "networks" not in self.regions.capabilities(region).names():
                continue
            spec = self.regions.backend(region).network.external_network()
            if spec is not None and self._lacking(region, spec):
                with self.db.session() as session:
                    self.tasks.enqueue_once(session, MAKE_EXTERNAL, region, [region])

    def wait_made(self, seconds: float = MADE_WAIT_SECONDS, poll: float = 0.05) -> None:
        """Until no task making an external network is pending or running (the runner
        running), ``seconds`` at most; the log says if start-up goes on without it."""
        deadline = time.monotonic() + seconds
        while self._making():
            if time.monotonic() >= deadline:
                log.warning(
                    "serving before the cloud's external network is made (its task goes on)"
                )
                return
            time.sleep(poll)

    def _making(self) -> bool:
        with self.db.session() as session:
            found = session.scalars(
                select(TaskRow.id)
                .where(
                    TaskRow.kind == MAKE_EXTERNAL,
                    TaskRow.status.in_((TaskStatus.PENDING, TaskStatus.RUNNING)),
                )
                .limit(1)
            ).first()
        return found is not None

    def _step(self, task: Task) -> None:
        region = task.region
        spec = self.regions.backend(region).network.external_network()
        if spec is None:
            return
        lacking = self._lacking(region, spec)
        if not lacking:
            return
        network_id = self._network(region, spec) if lacking is True else lacking
        self._subnet(region, spec, network_id)
        log.info("region %s: external network %s (%s) created", region, spec.name, spec.cidr)

    def _lacking(self, region: str, spec: ExternalNetworkSpec) -> str | bool:
        """True: the region has no external network; the id of the cloud's one made here
        without its subnet (the subnet refused); False: nothing lacks."""
        with self.db.session() as session:
            found = session.scalars(
                select(Network.id).where(Network.region == region, Network.external).limit(1)
            ).first()
            if found is None:
                return True
            ours = session.scalars(
                select(Network.id).where(
                    Network.region == region,
                    Network.external,
                    Network.project_id == self.admin_project_id,
                    Network.name == spec.name,
                    ~select(Subnet.id).where(Subnet.network_id == Network.id).exists(),
                )
            ).first()
        return ours if ours is not None else False

    def _network(self, region: str, spec: ExternalNetworkSpec) -> str:
        ctx = operator_context(self.admin_project_id)
        network = self.networks.create(
            ctx,
            region,
            NetworkCreate(
                name=spec.name,
                description="the cloud's external network: router gateways and floating IPs",
                external=True,
            ),
        )
        return network.id

    def _subnet(self, region: str, spec: ExternalNetworkSpec, network_id: str) -> None:
        self.subnets.create(
            operator_context(self.admin_project_id),
            region,
            SubnetCreate(
                network_id=network_id,
                cidr=spec.cidr,
                name=f"{spec.name}-subnet",
                gateway_ip=spec.gateway_ip,
                enable_dhcp=False,
                allocation_pools=(spec.allocation_pool,),
            ),
        )

    @staticmethod
    def _given_up(task: Task, error: str) -> None:
        log.warning(
            "region %s: the cloud's external network was not made, given up (%s); made at "
            "the next start",
            task.region,
            error,
        )
