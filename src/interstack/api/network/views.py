"""Neutron's wire JSON for each resource, built from the network service's records."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from interstack.services.network.records import (
    FloatingIpInfo,
    NetworkInfo,
    PortInfo,
    RouterInfo,
    RuleInfo,
    SecurityGroupInfo,
    Stamp,
    SubnetInfo,
    SubnetPoolInfo,
)


def timestamp(value: datetime) -> str:
    """UTC to the second, as Neutron shows times (the store keeps them naive, in UTC)."""
    return value.replace(tzinfo=None).isoformat(timespec="seconds") + "Z"


def _standard(project_id: str, description: str, stamp: Stamp) -> dict[str, Any]:
    """Attributes every Neutron resource has: owner, description, tags, timestamps."""
    return {
        "tenant_id": project_id,
        "project_id": project_id,
        "description": description,
        "tags": list(stamp.tags),
        "created_at": timestamp(stamp.created_at),
        "updated_at": timestamp(stamp.updated_at),
    }


def network(info: NetworkInfo) -> dict[str, Any]:
    return {
        "id": info.id,
        "name": info.name,
        "admin_state_up": info.admin_state_up,
        "status": "ACTIVE",
        "subnets": list(info.subnet_ids),
        "shared": info.shared,
        "router:external": info.external,
        "mtu": info.mtu,
        "port_security_enabled": info.port_security_enabled,
        **_standard(info.project_id, info.description, info.stamp),
    }


def subnet(info: SubnetInfo) -> dict[str, Any]:
    return {
        "id": info.id,
        "name": info.name,
        "network_id": info.network_id,
        "ip_version": info.ip_version,
        "cidr": info.cidr,
        "gateway_ip": info.gateway_ip,
        "enable_dhcp": info.enable_dhcp,
        "allocation_pools": [{"start": a, "end": b} for a, b in info.allocation_pools],
        "dns_nameservers": list(info.dns_nameservers),
        "host_routes": [{"destination": d, "nexthop": n} for d, n in info.host_routes],
        "ipv6_ra_mode": info.ipv6_ra_mode,
        "ipv6_address_mode": info.ipv6_address_mode,
        "subnetpool_id": info.subnetpool_id,
        "router:external": info.external,
        **_standard(info.project_id, info.description, info.stamp),
    }


#: the ``binding:`` attributes Neutron's policy shows to admins only (``get_port:binding:*``
#: is admin_only but for ``binding:vnic_type``, which the port's project sees too): where a
#: port runs and how it is plugged there are the cloud's, not its tenants'
ADMIN_ONLY_BINDING = (
    "binding:host_id",
    "binding:vif_type",
    "binding:vif_details",
    "binding:profile",
)


def port(info: PortInfo, admin: bool) -> dict[str, Any]:
    """The port as Neutron shows it; ``admin``: to an admin (else without the admin-only
    binding attributes, as Neutron leaves them out)."""
    shown = {
        "id": info.id,
        "name": info.name,
        "network_id": info.network_id,
        "mac_address": info.mac_address,
        "admin_state_up": info.admin_state_up,
        "status": info.status,
        "device_id": info.device_id,
        "device_owner": info.device_owner,
        "fixed_ips": [
            {"subnet_id": ip.subnet_id, "ip_address": ip.ip_address} for ip in info.fixed_ips
        ],
        "security_groups": list(info.security_group_ids),
        "allowed_address_pairs": [
            {"ip_address": a, "mac_address": m} for a, m in info.allowed_address_pairs
        ],
        "port_security_enabled": info.port_security_enabled,
        "binding:host_id": info.binding.get("host_id", ""),
        "binding:vnic_type": info.binding.get("vnic_type", "normal"),
        "binding:vif_type": "ovs" if info.binding.get("host_id") else "unbound",
        "binding:vif_details": {},
        "binding:profile": {},
        **_standard(info.project_id, info.description, info.stamp),
    }
    if not admin:
        for name in ADMIN_ONLY_BINDING:
            del shown[name]
    return shown


def rule(info: RuleInfo) -> dict[str, Any]:
    return {
        "id": info.id,
        "security_group_id": info.group_id,
        "tenant_id": info.project_id,
        "project_id": info.project_id,
        "direction": info.direction,
        "ethertype": info.ethertype,
        "protocol": info.protocol,
        "port_range_min": info.port_range_min,
        "port_range_max": info.port_range_max,
        "remote_ip_prefix": info.remote_ip_prefix,
        "remote_group_id": info.remote_group_id,
        "description": info.description,
        "created_at": timestamp(info.created_at),
        "updated_at": timestamp(info.updated_at),
    }


def security_group(info: SecurityGroupInfo) -> dict[str, Any]:
    return {
        "id": info.id,
        "name": info.name,
        "stateful": info.stateful,
        "security_group_rules": [rule(r) for r in info.rules],
        **_standard(info.project_id, info.description, info.stamp),
    }


def router(info: RouterInfo) -> dict[str, Any]:
    gateway = None
    if info.gateway_network_id is not None:
        gateway = {
            "network_id": info.gateway_network_id,
            "enable_snat": info.enable_snat,
            "external_fixed_ips": [
                {"subnet_id": ip.subnet_id, "ip_address": ip.ip_address}
                for ip in info.external_fixed_ips
            ],
        }
    return {
        "id": info.id,
        "name": info.name,
        "admin_state_up": info.admin_state_up,
        "status": info.status,
        "external_gateway_info": gateway,
        "routes": [{"destination": d, "nexthop": n} for d, n in info.routes],
        **_standard(info.project_id, info.description, info.stamp),
    }


def floating_ip(info: FloatingIpInfo) -> dict[str, Any]:
    return {
        "id": info.id,
        "floating_network_id": info.floating_network_id,
        "floating_ip_address": info.floating_ip_address,
        "port_id": info.port_id,
        "fixed_ip_address": info.fixed_ip_address,
        "router_id": info.router_id,
        "status": info.status,
        **_standard(info.project_id, info.description, info.stamp),
    }


def subnet_pool(info: SubnetPoolInfo) -> dict[str, Any]:
    return {
        "id": info.id,
        "name": info.name,
        "ip_version": info.ip_version,
        "prefixes": list(info.prefixes),
        "default_prefixlen": info.default_prefixlen,
        "min_prefixlen": info.min_prefixlen,
        "max_prefixlen": info.max_prefixlen,
        "shared": info.shared,
        "is_default": info.is_default,
        "address_scope_id": None,
        "default_quota": None,
        **_standard(info.project_id, info.description, info.stamp),
    }
