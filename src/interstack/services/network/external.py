"""A cloud's own external network, shown in Neutron as an operator would have created it.

Some clouds come with an external network (the local backend's floating range, which the host
reaches); a fresh gateway on one should let a project do what it does on a new OpenStack:
``router set --external-gateway public`` and ``floating ip create public``. So at start-up each
region whose network driver describes one gets it as a ``router:external`` network owned by the
admin project, with a subnet of the range without DHCP whose allocation pool is the part the
cloud leaves to the gateway's IPAM. A region that has an external network already (made here
before, or by the operator) is left alone.
"""

from __future__ import annotations

import logging

from sqlalchemy import select

from interstack.backends.contract import ExternalNetworkSpec
from interstack.services.context import operator_context
from interstack.services.network.networks import NetworkCreate, NetworkService
from interstack.services.network.subnets import SubnetCreate, SubnetService
from interstack.services.regions import Regions
from interstack.store import Database
from interstack.store.models import Network

log = logging.getLogger(__name__)


class ExternalNetworks:
    def __init__(
        self,
        db: Database,
        regions: Regions,
        networks: NetworkService,
        subnets: SubnetService,
        admin_project_id: str,
    ) -> None:
        self.db = db
        self.regions = regions
        self.networks = networks
        self.subnets = subnets
        self.admin_project_id = admin_project_id

    def ensure(self) -> None:
        """Every region's cloud-provided external network exists in Neutron (backends started)."""
        for region in self.regions.names:
            if "networks" not in self.regions.capabilities(region).names():
                continue
            spec = self.regions.backend(region).network.external_network()
            if spec is not None and not self._has_external(region):
                self._create(region, spec)

    def _has_external(self, region: str) -> bool:
        with self.db.session() as session:
            found = session.scalars(
                select(Network.id).where(Network.region == region, Network.external).limit(1)
            ).first()
        return found is not None

    def _create(self, region: str, spec: ExternalNetworkSpec) -> None:
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
        self.subnets.create(
            ctx,
            region,
            SubnetCreate(
                network_id=network.id,
                cidr=spec.cidr,
                name=f"{spec.name}-subnet",
                gateway_ip=spec.gateway_ip,
                enable_dhcp=False,
                allocation_pools=(spec.allocation_pool,),
            ),
        )
        log.info("region %s: external network %s (%s) created", region, spec.name, spec.cidr)
