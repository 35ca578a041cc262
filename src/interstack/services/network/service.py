"""The network services of one gateway, built together because they share the default security
group, IPAM and the backend's network driver."""

from __future__ import annotations

from dataclasses import dataclass

from interstack.services.network.floating_ips import FloatingIpService
from interstack.services.network.networks import NetworkService, load_network
from interstack.services.network.ports import PortService, load_port
from interstack.services.network.quotas import NetworkQuotaService
from interstack.services.network.router_interfaces import RouterInterfaceService
from interstack.services.network.routers import RouterService, load_router
from interstack.services.network.security_groups import SecurityGroupService, load_group
from interstack.services.network.server_networking import NeutronServerNetworking
from interstack.services.network.subnetpools import SubnetPoolService, load_pool
from interstack.services.network.subnets import SubnetService, load_subnet
from interstack.services.network.tags import TagService
from interstack.services.regions import Regions
from interstack.store import Database


@dataclass(frozen=True)
class NetworkServices:
    networks: NetworkService
    subnets: SubnetService
    subnet_pools: SubnetPoolService
    ports: PortService
    security_groups: SecurityGroupService
    routers: RouterService
    router_interfaces: RouterInterfaceService
    floating_ips: FloatingIpService
    quotas: NetworkQuotaService
    tags: TagService
    #: what compute uses to give servers ports and addresses
    server_networking: NeutronServerNetworking

    @classmethod
    def build(cls, db: Database, regions: Regions) -> NetworkServices:
        groups = SecurityGroupService(db, regions)
        ports = PortService(db, regions, groups)
        routers = RouterService(db, regions, ports)
        floating_ips = FloatingIpService(db, regions)
        return cls(
            networks=NetworkService(db, regions),
            subnets=SubnetService(db, regions),
            subnet_pools=SubnetPoolService(db),
            ports=ports,
            security_groups=groups,
            routers=routers,
            router_interfaces=RouterInterfaceService(db, regions, ports),
            floating_ips=floating_ips,
            quotas=NetworkQuotaService(db),
            tags=TagService(
                db,
                {
                    "networks": load_network,
                    "subnets": load_subnet,
                    "ports": load_port,
                    "security-groups": load_group,
                    "routers": load_router,
                    "floatingips": floating_ips.load,
                    "subnetpools": load_pool,
                },
            ),
            server_networking=NeutronServerNetworking(db, regions, ports, groups),
        )
