"""The local network driver on this host, with namespaces standing in for instances.

Each test builds its own networks through the driver's contract, plugs stand-ins through the
seam the compute driver uses (``plug_port``), sends real traffic and removes what it built.
"""

from __future__ import annotations

import subprocess
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from interstack.backends.contract import (
    NativeRef,
    NetworkSpec,
    RouterSpec,
    SecurityGroupRule,
    SecurityGroupSpec,
    SubnetSpec,
)
from interstack.backends.local.network import LocalNetwork, links, names
from interstack.errors import Conflict, NotFound
from tests.backends.local.lab import ALL_EGRESS, EGRESS, EXTERNAL, INGRESS, OPEN, Lab
from tests.backends.local.stand_ins import (
    StandIn,
    can_create_namespaces,
    host_names,
)

_reason = can_create_namespaces()
pytestmark = pytest.mark.skipif(_reason is not None, reason=_reason or "")

OWNED = ("isn-", "isp-", "isq-", "ise-", "ish-", "isu-", "is-ext", "isr-", "isd-")


def test_two_ports_on_one_network_reach_each_other(lab: Lab) -> None:
    net, subnet = lab.network("10.91.1.0/24")
    group = lab.group(*OPEN)
    _, a = lab.port(net, subnet, "10.91.1.11", (group,), plug_as="a")
    _, b = lab.port(net, subnet, "10.91.1.12", (group,), plug_as="b")
    assert a is not None and b is not None
    assert a.pings("10.91.1.12")
    assert b.pings("10.91.1.11")
    mac = a.run("cat", "/sys/class/net/eth0/address", check=True).stdout.strip()
    assert mac == "fa:16:3e:5e:00:01"


def test_networks_are_isolated_until_a_router_joins_them(lab: Lab) -> None:
    group = lab.group(*OPEN)
    net1, sub1 = lab.network("10.91.2.0/24")
    net2, sub2 = lab.network("10.91.3.0/24")
    _, a = lab.port(net1, sub1, "10.91.2.11", (group,), plug_as="a")
    _, b = lab.port(net2, sub2, "10.91.3.11", (group,), plug_as="b")
    assert a is not None and b is not None
    assert not a.pings("10.91.3.11", patience=1)

    router = lab.driver.create_router(RouterSpec(str(uuid.uuid4()), "r", "project"))
    lab.driver.add_router_interface(router, sub1)
    lab.driver.add_router_interface(router, sub2)
    lab.driver.add_router_interface(router, sub2)  # again: a no-op
    assert a.pings("10.91.3.11")
    assert b.pings("10.91.2.11")
    with pytest.raises(Conflict):
        lab.driver.delete_router(router)

    lab.driver.remove_router_interface(router, sub2)
    assert not a.pings("10.91.3.11", patience=1)
    lab.driver.remove_router_interface(router, sub1)
    lab.driver.delete_router(router)
    lab.driver.delete_router(router)  # gone already: fine


def test_security_group_opens_a_port_by_rule_and_by_remote_group(lab: Lab) -> None:
    net, subnet = lab.network("10.91.4.0/24")
    closed = lab.group(ALL_EGRESS)
    clients = lab.group(ALL_EGRESS)
    others = lab.group(ALL_EGRESS)
    server_port, server = lab.port(net, subnet, "10.91.4.10", (closed,), plug_as="srv")
    _, member = lab.port(net, subnet, "10.91.4.20", (clients,), plug_as="member")
    _, stranger = lab.port(net, subnet, "10.91.4.30", (others,), plug_as="stranger")
    assert server is not None and member is not None and stranger is not None
    server.serve_tcp(8080)

    assert member.connect("10.91.4.10", 8080, timeout=1).startswith("failed")

    tcp_8080 = SecurityGroupRule(INGRESS, protocol="tcp", port_min=8080, port_max=8080)
    lab.driver.set_security_group_rules(closed, (ALL_EGRESS, tcp_8080))
    assert member.connect("10.91.4.10", 8080) == "hello from srv"
    assert stranger.connect("10.91.4.10", 8080) == "hello from srv"

    from_clients = SecurityGroupRule(
        INGRESS, protocol="tcp", port_min=8080, port_max=8080, remote_group=clients
    )
    lab.driver.set_security_group_rules(closed, (ALL_EGRESS, from_clients))
    assert member.connect("10.91.4.10", 8080) == "hello from srv"
    assert stranger.connect("10.91.4.10", 8080, timeout=1).startswith("failed")

    # egress is filtered too: a client allowed out only to tcp/8080 can no longer ping
    lab.driver.set_security_group_rules(
        others, (ALL_EGRESS, SecurityGroupRule(INGRESS, protocol="icmp"))
    )
    assert member.pings("10.91.4.30")
    only_8080 = SecurityGroupRule(EGRESS, protocol="tcp", port_min=8080, port_max=8080)
    lab.driver.set_security_group_rules(clients, (only_8080,))
    assert member.connect("10.91.4.10", 8080) == "hello from srv"
    assert not member.pings("10.91.4.30", patience=1)

    # a port's groups can change while it runs
    lab.driver.update_port_security_groups(server_port, (others,))
    assert member.connect("10.91.4.10", 8080, timeout=1).startswith("failed")
    with pytest.raises(Conflict):
        lab.driver.delete_security_group(others)


def test_creating_a_group_again_gives_it_exactly_the_specs_rules(lab: Lab) -> None:
    net, subnet = lab.network("10.91.14.0/24")
    spec = SecurityGroupSpec(str(uuid.uuid4()), "group", "project", (ALL_EGRESS,))
    group = lab.driver.create_security_group(spec)
    _, server = lab.port(net, subnet, "10.91.14.10", (group,), plug_as="srv")
    _, client = lab.port(net, subnet, "10.91.14.20", (group,), plug_as="member")
    assert server is not None and client is not None
    server.serve_tcp(8080)
    assert client.connect("10.91.14.10", 8080, timeout=1).startswith("failed")

    # a create run again (a task resumed) realizes the spec's rules, not the group's old ones
    tcp_8080 = SecurityGroupRule(INGRESS, protocol="tcp", port_min=8080, port_max=8080)
    assert lab.driver.create_security_group(replace(spec, rules=(ALL_EGRESS, tcp_8080))) == group
    assert client.connect("10.91.14.10", 8080) == "hello from srv"


def test_ipv6_rules_and_addresses(lab: Lab) -> None:
    net = lab.driver.create_network(NetworkSpec(str(uuid.uuid4()), "v6", "project"))
    subnet = lab.driver.create_subnet(
        SubnetSpec(str(uuid.uuid4()), net, "fd91:12::/64", "fd91:12::1", ip_version=6)
    )
    egress = (SecurityGroupRule(EGRESS, ethertype=4), SecurityGroupRule(EGRESS, ethertype=6))
    group = lab.group(*egress)
    _, a = lab.port(net, subnet, "fd91:12::11", (group,), plug_as="a6")
    _, b = lab.port(net, subnet, "fd91:12::12", (group,), plug_as="b6")
    assert a is not None and b is not None
    assert not a.pings("fd91:12::12", patience=1)

    icmp6 = SecurityGroupRule(INGRESS, ethertype=6, protocol="icmp")
    lab.driver.set_security_group_rules(group, (*egress, icmp6))
    assert a.pings("fd91:12::12")
    a.run("ip", "addr", "add", "fd91:12::99/64", "dev", "eth0", "nodad", check=True)
    assert not a.pings("fd91:12::12", source="fd91:12::99", patience=1)


def test_spoofed_addresses_and_macs_are_dropped(lab: Lab) -> None:
    net, subnet = lab.network("10.91.5.0/24")
    group = lab.group(*OPEN)
    _, a = lab.port(net, subnet, "10.91.5.11", (group,), plug_as="a")
    _, b = lab.port(net, subnet, "10.91.5.12", (group,), plug_as="b")
    assert a is not None and b is not None
    assert a.pings("10.91.5.12")

    a.run("ip", "addr", "add", "10.91.5.99/24", "dev", "eth0", check=True)
    assert not a.pings("10.91.5.12", source="10.91.5.99", patience=1)
    assert a.pings("10.91.5.12", source="10.91.5.11")

    b.run("ip", "neigh", "flush", "all")
    a.run("ip", "neigh", "flush", "all")
    a.run("ip", "link", "set", "eth0", "address", "fa:16:3e:66:66:66", check=True)
    assert not a.pings("10.91.5.12", patience=1)


def test_dhcp_hands_the_port_its_fixed_address(lab: Lab, tmp_path: Path) -> None:
    net, subnet = lab.network("10.91.6.0/24", dhcp=True)
    group = lab.group(*OPEN)
    _, client = lab.port(net, subnet, "10.91.6.57", (group,), plug_as="dhcp")
    assert client is not None
    client.run("ip", "addr", "flush", "dev", "eth0", check=True)

    record = tmp_path / "lease"
    script = tmp_path / "udhcpc-script"
    script.write_text(f'#!/bin/sh\n[ "$1" = bound ] && echo "$ip $router $dns" > {record}\n')
    script.chmod(0o755)
    done = client.run(
        "busybox", "udhcpc", "-i", "eth0", "-n", "-q", "-f", "-t", "5", "-T", "1", "-s", str(script)
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert record.read_text().split() == ["10.91.6.57", "10.91.6.1", "10.91.6.254"]


def test_a_restarted_driver_adopts_dnsmasq_and_rebuilds_a_lost_router(
    lab: Lab, driver: LocalNetwork
) -> None:
    group = lab.group(*OPEN)
    net1, sub1 = lab.network("10.91.10.0/24", dhcp=True)
    net2, sub2 = lab.network("10.91.11.0/24")
    _, a = lab.port(net1, sub1, "10.91.10.11", (group,), plug_as="a")
    _, b = lab.port(net2, sub2, "10.91.11.11", (group,), plug_as="b")
    assert a is not None and b is not None
    router = driver.create_router(RouterSpec(str(uuid.uuid4()), "r", "project"))
    driver.add_router_interface(router, sub1)
    driver.add_router_interface(router, sub2)
    assert a.pings("10.91.11.11")
    dnsmasq = _dnsmasq_pids(sub1)

    # the host loses the router; then a new driver object takes over from the old one, as
    # after a gateway restart (in this process, so no other process's driver gets in between)
    subprocess.run(["ip", "netns", "delete", router], check=True)
    # the kernel frees a namespace (and the veths in it) lazily after its file is gone
    legs = [names.router_leg(router, sub1), names.router_leg(router, sub2)]
    assert _eventually(lambda: not any(links.link_exists(leg) for leg in legs))
    assert not a.pings("10.91.11.11", patience=1)
    restarted = LocalNetwork(driver.data_dir, external_cidr=EXTERNAL)
    restarted.start()
    driver.close()
    try:
        assert a.pings("10.91.11.11")
        assert _dnsmasq_pids(sub1) == dnsmasq
    finally:
        driver.start()
        restarted.close()
    driver.remove_router_interface(router, sub1)
    driver.remove_router_interface(router, sub2)
    driver.delete_router(router)


def _stand_in(lab: Lab, label: str) -> StandIn:
    stand_in = StandIn(label)
    lab.stand_ins[label] = stand_in  # the lab removes it
    return stand_in


def test_ports_plug_side_by_side(lab: Lab, monkeypatch: pytest.MonkeyPatch) -> None:
    """Servers booting at once plug their ports at once: while one port's links are made,
    the driver goes on with other changes (here: another port is created)."""
    net, subnet = lab.network("10.91.10.0/24")
    group = lab.group(*OPEN)
    port, _ = lab.port(net, subnet, "10.91.10.11", (group,))
    configure_inside = links.configure_inside
    created_meanwhile: list[NativeRef] = []

    def create_another_port_first(*args: object, **kwargs: object) -> None:
        other = threading.Thread(
            target=lambda: created_meanwhile.append(
                lab.port(net, subnet, "10.91.10.12", (group,))[0]
            )
        )
        other.start()
        other.join(30)  # a bound: a driver held by the plug would keep the other one waiting
        configure_inside(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(links, "configure_inside", create_another_port_first)
    stand_in = _stand_in(lab, "side")
    lab.driver.plug_port(port, stand_in.path, "eth0")
    assert len(created_meanwhile) == 1
    shown = stand_in.run("ip", "-o", "-4", "addr", "show", "eth0", check=True).stdout
    assert "10.91.10.11/24" in shown


def test_a_port_deleted_while_it_is_being_plugged_keeps_no_link(
    lab: Lab, monkeypatch: pytest.MonkeyPatch
) -> None:
    net, subnet = lab.network("10.91.11.0/24")
    group = lab.group(*OPEN)
    port, _ = lab.port(net, subnet, "10.91.11.11", (group,))
    add_veth = links.add_veth

    def delete_the_port_first(*args: object, **kwargs: object) -> None:
        lab.driver.delete_port(port)  # no link yet: the delete goes ahead
        add_veth(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(links, "add_veth", delete_the_port_first)
    with pytest.raises(NotFound):
        lab.driver.plug_port(port, _stand_in(lab, "late").path, "eth0")
    assert not links.link_exists(names.renamed(names.PORT, port))


def test_delete_leaves_nothing_behind(lab: Lab) -> None:
    before = host_names(OWNED)
    net, subnet = lab.network("10.91.8.0/24", dhcp=True)
    group = lab.group(*OPEN)
    port, stand_in = lab.port(net, subnet, "10.91.8.10", (group,), plug_as="gone")
    assert stand_in is not None
    router = lab.driver.create_router(
        RouterSpec(str(uuid.uuid4()), "r", "project", external_gateway=True)
    )
    lab.driver.add_router_interface(router, subnet)
    fip = lab.driver.allocate_floating_ip(str(uuid.uuid4()))
    lab.driver.associate_floating_ip(fip.ref, port)
    during = host_names(OWNED)
    assert len(during["links"]) > len(before["links"])
    assert len(during["namespaces"]) == len(before["namespaces"]) + 2
    dnsmasq = _dnsmasq_pids(subnet)
    assert dnsmasq

    with pytest.raises(Conflict):
        lab.driver.delete_port(port)  # still plugged
    lab.driver.unplug_port(port)
    lab.driver.release_floating_ip(fip.ref)
    lab.driver.remove_router_interface(router, subnet)
    lab.driver.delete_router(router)
    lab.driver.delete_port(port)
    lab.driver.delete_security_group(group)
    lab.driver.delete_subnet(subnet)
    lab.driver.delete_network(net)
    for again in (lab.driver.delete_port, lab.driver.delete_subnet, lab.driver.delete_network):
        again(NativeRef("isx-0000000000"))

    after = host_names(OWNED)
    # earlier tests' stand-ins may still be vanishing (the kernel frees namespaces lazily),
    # so nothing new may remain, and the rules name neither the port nor the group
    for kind in ("links", "namespaces"):
        assert set(after[kind]) <= set(before[kind]), kind
    ruleset = subprocess.run(
        ["nft", "list", "ruleset"], capture_output=True, text=True, check=False
    ).stdout
    assert port.split("-")[1] not in ruleset
    assert group.split("-")[1] not in ruleset
    assert all(not Path(f"/proc/{pid}").exists() for pid in dnsmasq)


def _eventually(condition: Callable[[], bool], limit: float = 10.0) -> bool:
    """Whether ``condition`` holds within ``limit`` seconds (for the kernel's lazy work)."""
    deadline = time.monotonic() + limit
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _dnsmasq_pids(subnet: NativeRef) -> list[int]:
    """The dnsmasq serving ``subnet``, in its DHCP namespace."""
    namespace = "isd-" + subnet.split("-")[1]
    done = subprocess.run(
        ["ip", "netns", "pids", namespace], capture_output=True, text=True, check=False
    )
    pids = [int(p) for p in done.stdout.split()]
    return [p for p in pids if Path(f"/proc/{p}/comm").read_text().strip() == "dnsmasq"]


def test_start_refuses_a_host_without_br_netfilter(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from interstack.backends.local.network import external
    from interstack.errors import BackendUnavailable

    switch = tmp_path / "bridge-nf-call-iptables"
    switch.write_text("0\n")
    monkeypatch.setattr(external, "BR_NETFILTER", switch)
    with pytest.raises(BackendUnavailable, match="bridge-nf-call-iptables"):
        LocalNetwork(tmp_path / "data").start()
    switch.unlink()
    with pytest.raises(BackendUnavailable, match="br_netfilter"):
        LocalNetwork(tmp_path / "data").start()


def test_every_egress_check_comes_before_any_ingress_check() -> None:
    """An ingress chain's accept ends the forward hook, so a port's egress rules must have
    run by then, whatever order the ports' refs sort in."""
    from interstack.backends.local.network import firewall
    from interstack.backends.local.network.external import ExternalNetwork
    from interstack.backends.local.network.state import NetworkState, PortRecord

    state = NetworkState(
        ports={
            ref: PortRecord(ref=ref, gateway_id=ref, network="isn-1", mac_address=mac)
            for ref, mac in (("isp-a", "fa:16:3e:00:00:0a"), ("isp-b", "fa:16:3e:00:00:0b"))
        }
    )
    inet = dict(
        (family, body) for family, _, body in firewall.render(state, ExternalNetwork(EXTERNAL))
    )
    jumps = [line for line in inet["inet"].splitlines() if " jump " in line]
    kinds = [line.split(" jump ")[1].split("-")[0] for line in jumps]
    assert kinds == ["egress", "egress", "ingress", "ingress"]
