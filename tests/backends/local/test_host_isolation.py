"""Instances and the host: a namespace standing in for an instance behind a router reaches
neither the host's own addresses nor the host's link-local neighbours, and its NATed traffic
goes only where the egress allow-list (``egress_cidrs``) lets it.

The "outside" is a namespace the test joins to the host by a veth of its own, with addresses
from TEST-NET-3 and the link-local range: no packet leaves the host.
"""

from __future__ import annotations

import socket
import subprocess
import uuid
from collections.abc import Iterator

import pytest

from interstack.backends.contract import NativeRef, RouterSpec
from interstack.backends.local.network import LocalNetwork, links
from tests.backends.local.lab import EXTERNAL, OPEN, Lab
from tests.backends.local.stand_ins import RUN, StandIn, can_create_namespaces, host_connect

_reason = can_create_namespaces()
pytestmark = pytest.mark.skipif(_reason is not None, reason=_reason or "")

#: the host's end of the veth to the outside, and the outside host behind it
HOST_SIDE, FAR_HOST = "203.0.113.1", "203.0.113.2"
HOST_LINK_LOCAL, FAR_LINK_LOCAL = "169.254.77.1", "169.254.77.2"
SERVICE_PORT = 8080


def _ip(*argv: str) -> None:
    subprocess.run(["ip", *argv], check=True, capture_output=True, timeout=30)


@pytest.fixture
def outside(stand_ins: dict[str, StandIn]) -> Iterator[StandIn]:
    """A host "outside" that the host routes to (a veth ``ito-<run>``), serving TCP."""
    far = StandIn("outside")
    stand_ins["outside"] = far
    host_end = f"ito-{RUN}"
    _ip("link", "add", host_end, "type", "veth", "peer", "name", "eth0", "netns", far.name)
    try:
        for address in (f"{HOST_SIDE}/24", f"{HOST_LINK_LOCAL}/24"):
            _ip("addr", "add", address, "dev", host_end)
        _ip("link", "set", host_end, "up")
        links.write_sysctl(f"net/ipv4/conf/{host_end}/forwarding", "1")  # the answers' way back
        for address in (f"{FAR_HOST}/24", f"{FAR_LINK_LOCAL}/24"):
            far.run("ip", "addr", "add", address, "dev", "eth0", check=True)
        far.run("ip", "link", "set", "eth0", "up", check=True)
        far.serve_tcp(SERVICE_PORT)
        yield far
    finally:
        links.delete_link(host_end)


def routed_guest(lab: Lab, cidr: str) -> tuple[StandIn, NativeRef, NativeRef]:
    """A stand-in on a network behind a router with an external gateway (SNAT outward)."""
    net, subnet = lab.network(cidr)
    address = cidr.rsplit(".", 1)[0] + ".10"
    _, guest = lab.port(net, subnet, address, (lab.group(*OPEN),), plug_as="guest")
    assert guest is not None
    router = lab.driver.create_router(
        RouterSpec(str(uuid.uuid4()), "r", "project", external_gateway=True)
    )
    lab.driver.add_router_interface(router, subnet)
    return guest, router, subnet


def _uplink_address() -> str:
    """The host's own address on its uplink (where its services listen)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect(("198.51.100.1", 9))  # no packet is sent: this only picks a route
        return str(probe.getsockname()[0])


def test_instances_cannot_reach_the_host(lab: Lab) -> None:
    guest, router, subnet = routed_guest(lab, "10.91.9.0/24")
    with socket.create_server(("0.0.0.0", 0)) as listener:
        port = listener.getsockname()[1]
        host_external = lab.driver.external.host_address
        assert host_connect(host_external, port, accept=listener) == "accepted"
        for address in (host_external, _uplink_address()):
            assert guest.connect(address, port, timeout=1).startswith("failed"), address
        assert guest.pings("10.91.9.1")  # its own router answers
    lab.driver.remove_router_interface(router, subnet)
    lab.driver.delete_router(router)


def test_nat_reaches_the_outside_but_not_the_hosts_addresses_or_link_local(
    lab: Lab, outside: StandIn
) -> None:
    guest, router, subnet = routed_guest(lab, "10.91.12.0/24")
    with socket.create_server((HOST_SIDE, 0)) as listener:
        port = listener.getsockname()[1]
        assert host_connect(HOST_SIDE, port, accept=listener) == "accepted"
        # the host's address facing the outside is the host's: out of reach
        assert guest.connect(HOST_SIDE, port, timeout=1).startswith("failed")
    assert guest.connect(FAR_HOST, SERVICE_PORT) == "hello from outside"
    # the same outside host on a link-local address (where a cloud's metadata service is): the
    # host reaches it, instances do not
    assert host_connect(FAR_LINK_LOCAL, SERVICE_PORT) == "hello from outside"
    assert guest.connect(FAR_LINK_LOCAL, SERVICE_PORT, timeout=1).startswith("failed")
    lab.driver.remove_router_interface(router, subnet)
    lab.driver.delete_router(router)


def test_the_egress_allow_list_limits_where_nat_goes(
    lab: Lab, driver: LocalNetwork, outside: StandIn
) -> None:
    guest, router, subnet = routed_guest(lab, "10.91.13.0/24")
    assert guest.connect(FAR_HOST, SERVICE_PORT) == "hello from outside"

    # the same host's networking restarted with an allow-list that leaves the outside host out
    narrowed = LocalNetwork(driver.data_dir, external_cidr=EXTERNAL, egress_cidrs=("192.0.2.0/24",))
    narrowed.start()
    driver.close()
    try:
        assert guest.connect(FAR_HOST, SERVICE_PORT, timeout=1).startswith("failed")
        assert guest.pings("10.91.13.1")  # inside its network nothing changed
    finally:
        driver.start()
        narrowed.close()
    assert guest.connect(FAR_HOST, SERVICE_PORT) == "hello from outside"
    lab.driver.remove_router_interface(router, subnet)
    lab.driver.delete_router(router)
