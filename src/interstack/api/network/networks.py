"""Handlers of ``/v2.0/networks``, ``/v2.0/subnets`` and ``/v2.0/subnetpools``."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from starlette.responses import Response

from interstack.api.deps import Caller, ServicesDep
from interstack.api.network import params, views
from interstack.api.network import schemas as s
from interstack.api.network.bodies import changes, wrapped
from interstack.api.regional import Region
from interstack.api.responses import OrjsonResponse, empty_response, json_response
from interstack.services.network.networks import NetworkCreate
from interstack.services.network.subnetpools import SubnetPoolCreate
from interstack.services.network.subnets import UNSET, SubnetCreate

NetworkBody = Annotated[s.NetworkCreate, Depends(wrapped("network", s.NetworkCreate))]
NetworkChange = Annotated[s.NetworkUpdate, Depends(wrapped("network", s.NetworkUpdate))]
SubnetBody = Annotated[s.SubnetCreate, Depends(wrapped("subnet", s.SubnetCreate))]
SubnetChange = Annotated[s.SubnetUpdate, Depends(wrapped("subnet", s.SubnetUpdate))]
PoolBody = Annotated[s.SubnetPoolCreate, Depends(wrapped("subnetpool", s.SubnetPoolCreate))]
PoolChange = Annotated[s.SubnetPoolUpdate, Depends(wrapped("subnetpool", s.SubnetPoolUpdate))]


# -- networks -------------------------------------------------------------------------------------


def list_networks(
    region: Region, request: Request, services: ServicesDep, caller: Caller
) -> OrjsonResponse:
    query = params.list_query(request.query_params)
    found = services.network.networks.list_page(caller, region, query.filters, query.page)
    return json_response(params.collection("networks", found, views.network, query, request.url))


def create_network(
    region: Region, request: Request, services: ServicesDep, caller: Caller, body: NetworkBody
) -> OrjsonResponse:
    created = services.network.networks.create(
        caller,
        region,
        NetworkCreate(
            name=body.name,
            description=body.description,
            project_id=body.owner,
            admin_state_up=body.admin_state_up,
            shared=body.shared,
            external=body.external,
            mtu=body.mtu,
            port_security_enabled=body.port_security_enabled,
        ),
    )
    return params.single("network", views.network(created), request, 201)


def show_network(
    region: Region, network_id: str, request: Request, services: ServicesDep, caller: Caller
) -> OrjsonResponse:
    found = services.network.networks.get(caller, region, network_id)
    return params.single("network", views.network(found), request)


def update_network(
    region: Region,
    network_id: str,
    request: Request,
    services: ServicesDep,
    caller: Caller,
    body: NetworkChange,
) -> OrjsonResponse:
    updated = services.network.networks.update(caller, region, network_id, changes(body))
    return params.single("network", views.network(updated), request)


def delete_network(
    region: Region, network_id: str, services: ServicesDep, caller: Caller
) -> Response:
    services.network.networks.delete(caller, region, network_id)
    return empty_response(204)


# -- subnets --------------------------------------------------------------------------------------


def list_subnets(
    region: Region, request: Request, services: ServicesDep, caller: Caller
) -> OrjsonResponse:
    query = params.list_query(request.query_params)
    found = services.network.subnets.list_page(caller, region, query.filters, query.page)
    return json_response(params.collection("subnets", found, views.subnet, query, request.url))


def create_subnet(
    region: Region, request: Request, services: ServicesDep, caller: Caller, body: SubnetBody
) -> OrjsonResponse:
    pools = body.allocation_pools
    created = services.network.subnets.create(
        caller,
        region,
        SubnetCreate(
            network_id=body.network_id,
            cidr=body.cidr,
            ip_version=body.ip_version,
            name=body.name,
            description=body.description,
            project_id=body.owner,
            gateway_ip=body.gateway_ip if "gateway_ip" in body.model_fields_set else UNSET,
            enable_dhcp=body.enable_dhcp,
            allocation_pools=None if pools is None else tuple((p.start, p.end) for p in pools),
            dns_nameservers=tuple(body.dns_nameservers),
            host_routes=tuple((r.destination, r.nexthop) for r in body.host_routes),
            ipv6_ra_mode=body.ipv6_ra_mode,
            ipv6_address_mode=body.ipv6_address_mode,
            subnetpool_id=body.subnetpool_id,
            prefixlen=body.prefixlen,
        ),
    )
    return params.single("subnet", views.subnet(created), request, 201)


def show_subnet(
    region: Region, subnet_id: str, request: Request, services: ServicesDep, caller: Caller
) -> OrjsonResponse:
    found = services.network.subnets.get(caller, region, subnet_id)
    return params.single("subnet", views.subnet(found), request)


def update_subnet(
    region: Region,
    subnet_id: str,
    request: Request,
    services: ServicesDep,
    caller: Caller,
    body: SubnetChange,
) -> OrjsonResponse:
    values = changes(body)
    if body.allocation_pools is not None:
        values["allocation_pools"] = [(p.start, p.end) for p in body.allocation_pools]
    if "host_routes" in values:
        values["host_routes"] = [(r.destination, r.nexthop) for r in body.host_routes or []]
    updated = services.network.subnets.update(caller, region, subnet_id, values)
    return params.single("subnet", views.subnet(updated), request)


def delete_subnet(
    region: Region, subnet_id: str, services: ServicesDep, caller: Caller
) -> Response:
    services.network.subnets.delete(caller, region, subnet_id)
    return empty_response(204)


# -- subnet pools ---------------------------------------------------------------------------------


def list_subnet_pools(
    region: Region, request: Request, services: ServicesDep, caller: Caller
) -> OrjsonResponse:
    query = params.list_query(request.query_params)
    found = services.network.subnet_pools.list_page(caller, region, query.filters, query.page)
    return json_response(
        params.collection("subnetpools", found, views.subnet_pool, query, request.url)
    )


def create_subnet_pool(
    region: Region, request: Request, services: ServicesDep, caller: Caller, body: PoolBody
) -> OrjsonResponse:
    created = services.network.subnet_pools.create(
        caller,
        region,
        SubnetPoolCreate(
            prefixes=tuple(body.prefixes),
            name=body.name,
            description=body.description,
            project_id=body.owner,
            default_prefixlen=body.default_prefixlen,
            min_prefixlen=body.min_prefixlen,
            max_prefixlen=body.max_prefixlen,
            shared=body.shared,
            is_default=body.is_default,
        ),
    )
    return params.single("subnetpool", views.subnet_pool(created), request, 201)


def show_subnet_pool(
    region: Region, pool_id: str, request: Request, services: ServicesDep, caller: Caller
) -> OrjsonResponse:
    found = services.network.subnet_pools.get(caller, region, pool_id)
    return params.single("subnetpool", views.subnet_pool(found), request)


def update_subnet_pool(
    region: Region,
    pool_id: str,
    request: Request,
    services: ServicesDep,
    caller: Caller,
    body: PoolChange,
) -> OrjsonResponse:
    updated = services.network.subnet_pools.update(caller, region, pool_id, changes(body))
    return params.single("subnetpool", views.subnet_pool(updated), request)


def delete_subnet_pool(
    region: Region, pool_id: str, services: ServicesDep, caller: Caller
) -> Response:
    services.network.subnet_pools.delete(caller, region, pool_id)
    return empty_response(204)
