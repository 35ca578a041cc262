"""Instances and the host: a namespace standing in for an instance behind a router does not
reach the host's own addresses."""

from __future__ import annotations

import socket
import uuid

import pytest

from interstack.backends.contract import NativeRef, RouterSpec
from tests.backends.local.lab import OPEN, Lab
from tests.backends.local.stand_ins import StandIn, can_create_namespaces, host_connect

_reason = can_create_namespaces()
pytestmark = pytest.mark.skipif(_reason is not None, reason=_reason or "")


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
