"""The Neutron v2.0 route table: every path served under ``/<region>/network``, in one place."""

from __future__ import annotations

from fastapi import APIRouter

from interstack.api.faults import FaultFormats, neutron_fault
from interstack.api.network import networks, ports, quotas_tags, routers, security_groups, versions
from interstack.api.regional import prefix, register_faults
from interstack.api.routing import Route, add_routes
from interstack.services.catalog import ServiceSpec

SERVICE = ServiceSpec(type="network", name="neutron", path="network")
V2 = "/v2.0"
TAGS = V2 + "/{collection}/{item_id}/tags"

ROUTES: list[Route] = [
    Route("GET", "/", versions.list_versions),
    Route("GET", V2, versions.show_v2),
    Route("GET", V2 + "/", versions.show_v2),
    Route("GET", V2 + "/extensions", versions.list_extensions),
    Route("GET", V2 + "/extensions/{alias}", versions.show_extension),
    # networks
    Route("GET", V2 + "/networks", networks.list_networks),
    Route("POST", V2 + "/networks", networks.create_network, status=201),
    Route("GET", V2 + "/networks/{network_id}", networks.show_network),
    Route("PUT", V2 + "/networks/{network_id}", networks.update_network),
    Route("DELETE", V2 + "/networks/{network_id}", networks.delete_network, status=204),
    # subnets
    Route("GET", V2 + "/subnets", networks.list_subnets),
    Route("POST", V2 + "/subnets", networks.create_subnet, status=201),
    Route("GET", V2 + "/subnets/{subnet_id}", networks.show_subnet),
    Route("PUT", V2 + "/subnets/{subnet_id}", networks.update_subnet),
    Route("DELETE", V2 + "/subnets/{subnet_id}", networks.delete_subnet, status=204),
    # subnet pools
    Route("GET", V2 + "/subnetpools", networks.list_subnet_pools),
    Route("POST", V2 + "/subnetpools", networks.create_subnet_pool, status=201),
    Route("GET", V2 + "/subnetpools/{pool_id}", networks.show_subnet_pool),
    Route("PUT", V2 + "/subnetpools/{pool_id}", networks.update_subnet_pool),
    Route("DELETE", V2 + "/subnetpools/{pool_id}", networks.delete_subnet_pool, status=204),
    # ports
    Route("GET", V2 + "/ports", ports.list_ports),
    Route("POST", V2 + "/ports", ports.create_ports, status=201),
    Route("GET", V2 + "/ports/{port_id}", ports.show_port),
    Route("PUT", V2 + "/ports/{port_id}", ports.update_port),
    Route("DELETE", V2 + "/ports/{port_id}", ports.delete_port, status=204),
    # security groups and rules
    Route("GET", V2 + "/security-groups", security_groups.list_groups),
    Route("POST", V2 + "/security-groups", security_groups.create_group, status=201),
    Route("GET", V2 + "/security-groups/{group_id}", security_groups.show_group),
    Route("PUT", V2 + "/security-groups/{group_id}", security_groups.update_group),
    Route("DELETE", V2 + "/security-groups/{group_id}", security_groups.delete_group, status=204),
    Route("GET", V2 + "/security-group-rules", security_groups.list_rules),
    Route("POST", V2 + "/security-group-rules", security_groups.create_rule, status=201),
    Route("GET", V2 + "/security-group-rules/{rule_id}", security_groups.show_rule),
    Route(
        "DELETE", V2 + "/security-group-rules/{rule_id}", security_groups.delete_rule, status=204
    ),
    # routers
    Route("GET", V2 + "/routers", routers.list_routers),
    Route("POST", V2 + "/routers", routers.create_router, status=201),
    Route("GET", V2 + "/routers/{router_id}", routers.show_router),
    Route("PUT", V2 + "/routers/{router_id}", routers.update_router),
    Route("DELETE", V2 + "/routers/{router_id}", routers.delete_router, status=204),
    Route("PUT", V2 + "/routers/{router_id}/add_router_interface", routers.add_interface),
    Route("PUT", V2 + "/routers/{router_id}/remove_router_interface", routers.remove_interface),
    # floating IPs
    Route("GET", V2 + "/floatingips", routers.list_floating_ips),
    Route("POST", V2 + "/floatingips", routers.create_floating_ip, status=201),
    Route("GET", V2 + "/floatingips/{fip_id}", routers.show_floating_ip),
    Route("PUT", V2 + "/floatingips/{fip_id}", routers.update_floating_ip),
    Route("DELETE", V2 + "/floatingips/{fip_id}", routers.delete_floating_ip, status=204),
    # quotas
    Route("GET", V2 + "/quotas", quotas_tags.list_quotas),
    Route("GET", V2 + "/quotas/{project_id}", quotas_tags.show_quota),
    Route("GET", V2 + "/quotas/{project_id}/default", quotas_tags.show_quota_defaults),
    Route("GET", V2 + "/quotas/{project_id}/details", quotas_tags.show_quota_details),
    Route("PUT", V2 + "/quotas/{project_id}", quotas_tags.update_quota),
    Route("DELETE", V2 + "/quotas/{project_id}", quotas_tags.reset_quota, status=204),
    # tags of any taggable collection
    Route("GET", TAGS, quotas_tags.list_tags),
    Route("PUT", TAGS, quotas_tags.replace_tags),
    Route("DELETE", TAGS, quotas_tags.clear_tags, status=204),
    Route("GET", TAGS + "/{tag}", quotas_tags.check_tag, status=204),
    Route("PUT", TAGS + "/{tag}", quotas_tags.add_tag, status=201),
    Route("DELETE", TAGS + "/{tag}", quotas_tags.remove_tag, status=204),
]


def add_to(router: APIRouter) -> None:
    add_routes(router, ROUTES, prefix=prefix(SERVICE))


def register(formats: FaultFormats, regions: list[str]) -> None:
    """Answer errors under every region's ``/network`` in Neutron's fault format."""
    register_faults(formats, regions, SERVICE, neutron_fault)
