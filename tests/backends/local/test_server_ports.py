"""The local backend's compute and network drivers together: a server's ports are plugged into
its namespace on boot and gone the moment it is deleted; its resolvers follow its subnet's."""

from __future__ import annotations

import uuid
from pathlib import Path

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
from interstack.backends.local.network import LocalNetwork, links, names
from tests.backends.local.helpers import boot, runc_root, spec
from tests.support.local import exec_in
from tests.support.waiting import eventually


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


def _dnsmasq_argv(local_backend: LocalBackend, subnet: str) -> list[str]:
    """The arguments the subnet's dnsmasq runs with now (none while it starts)."""
    driver = local_backend.network
    assert isinstance(driver, LocalNetwork)
    try:
        pid = (driver.dhcp.directory(driver._state.subnets[subnet]) / "pid").read_text().strip()
        return Path(f"/proc/{pid}/cmdline").read_text().split("\0")
    except OSError:
        return []


def test_a_running_servers_resolvers_follow_its_subnets_dns_servers_and_dhcp_server(
    local_backend: LocalBackend,
) -> None:
    """As a guest's DHCP client would learn at its lease's renewal, and DHCP tells the new
    servers; with no DNS server left the guest is told of none (not an old address)."""
    network = local_backend.network
    net = network.create_network(NetworkSpec(str(uuid.uuid4()), "net", "p1"))
    subnet = network.create_subnet(
        SubnetSpec(str(uuid.uuid4()), net, "10.94.0.0/24", "10.94.0.1", dhcp_address="10.94.0.2")
    )
    group = network.create_security_group(
        SecurityGroupSpec(
            str(uuid.uuid4()), "default", "p1", (SecurityGroupRule(RuleDirection.EGRESS),)
        )
    )
    port = network.create_port(
        PortSpec(
            str(uuid.uuid4()), net, "fa:16:3e:00:94:05", (FixedIp(subnet, "10.94.0.5"),), (group,)
        )
    )
    server = boot(local_backend, spec("resolving", ports=(port,)))

    def nameservers() -> list[str]:
        inside = exec_in(runc_root(local_backend), server.ref, "cat /etc/resolv.conf")
        assert inside.returncode == 0, inside.stderr
        return [
            line.split()[1] for line in inside.stdout.splitlines() if line.startswith("nameserver")
        ]

    assert nameservers() == ["10.94.0.2"]
    network.set_subnet_dns_nameservers(subnet, ("10.94.1.53", "10.94.2.53"))
    assert nameservers() == ["10.94.1.53", "10.94.2.53"]
    told = "--dhcp-option=option:dns-server,10.94.1.53,10.94.2.53"
    eventually(lambda: _dnsmasq_argv(local_backend, subnet), lambda argv: told in argv, told)

    network.set_subnet_dns_nameservers(subnet, ())
    assert nameservers() == ["10.94.0.2"]
    network.set_subnet_dhcp(subnet, "10.94.0.3")
    assert nameservers() == ["10.94.0.3"]
    network.set_subnet_dhcp(subnet, None)
    assert nameservers() == []

    other = network.create_subnet(
        SubnetSpec(
            str(uuid.uuid4()),
            net,
            "10.95.0.0/24",
            None,
            dhcp=False,
            dns_nameservers=("10.95.0.53",),
        )
    )
    second = network.create_port(
        PortSpec(
            str(uuid.uuid4()), net, "fa:16:3e:00:95:05", (FixedIp(other, "10.95.0.5"),), (group,)
        )
    )
    local_backend.compute.attach_port(server.ref, second)
    assert nameservers() == ["10.95.0.53"]
    local_backend.compute.detach_port(server.ref, second)
    assert nameservers() == []

    local_backend.compute.delete_server(server.ref)
    network.delete_port(second)
    network.delete_subnet(other)
    network.delete_port(port)
    network.delete_security_group(group)
    network.delete_subnet(subnet)
    network.delete_network(net)
