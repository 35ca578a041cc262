"""The backend contract's networks, exercised directly on every backend in
CONFORMANCE_BACKENDS: a network model realized and torn down in order, a subnet's DHCP server
where the gateway put it, floating IPs allocated, associated and released (at the address the
gateway chose, where the cloud lets it choose). The rest of the contract is
test_backend_contract.py's; as there, only ``interstack.backends.contract`` and
``interstack.errors`` are imported.
"""

from __future__ import annotations

import ipaddress

import pytest

from interstack.backends.contract import (
    Backend,
    FixedIp,
    NetworkSpec,
    PortSpec,
    RouterSpec,
    SubnetSpec,
)
from interstack.errors import Conflict
from tests.conformance.conftest import Cleanup
from tests.support.contract import gid


@pytest.mark.requires("networks")
def test_a_network_model_is_realized_and_torn_down_in_order(
    backend: Backend, cleanup: Cleanup
) -> None:
    net = backend.network
    network = net.create_network(NetworkSpec(gateway_id=gid(), name="n", project_id="p1"))
    cleanup.add(net.delete_network, network)
    subnet_spec = SubnetSpec(
        gateway_id=gid(), network=network, cidr="10.0.0.0/24", gateway_ip="10.0.0.1"
    )
    subnet = net.create_subnet(subnet_spec)
    cleanup.add(net.delete_subnet, subnet)
    assert net.create_subnet(subnet_spec) == subnet
    port = net.create_port(
        PortSpec(
            gateway_id=gid(),
            network=network,
            mac_address="fa:16:3e:00:00:01",
            fixed_ips=(FixedIp(subnet=subnet, address="10.0.0.5"),),
        )
    )
    cleanup.add(net.delete_port, port)
    router = net.create_router(RouterSpec(gateway_id=gid(), name="r", project_id="p1"))
    cleanup.add(net.delete_router, router)
    net.add_router_interface(router, subnet)
    cleanup.add(net.remove_router_interface, router, subnet)

    with pytest.raises(Conflict):
        net.delete_network(network)
    with pytest.raises(Conflict):
        net.delete_router(router)

    net.remove_router_interface(router, subnet)
    net.delete_router(router)
    net.delete_port(port)
    net.delete_subnet(subnet)
    net.delete_network(network)
    net.delete_network(network)  # already gone


@pytest.mark.requires("networks")
def test_a_subnets_dhcp_server_is_where_the_gateway_put_it(
    backend: Backend, cleanup: Cleanup
) -> None:
    """What ``dhcp_address`` says (the address an old subnet's DHCP port takes at start-up) is
    where ``create_subnet`` and ``set_subnet_dhcp`` put the server, or None where the cloud
    does not say."""
    net = backend.network
    network = net.create_network(NetworkSpec(gateway_id=gid(), name="n", project_id="p1"))
    cleanup.add(net.delete_network, network)
    spec = SubnetSpec(gid(), network, "10.3.0.0/24", "10.3.0.1", dhcp_address="10.3.0.9")
    subnet = net.create_subnet(spec)
    cleanup.add(net.delete_subnet, subnet)
    says = net.dhcp_address(subnet) is not None
    assert net.dhcp_address(subnet) == ("10.3.0.9" if says else None)
    net.set_subnet_dhcp(subnet, "10.3.0.10", "fa:16:3e:00:03:0a")
    assert net.dhcp_address(subnet) == ("10.3.0.10" if says else None)
    net.set_subnet_dhcp(subnet, None)
    assert net.dhcp_address(subnet) is None
    net.delete_subnet(subnet)
    net.delete_network(network)


@pytest.mark.requires("networks", "floating_ips")
def test_floating_ips_are_allocated_associated_and_released(
    backend: Backend, cleanup: Cleanup
) -> None:
    net = backend.network
    network = net.create_network(NetworkSpec(gateway_id=gid(), name="n", project_id="p1"))
    cleanup.add(net.delete_network, network)
    subnet = net.create_subnet(
        SubnetSpec(gateway_id=gid(), network=network, cidr="10.1.0.0/24", gateway_ip="10.1.0.1")
    )
    cleanup.add(net.delete_subnet, subnet)
    port = net.create_port(
        PortSpec(
            gateway_id=gid(),
            network=network,
            mac_address="fa:16:3e:00:00:02",
            fixed_ips=(FixedIp(subnet=subnet, address="10.1.0.5"),),
        )
    )
    cleanup.add(net.delete_port, port)
    first = net.allocate_floating_ip(gid())
    cleanup.add(net.release_floating_ip, first.ref)
    second = net.allocate_floating_ip(gid())
    cleanup.add(net.release_floating_ip, second.ref)
    assert first.address != second.address
    assert first.port is None

    assert net.associate_floating_ip(first.ref, port).port == port
    assert net.associate_floating_ip(first.ref, None).port is None
    net.release_floating_ip(first.ref)
    net.release_floating_ip(first.ref)


@pytest.mark.requires("networks", "floating_ips", "floating_ip_choice")
def test_a_floating_ip_takes_the_address_the_gateway_chose(
    backend: Backend, cleanup: Cleanup
) -> None:
    """Neutron's IPAM chooses from the external subnet's pool; the driver takes that address
    (its own external network's pool if it has one) and refuses one it cannot give."""
    net = backend.network
    external = net.external_network()
    start = external.allocation_pool[0] if external is not None else "198.51.100.0"
    wanted = str(ipaddress.ip_address(start) + 3)
    fip = net.allocate_floating_ip(gid(), wanted)
    cleanup.add(net.release_floating_ip, fip.ref)
    assert fip.address == wanted and fip.port is None
    if external is not None:  # the cloud's own range: an address outside it cannot be given
        with pytest.raises(Conflict):
            net.allocate_floating_ip(gid(), "192.0.2.77")
    net.release_floating_ip(fip.ref)
