"""Routers and floating IPs of the local network driver on this host, with namespaces standing
in for instances: a floating IP reaches its server from the host through the router of its
subnet (two routers of one CIDR each their own), one given out again is reached at once, and a
router learns a port plugged after it asked for it (a restarted driver rebuilding a lost
router is test_network_driver.py's).
"""

from __future__ import annotations

import subprocess
import uuid

import pytest

from interstack.backends.contract import (
    NativeRef,
    RouterSpec,
    SecurityGroupRule,
)
from interstack.backends.local.network import names
from tests.backends.local.lab import ALL_EGRESS, INGRESS, OPEN, Lab
from tests.backends.local.stand_ins import (
    can_create_namespaces,
    host_connect,
)
from tests.support.local import in_netns
from tests.support.waiting import eventually

_reason = can_create_namespaces()
pytestmark = pytest.mark.skipif(_reason is not None, reason=_reason or "")


def test_floating_ip_reaches_the_server_from_the_host(lab: Lab) -> None:
    net, subnet = lab.network("10.91.7.0/24", dhcp=True)
    web = lab.group(
        ALL_EGRESS, SecurityGroupRule(INGRESS, protocol="tcp", port_min=8080, port_max=8080)
    )
    port, server = lab.port(net, subnet, "10.91.7.10", (web,), plug_as="web")
    assert server is not None
    server.serve_tcp(8080)
    server.serve_tcp(8081)
    router = lab.driver.create_router(
        RouterSpec(str(uuid.uuid4()), "r", "project", external_gateway=True)
    )
    fip = lab.driver.allocate_floating_ip(str(uuid.uuid4()))
    associated = lab.driver.associate_floating_ip(fip.ref, port)
    assert associated.port == port
    # no router routes the port's subnet yet: the address forwards nowhere
    assert host_connect(fip.address, 8080, timeout=1).startswith("failed")
    lab.driver.add_router_interface(router, subnet)
    assert host_connect(fip.address, 8080) == "hello from web"
    # the security group still applies behind the floating IP
    assert host_connect(fip.address, 8081, timeout=1).startswith("failed")

    lab.driver.associate_floating_ip(fip.ref, None)
    assert host_connect(fip.address, 8080, timeout=1).startswith("failed")
    lab.driver.release_floating_ip(fip.ref)
    lab.driver.remove_router_interface(router, subnet)
    lab.driver.delete_router(router)


def router_addresses(router: NativeRef) -> set[str]:
    shown = in_netns(router, "ip", "-4", "-o", "addr", "show", "dev", names.ROUTER_GATEWAY_IFNAME)
    return {line.split()[3].split("/")[0] for line in shown.splitlines()}


def web_server_behind_a_router(
    lab: Lab, name: str, cidr: str, address: str, group: NativeRef
) -> tuple[NativeRef, NativeRef, NativeRef]:
    """(port, router, subnet): a stand-in named ``name`` on a new network of ``cidr`` answering
    "hello from <name>" on port 8080 at ``address``, its subnet on a new router with an external
    gateway."""
    net, subnet = lab.network(cidr)
    port, server = lab.port(net, subnet, address, (group,), plug_as=name)
    assert server is not None
    server.serve_tcp(8080)
    router = lab.driver.create_router(
        RouterSpec(str(uuid.uuid4()), name, name, external_gateway=True)
    )
    lab.driver.add_router_interface(router, subnet)
    return port, router, subnet


def test_floating_ips_behind_two_routers_of_one_cidr_reach_their_own_servers(lab: Lab) -> None:
    """Two projects' subnets may share a CIDR (Tempest gives every test class 10.100.0.0/28):
    each router holds and forwards only the floating IPs of its own subnets' ports."""
    web = lab.group(
        ALL_EGRESS, SecurityGroupRule(INGRESS, protocol="tcp", port_min=8080, port_max=8080)
    )
    routers, fips = [], []
    for name, address in (("blue", "10.91.9.10"), ("green", "10.91.9.11")):
        port, router, subnet = web_server_behind_a_router(lab, name, "10.91.9.0/24", address, web)
        fip = lab.driver.allocate_floating_ip(str(uuid.uuid4()))
        lab.driver.associate_floating_ip(fip.ref, port)
        routers.append((router, subnet))
        fips.append(fip)
    (blue, _), (green, _) = routers
    assert fips[0].address in router_addresses(blue)
    assert fips[1].address not in router_addresses(blue)
    assert fips[1].address in router_addresses(green)
    assert fips[0].address not in router_addresses(green)
    assert host_connect(fips[0].address, 8080) == "hello from blue"
    assert host_connect(fips[1].address, 8080) == "hello from green"

    for fip in fips:
        lab.driver.release_floating_ip(fip.ref)
    for router, subnet in routers:
        lab.driver.remove_router_interface(router, subnet)
        lab.driver.delete_router(router)


def test_a_floating_ip_given_out_again_behind_another_router_is_reached_there_at_once(
    lab: Lab,
) -> None:
    """A released floating IP handed to a port behind another router: the new router announces
    the address (gratuitous ARP), so the host, whose neighbour cache still holds the first
    router's MAC for it, reaches the new server at once, not after its cache entry times out."""
    web = lab.group(
        ALL_EGRESS, SecurityGroupRule(INGRESS, protocol="tcp", port_min=8080, port_max=8080)
    )
    behind = [
        web_server_behind_a_router(lab, "first", "10.91.12.0/24", "10.91.12.10", web),
        web_server_behind_a_router(lab, "second", "10.91.13.0/24", "10.91.13.10", web),
    ]
    try:
        first = lab.driver.allocate_floating_ip(str(uuid.uuid4()))
        lab.driver.associate_floating_ip(first.ref, behind[0][0])
        assert host_connect(first.address, 8080) == "hello from first"
        lab.driver.release_floating_ip(first.ref)

        again = lab.driver.allocate_floating_ip(str(uuid.uuid4()))
        assert again.address == first.address, "the driver hands out the lowest free address"
        lab.driver.associate_floating_ip(again.ref, behind[1][0])
        assert host_connect(again.address, 8080) == "hello from second"
        lab.driver.release_floating_ip(again.ref)
    finally:
        for _, router, subnet in behind:
            lab.driver.remove_router_interface(router, subnet)
            lab.driver.delete_router(router)


def test_a_router_that_asked_for_a_port_before_it_was_plugged_learns_it_at_the_plug(
    lab: Lab,
) -> None:
    """A client may connect to a server before the server is up (a script trying SSH from the
    create on): the router asks for the server's address, unanswered, and asks again only at
    its next ARP probe. The plugged port announces its address (gratuitous ARP), so the
    router's entry resolves at once. Here the router probes once a minute: only the
    announcement resolves the entry within the wait."""
    net, subnet = lab.network("10.91.14.0/24")
    router = lab.driver.create_router(RouterSpec(str(uuid.uuid4()), "r", "project"))
    lab.driver.add_router_interface(router, subnet)
    leg = names.router_leg_inside(subnet)
    in_netns(router, "sysctl", "-qw", f"net.ipv4.neigh.{leg}.retrans_time_ms=60000")
    address = "10.91.14.10"
    asked = subprocess.run(
        ["ip", "netns", "exec", router, "busybox", "ping", "-c", "1", "-W", "1", address],
        capture_output=True,
        check=False,
    )
    assert asked.returncode != 0  # nobody there yet
    assert "INCOMPLETE" in in_netns(router, "ip", "neigh", "show", address)

    _, server = lab.port(net, subnet, address, (lab.group(*OPEN),), plug_as="late")
    assert server is not None
    mac = server.run("cat", "/sys/class/net/eth0/address", check=True).stdout.strip()
    learned = eventually(
        lambda: in_netns(router, "ip", "neigh", "show", address),
        lambda shown: mac in shown,
        "the router to learn the plugged port's MAC",
    )
    assert "INCOMPLETE" not in learned
    lab.driver.remove_router_interface(router, subnet)
    lab.driver.delete_router(router)
