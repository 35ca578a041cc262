"""The local backend's compute and network drivers together: a server's ports are plugged into
its namespace on boot and gone the moment it is deleted."""

from __future__ import annotations

import uuid

from interstack.backends.contract import (
    FixedIp,
    NetworkSpec,
    PortSpec,
    SecurityGroupRule,
    SecurityGroupSpec,
    SubnetSpec,
)
from interstack.backends.contract.network import RuleDirection
from interstack.backends.local import LocalBackend
from interstack.backends.local.network import links, names
from tests.backends.local.helpers import boot, runc_root, spec
from tests.support.local import exec_in


def test_a_server_gets_its_port_on_boot_and_loses_it_on_delete(
    local_backend: LocalBackend,
) -> None:
    network = local_backend.network
    net = network.create_network(NetworkSpec(str(uuid.uuid4()), "net", "p1"))
    subnet = network.create_subnet(
        SubnetSpec(str(uuid.uuid4()), net, "10.93.0.0/24", "10.93.0.1", dhcp=False)
    )
    group = network.create_security_group(
        SecurityGroupSpec(
            str(uuid.uuid4()), "default", "p1", (SecurityGroupRule(RuleDirection.EGRESS),)
        )
    )
    port = network.create_port(
        PortSpec(
            str(uuid.uuid4()),
            net,
            "fa:16:3e:00:93:05",
            (FixedIp(subnet, "10.93.0.5"),),
            (group,),
        )
    )
    server = boot(local_backend, spec("ported", ports=(port,)))

    inside = exec_in(runc_root(local_backend), server.ref, "ip -o -4 addr show dev eth0")
    assert "10.93.0.5/24" in inside.stdout, inside.stdout + inside.stderr
    routes = exec_in(runc_root(local_backend), server.ref, "ip -4 route show default")
    assert "via 10.93.0.1 dev eth0" in routes.stdout, routes.stdout + routes.stderr
    assert links.link_exists(names.renamed(names.PORT, port))

    local_backend.compute.delete_server(server.ref)

    assert not links.link_exists(names.renamed(names.PORT, port))
    network.delete_port(port)  # no Conflict: nothing is plugged any more
    network.delete_security_group(group)
    network.delete_subnet(subnet)
    network.delete_network(net)
