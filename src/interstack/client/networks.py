"""A network reachable from outside: a subnet behind a router on the external network, and
floating IPs on it, made through an openstacksdk ``Connection``.

``undo``, when given, is told each thing made, in order, with how to delete it: the demo's
cleanup deletes them last-made first; a test or a benchmark that drops its gateway needs none.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

#: (what was made, how to delete it)
Undo = Callable[[str, Callable[[], object]], None]


def _kept(_what: str, _delete: Callable[[], object]) -> None:
    """The default ``undo``: what is made stays."""


@dataclass(frozen=True)
class RoutedNetwork:
    """openstacksdk's network, subnet and router resources."""

    network: Any
    subnet: Any
    router: Any


def external_network(conn: Any) -> Any | None:
    """The first network a router can have its gateway on, if the cloud has one."""
    return next((n for n in conn.network.networks() if n.is_router_external), None)


def routed_network(
    conn: Any, prefix: str, cidr: str, external: Any | None, undo: Undo = _kept
) -> RoutedNetwork:
    """``<prefix>-net`` with the IPv4 subnet ``<prefix>-subnet`` on ``cidr``, behind the router
    ``<prefix>-router`` whose gateway is on ``external`` (no gateway when None)."""
    net = conn.network
    network = net.create_network(name=f"{prefix}-net")
    undo(f"network {network.name}", lambda: net.delete_network(network))
    subnet = net.create_subnet(
        name=f"{prefix}-subnet", network_id=network.id, cidr=cidr, ip_version=4
    )
    undo(f"subnet {subnet.name}", lambda: net.delete_subnet(subnet))
    gateway = {"network_id": external.id} if external is not None else None
    router = net.create_router(name=f"{prefix}-router", external_gateway_info=gateway)
    undo(f"router {router.name}", lambda: net.delete_router(router))
    net.add_interface_to_router(router, subnet=subnet.id)
    undo(
        f"interface of router {router.name} on {subnet.name}",
        lambda: net.remove_interface_from_router(router, subnet=subnet.id),
    )
    return RoutedNetwork(network, subnet, router)


def floating_ip(conn: Any, external: Any, port_id: str, undo: Undo = _kept) -> Any:
    """A floating IP from ``external`` on the port ``port_id``."""
    net = conn.network
    fip = net.create_ip(floating_network_id=external.id, port_id=port_id)
    undo(f"floating IP {fip.floating_ip_address}", lambda: net.delete_ip(fip))
    return fip


def ssh_group(conn: Any, name: str, undo: Undo = _kept, description: str = "") -> Any:
    """The security group ``name`` allowing tcp/22 in from anywhere (and, as every group,
    all egress)."""
    net = conn.network
    group = net.create_security_group(name=name, description=description)
    undo(f"security group {group.name}", lambda: net.delete_security_group(group))
    net.create_security_group_rule(
        security_group_id=group.id,
        direction="ingress",
        protocol="tcp",
        port_range_min=22,
        port_range_max=22,
        remote_ip_prefix="0.0.0.0/0",
    )
    return group


def server_port(conn: Any, server: Any) -> Any:
    """The port of a server that has one (where its floating IP goes): one of the server's
    project, as Nova lists them, since any project may name the server on a port of its own
    (an admin's listing would show that one too)."""
    port = next(conn.network.ports(device_id=server.id, project_id=server.project_id), None)
    if port is None:
        raise LookupError(f"server {server.name} has no port")
    return port
