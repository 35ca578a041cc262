"""A new subnet's DHCP port takes an address of the subnet's allocation pools, chosen without
asking the store (ipam.any_address: nothing is taken on a subnet its create records): with a
pool of one address, that address — the pools' first address need not be the subnet's first
host — and with pools apart, one of theirs, never the gateway's or one between them. On both
databases; the pool of one then has no address left for a port (Neutron's 409)."""

from __future__ import annotations

import ipaddress

import pytest

from interstack.errors import Conflict
from interstack.services.network import dhcp_ports
from interstack.services.network.ipam import IpRequest
from interstack.services.network.ports import PortCreate
from interstack.services.network.subnets import SubnetCreate
from interstack.store import Database
from tests.support.routed import REGION, Routed


def _dhcp_address(db: Database, subnet_id: str) -> str:
    with db.session() as session:
        held = dhcp_ports.of_subnet(session, subnet_id)
    assert held is not None
    return held.address


def test_a_new_subnets_dhcp_port_takes_an_address_of_its_pools(
    db: Database, routed: Routed
) -> None:
    services, ctx = routed.services, routed.ctx
    tiny = services.subnets.create(
        ctx,
        REGION,
        SubnetCreate(
            network_id=routed.network_id,
            cidr="10.84.0.0/24",
            allocation_pools=(("10.84.0.7", "10.84.0.7"),),
        ),
    )
    assert _dhcp_address(db, tiny.id) == "10.84.0.7"
    with pytest.raises(Conflict) as full:
        services.ports.create(
            ctx,
            REGION,
            PortCreate(network_id=routed.network_id, fixed_ips=(IpRequest(subnet_id=tiny.id),)),
        )
    assert full.value.kind == "IpAddressGenerationFailure"

    pools = (("10.85.0.100", "10.85.0.101"), ("10.85.0.200", "10.85.0.200"))
    allowed = {"10.85.0.100", "10.85.0.101", "10.85.0.200"}
    for n in range(6):  # the network's DHCP port gets an address on each new subnet
        apart = services.subnets.create(
            ctx,
            REGION,
            SubnetCreate(
                network_id=routed.network_id,
                cidr=f"10.{85 + n}.0.0/24",
                allocation_pools=tuple(
                    (a.replace("10.85.", f"10.{85 + n}."), b.replace("10.85.", f"10.{85 + n}."))
                    for a, b in pools
                ),
            ),
        )
        address = _dhcp_address(db, apart.id)
        assert address.replace(f"10.{85 + n}.", "10.85.") in allowed, address
        assert ipaddress.ip_address(address) in ipaddress.ip_network(f"10.{85 + n}.0.0/24")
