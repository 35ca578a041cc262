"""Neutron through the clients people use: openstacksdk and the ``openstack`` CLI, plus project
isolation. The operator's external network is created by the admin, as operators do."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.support.gateway import ServedGateway
from tests.support.identity import member_of, unique
from tests.support.network import FLOATING_CIDR, external_network, fault, neutron, neutron_of


@pytest.fixture(scope="module")
def public(gateway: ServedGateway, admin_token: str) -> dict[str, Any]:
    with neutron(gateway, admin_token) as admin:
        return external_network(admin)


def test_sdk_network_subnet_port_router_security_group_floating_ip(
    gateway: ServedGateway, public: dict[str, Any]
) -> None:
    conn = gateway.connect("interstack")
    net = conn.network.create_network(name=unique("sdk-net"))
    subnet = conn.network.create_subnet(
        network_id=net.id, cidr="10.70.0.0/24", ip_version=4, name=unique("sdk-subnet")
    )
    assert subnet.gateway_ip == "10.70.0.1"
    group = conn.network.create_security_group(name=unique("sdk-sg"), description="ssh")
    rule = conn.network.create_security_group_rule(
        security_group_id=group.id,
        direction="ingress",
        protocol="tcp",
        port_range_min=22,
        port_range_max=22,
        remote_ip_prefix="0.0.0.0/0",
    )
    assert rule.port_range_min == 22
    conn.network.create_security_group_rule(
        security_group_id=group.id, direction="ingress", protocol="icmp", remote_group_id=group.id
    )
    port = conn.network.create_port(
        network_id=net.id, name=unique("sdk-port"), security_group_ids=[group.id]
    )
    assert port.fixed_ips[0]["subnet_id"] == subnet.id
    router = conn.network.create_router(name=unique("sdk-router"))
    conn.network.add_interface_to_router(router, subnet=subnet.id)
    router = conn.network.update_router(
        router, external_gateway_info={"network_id": public["id"], "enable_snat": True}
    )
    gateway_info = router.external_gateway_info
    assert gateway_info["network_id"] == public["id"] and gateway_info["enable_snat"] is True
    assert gateway_info["external_fixed_ips"][0]["ip_address"].startswith("203.0.113.")
    interfaces = list(
        conn.network.ports(device_id=router.id, device_owner="network:router_interface")
    )
    assert [p.fixed_ips[0]["ip_address"] for p in interfaces] == ["10.70.0.1"]

    fip = conn.network.create_ip(floating_network_id=public["id"])
    assert fip.floating_ip_address in _hosts(FLOATING_CIDR)
    assert fip.port_id is None and fip.status == "DOWN"
    fip = conn.network.update_ip(fip, port_id=port.id)
    assert fip.port_id == port.id and fip.router_id == router.id
    assert fip.fixed_ip_address == port.fixed_ips[0]["ip_address"]
    found = conn.network.find_ip(fip.floating_ip_address)
    assert found is not None and found.id == fip.id
    fip = conn.network.update_ip(fip, port_id=None)
    assert fip.port_id is None and fip.fixed_ip_address is None and fip.router_id is None
    conn.network.delete_ip(fip)
    assert conn.network.find_ip(fip.id) is None

    conn.network.remove_interface_from_router(router, subnet=subnet.id)
    conn.network.update_router(router, external_gateway_info={})
    conn.network.delete_router(router)
    conn.network.delete_port(port)
    conn.network.delete_security_group(group)
    conn.network.delete_subnet(subnet)
    conn.network.delete_network(net)
    assert conn.network.find_network(net.name) is None


def _hosts(cidr: str) -> set[str]:
    import ipaddress

    return {str(a) for a in ipaddress.ip_network(cidr).hosts()}


def test_cli_builds_a_routed_network_with_a_floating_ip(
    gateway: ServedGateway, public: dict[str, Any]
) -> None:
    """The commands run in one ``openstack`` process each batch (:meth:`ServedGateway.cli_batch`:
    one start-up of the CLI instead of one a command); each must succeed."""
    cloud = "interstack"
    net, sub, router = unique("cli-net"), unique("cli-sub"), unique("cli-router")
    group, port = unique("cli-sg"), unique("cli-port")
    created, subnet, _, _, _, shown, _, rule, made, fip = gateway.cli_batch(
        cloud,
        ["network", "create", net, "-f", "json"],
        [
            "subnet", "create", "--network", net, "--subnet-range", "10.80.0.0/24",
            "--dns-nameserver", "9.9.9.9", sub, "-f", "json",
        ],
        ["router", "create", router],
        ["router", "set", "--external-gateway", public["id"], router],
        ["router", "add", "subnet", router, sub],
        ["router", "show", router, "-f", "json"],
        ["security", "group", "create", group],
        [
            "security", "group", "rule", "create", "--protocol", "tcp", "--dst-port", "80:81",
            group, "-f", "json",
        ],
        ["port", "create", "--network", net, "--security-group", group, port, "-f", "json"],
        ["floating", "ip", "create", public["name"], "-f", "json"],
    )  # fmt: skip
    created, subnet, shown = json.loads(created), json.loads(subnet), json.loads(shown)
    rule, made, fip = json.loads(rule), json.loads(made), json.loads(fip)
    assert created["name"] == net and created["mtu"] == 1500
    assert subnet["cidr"] == "10.80.0.0/24" and subnet["dns_nameservers"] == ["9.9.9.9"]
    assert shown["external_gateway_info"]["network_id"] == public["id"]
    assert (rule["port_range_min"], rule["port_range_max"]) == (80, 81)
    _, associated, listed, ports, *_ = gateway.cli_batch(
        cloud,
        ["floating", "ip", "set", "--port", port, fip["id"]],
        ["floating", "ip", "show", fip["id"], "-f", "json"],
        ["network", "list", "-f", "json"],
        ["port", "list", "--network", net, "-f", "json"],
        ["floating", "ip", "unset", "--port", fip["id"]],
        ["floating", "ip", "delete", fip["id"]],
        ["port", "delete", port],
        ["router", "remove", "subnet", router, sub],
        ["router", "unset", "--external-gateway", router],
        ["router", "delete", router],
        ["security", "group", "delete", group],
        ["subnet", "delete", sub],
        ["network", "delete", net],
    )
    assert json.loads(associated)["port_id"] == made["id"]
    assert {net, public["name"]} <= {n["Name"] for n in json.loads(listed)}
    assert made["id"] in {p["ID"] for p in json.loads(ports)}
    assert gateway.cli(cloud, "network", "show", net, check=False).returncode != 0


def test_raw_http_router_and_floating_ip_errors(
    gateway: ServedGateway, demo_token: str, public: dict[str, Any]
) -> None:
    with neutron(gateway, demo_token) as api:
        net = api.post("/networks", json={"network": {"name": unique("net")}}).json()["network"]
        subnet = api.post(
            "/subnets",
            json={"subnet": {"network_id": net["id"], "cidr": "10.90.0.0/24", "ip_version": 4}},
        ).json()["subnet"]
        port = api.post("/ports", json={"port": {"network_id": net["id"]}}).json()["port"]
        not_external = api.post(
            "/floatingips", json={"floatingip": {"floating_network_id": net["id"]}}
        )
        fault(not_external, 400)
        unreachable = api.post(
            "/floatingips",
            json={"floatingip": {"floating_network_id": public["id"], "port_id": port["id"]}},
        )
        assert fault(unreachable, 404)["type"] == "ExternalGatewayForFloatingIPNotFound"
        assert api.get("/floatingips", params={"port_id": port["id"]}).json()["floatingips"] == []
        router = api.post("/routers", json={"router": {"name": unique("r")}}).json()["router"]
        added = api.put(
            f"/routers/{router['id']}/add_router_interface", json={"subnet_id": subnet["id"]}
        )
        assert added.status_code == 200 and added.json()["subnet_id"] == subnet["id"]
        twice = api.put(
            f"/routers/{router['id']}/add_router_interface", json={"subnet_id": subnet["id"]}
        )
        fault(twice, 400)
        assert fault(api.delete(f"/routers/{router['id']}"), 409)["type"] == "RouterInUse"
        interface_port = added.json()["port_id"]
        assert fault(api.delete(f"/ports/{interface_port}"), 409)
        bad_route = api.put(
            f"/routers/{router['id']}",
            json={"router": {"routes": [{"destination": "10.200.0.0/16", "nexthop": "192.0.2.1"}]}},
        )
        assert fault(bad_route, 400)["type"] == "InvalidRoutes"
        good_route = api.put(
            f"/routers/{router['id']}",
            json={"router": {"routes": [{"destination": "10.200.0.0/16", "nexthop": "10.90.0.9"}]}},
        )
        assert good_route.json()["router"]["routes"] == [
            {"destination": "10.200.0.0/16", "nexthop": "10.90.0.9"}
        ]
        # the route's next hop is on the interface's subnet: the route goes first (as Neutron)
        in_use = api.put(
            f"/routers/{router['id']}/remove_router_interface", json={"subnet_id": subnet["id"]}
        )
        assert fault(in_use, 409)["type"] == "RouterInterfaceInUseByRoute"
        no_routes = api.put(f"/routers/{router['id']}", json={"router": {"routes": []}})
        assert no_routes.status_code == 200, no_routes.text
        removed = api.put(
            f"/routers/{router['id']}/remove_router_interface", json={"subnet_id": subnet["id"]}
        )
        assert removed.status_code == 200 and removed.json()["port_id"] == interface_port
        fault(api.get(f"/ports/{interface_port}"), 404)
        gone = api.put(
            f"/routers/{router['id']}/remove_router_interface", json={"subnet_id": subnet["id"]}
        )
        assert fault(gone, 404)["type"] == "RouterInterfaceNotFoundForSubnet"
        assert api.delete(f"/routers/{router['id']}").status_code == 204


def test_projects_are_isolated_except_shared_networks(
    gateway: ServedGateway, demo_token: str, admin_token: str
) -> None:
    with (
        neutron(gateway, demo_token) as demo,
        neutron_of(gateway, member_of(gateway)) as stranger,
        neutron(gateway, admin_token) as admin,
    ):
        net = demo.post("/networks", json={"network": {"name": unique("private")}}).json()[
            "network"
        ]
        demo.post(
            "/subnets",
            json={"subnet": {"network_id": net["id"], "cidr": "10.95.0.0/24", "ip_version": 4}},
        )
        port = demo.post("/ports", json={"port": {"network_id": net["id"]}}).json()["port"]
        group = demo.post(
            "/security-groups", json={"security_group": {"name": unique("sg")}}
        ).json()["security_group"]
        shared = admin.post(
            "/networks", json={"network": {"name": unique("shared"), "shared": True}}
        ).json()["network"]
        admin.post(
            "/subnets",
            json={"subnet": {"network_id": shared["id"], "cidr": "10.96.0.0/24", "ip_version": 4}},
        )

        for path in (
            f"/networks/{net['id']}",
            f"/ports/{port['id']}",
            f"/security-groups/{group['id']}",
        ):
            fault(stranger.get(path), 404)
            fault(stranger.delete(path), 404)
        fault(stranger.put(f"/networks/{net['id']}", json={"network": {"name": "mine"}}), 404)
        fault(stranger.post("/ports", json={"port": {"network_id": net["id"]}}), 404)
        seen = {n["id"] for n in stranger.get("/networks").json()["networks"]}
        assert net["id"] not in seen and shared["id"] in seen
        assert port["id"] not in {p["id"] for p in stranger.get("/ports").json()["ports"]}
        assert group["id"] not in {
            g["id"] for g in stranger.get("/security-groups").json()["security_groups"]
        }
        on_shared = stranger.post("/ports", json={"port": {"network_id": shared["id"]}})
        assert on_shared.status_code == 201, on_shared.text
        assert fault(stranger.delete(f"/networks/{shared['id']}"), 403)
        assert demo.get(f"/ports/{on_shared.json()['port']['id']}").status_code == 404
        # the admin sees everything
        assert admin.get(f"/ports/{port['id']}").status_code == 200
