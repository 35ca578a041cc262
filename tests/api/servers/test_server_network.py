"""Servers on Neutron networks: ports allocated at boot and released at delete, floating IPs in
``addresses``; openstacksdk's cloud layer and the CLI, as the Interop Challenge drove them."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from interstack.store.models import Port
from tests.api.servers.conftest import IMAGE, boot, nova, sdk_as, wait_gone, wait_status
from tests.support.compute import cli_json, delete_server, server_active
from tests.support.gateway import ServedGateway
from tests.support.identity import Member, unique
from tests.support.network import created, external_network, fault, neutron


@pytest.fixture(scope="module")
def public(compute_gateway: ServedGateway) -> dict[str, Any]:
    with neutron(compute_gateway, compute_gateway.token("interstack-admin")) as admin:
        return external_network(admin)


@pytest.fixture(scope="module")
def routed(net_api: httpx.Client, public: dict[str, Any]) -> dict[str, Any]:
    """The member's network and subnet, routed to the external network."""
    network = created(
        net_api.post("/networks", json={"network": {"name": unique("net")}}), "network"
    )
    subnet = created(
        net_api.post(
            "/subnets",
            json={"subnet": {"network_id": network["id"], "cidr": "10.20.0.0/24", "ip_version": 4}},
        ),
        "subnet",
    )
    router = created(
        net_api.post(
            "/routers",
            json={
                "router": {
                    "name": unique("r"),
                    "external_gateway_info": {"network_id": public["id"]},
                }
            },
        ),
        "router",
    )
    added = net_api.put(
        f"/routers/{router['id']}/add_router_interface", json={"subnet_id": subnet["id"]}
    )
    assert added.status_code == 200, added.text
    return network


def _ports_of(net_api: httpx.Client, server_id: str) -> list[dict[str, Any]]:
    ports: list[dict[str, Any]] = net_api.get("/ports", params={"device_id": server_id}).json()[
        "ports"
    ]
    return ports


def test_ports_follow_the_server_and_addresses_agree_with_neutron(
    api: httpx.Client, net_api: httpx.Client, routed: dict[str, Any]
) -> None:
    server_id = boot(api, unique("on-net"), networks=[{"uuid": routed["id"]}])
    active = wait_status(api, server_id, "ACTIVE")
    (port,) = _ports_of(net_api, server_id)
    assert port["device_owner"].startswith("compute:")
    (address,) = active["addresses"][routed["name"]]
    assert address["addr"] == port["fixed_ips"][0]["ip_address"]
    assert address["OS-EXT-IPS:type"] == "fixed"
    assert address["OS-EXT-IPS-MAC:mac_addr"] == port["mac_address"]
    found = api.get("/servers", params={"ip": address["addr"].replace(".", "\\.") + "$"}).json()
    assert server_id in [s["id"] for s in found["servers"]]
    assert api.delete(f"/servers/{server_id}").status_code == 204
    wait_gone(api, server_id)
    assert _ports_of(net_api, server_id) == []


def test_unknown_network_is_a_400_and_leaves_nothing(api: httpx.Client) -> None:
    before = {s["id"] for s in api.get("/servers").json()["servers"]}
    response = api.post(
        "/servers",
        json={
            "server": {
                "name": "nowhere",
                "flavorRef": "1",
                "imageRef": "6ab4b3b2-9f3e-4a5c-9e0d-1b2c3d4e5f60",
                "networks": [{"uuid": "5e1c0a77-0000-4000-8000-00000000beef"}],
            }
        },
    )
    assert response.status_code == 400, response.text
    # none new (an earlier test's server may go meanwhile: its deletion is not waited for)
    assert {s["id"] for s in api.get("/servers").json()["servers"]} <= before


def test_cloud_layer_create_with_auto_ip_then_delete_with_ips(
    compute_gateway: ServedGateway, member: Member, routed: dict[str, Any], net_api: httpx.Client
) -> None:
    conn = sdk_as(compute_gateway, member)
    try:
        server = conn.create_server(
            unique("interop"),
            image="cirros-sim",
            flavor="m1.tiny",
            network=routed["name"],
            auto_ip=True,
            wait=True,
            timeout=120,
        )
        assert server.status == "ACTIVE"
        floating = [
            a["addr"]
            for addrs in server.addresses.values()
            for a in addrs
            if a["OS-EXT-IPS:type"] == "floating"
        ]
        assert len(floating) == 1
        # the cloud layer's view (what Ansible's server module reports) names it the public IPv4
        expanded = conn.get_server(server.id)
        assert expanded is not None
        assert expanded.public_v4 == floating[0]
        assert conn.delete_server(server.id, wait=True, timeout=120, delete_ips=True)
        ips = net_api.get("/floatingips", params={"floating_ip_address": floating[0]}).json()
        assert ips["floatingips"] == []
        assert _ports_of(net_api, server.id) == []
    finally:
        conn.close()


def test_cli_server_with_a_floating_ip(
    compute_gateway: ServedGateway, routed: dict[str, Any], public: dict[str, Any]
) -> None:
    """The commands in a row run in one ``openstack`` process (:meth:`ServedGateway.cli_batch`;
    each must succeed), naming what they made by name."""
    cloud = "interstack"
    net, sub, router = unique("demo-net"), unique("sn"), unique("demo-r")
    # the demo project needs its own routed network
    *_, server = compute_gateway.cli_batch(
        cloud,
        ["network", "create", net],
        ["subnet", "create", "--network", net, "--subnet-range", "10.30.0.0/24", sub],
        ["router", "create", router],
        ["router", "set", "--external-gateway", public["id"], router],
        ["router", "add", "subnet", router, sub],
        [
            "server", "create", "--image", "cirros-sim", "--flavor", "m1.tiny",
            "--network", net, unique("cli-net"), "-f", "json",
        ],
    )  # fmt: skip
    server_id = json.loads(server)["id"]
    with nova(compute_gateway, compute_gateway.token(cloud)) as demo_api:
        wait_status(demo_api, server_id, "ACTIVE")
        fip = cli_json(compute_gateway, cloud, "floating", "ip", "create", public["id"])
        address = fip["floating_ip_address"]
        _, shown, listed, _ = compute_gateway.cli_batch(
            cloud,
            ["server", "add", "floating", "ip", server_id, address],
            ["server", "show", server_id, "-f", "json"],
            ["server", "list", "-f", "json"],
            ["server", "delete", server_id],
        )
        assert address in json.dumps(json.loads(shown)["addresses"])
        assert any(address in json.dumps(r["Networks"]) for r in json.loads(listed))
        wait_gone(demo_api, server_id)
    compute_gateway.cli(cloud, "floating", "ip", "delete", fip["id"])


def test_delete_unbinds_a_brought_port_keeping_its_floating_ip_and_deletes_its_own_ports(
    compute_gateway: ServedGateway, member: Member, routed: dict[str, Any], public: dict[str, Any]
) -> None:
    conn = sdk_as(compute_gateway, member)
    try:
        brought = conn.network.create_port(network_id=routed["id"], name=unique("brought"))
        server = conn.compute.create_server(
            name=unique("on-port"),
            image_id=conn.image.find_image("cirros-sim").id,
            flavor_id=conn.compute.find_flavor("m1.tiny").id,
            networks=[{"port": brought.id}],
        )
        server_active(conn, server)
        kept_fip = conn.network.create_ip(floating_network_id=public["id"], port_id=brought.id)
        delete_server(conn, server.id)
        port = conn.network.get_port(brought.id)
        assert (port.device_id, port.device_owner, port.status) == ("", "", "DOWN")
        assert port.fixed_ips == brought.fixed_ips
        assert conn.network.get_ip(kept_fip.id).port_id == brought.id

        server = conn.compute.create_server(
            name=unique("on-net"),
            image_id=conn.image.find_image("cirros-sim").id,
            flavor_id=conn.compute.find_flavor("m1.tiny").id,
            networks=[{"uuid": routed["id"]}],
        )
        server_active(conn, server)
        (own,) = conn.network.ports(device_id=server.id)
        freed_fip = conn.network.create_ip(floating_network_id=public["id"], port_id=own.id)
        delete_server(conn, server.id)
        assert conn.network.find_port(own.id) is None
        freed = conn.network.get_ip(freed_fip.id)
        assert (freed.port_id, freed.fixed_ip_address) == (None, None)
    finally:
        conn.close()


def test_a_routers_interface_is_no_servers_port_even_with_its_device_fields_cleared(
    compute_gateway: ServedGateway, api: httpx.Client, net_api: httpx.Client
) -> None:
    """The router holds its interface's port whatever the port's device fields say: an
    admin's clearing them is refused (409), and a port whose fields were cleared behind the
    gateway's back is still the router's (its interface, routed by the cloud), so a boot given
    it is Nova's 409 PortInUse."""
    network = created(
        net_api.post("/networks", json={"network": {"name": unique("net")}}), "network"
    )
    body = {"network_id": network["id"], "cidr": "10.21.0.0/24", "ip_version": 4}
    subnet = created(net_api.post("/subnets", json={"subnet": body}), "subnet")
    router = created(net_api.post("/routers", json={"router": {"name": unique("r")}}), "router")
    path = f"/routers/{router['id']}"
    added = net_api.put(f"{path}/add_router_interface", json={"subnet_id": subnet["id"]})
    assert added.status_code == 200, added.text
    interface = added.json()["port_id"]
    cleared = {"port": {"device_id": "", "device_owner": ""}}
    with neutron(compute_gateway, compute_gateway.token("interstack-admin")) as admin:
        assert fault(admin.put(f"/ports/{interface}", json=cleared), 409)["type"] == "PortInUse"
    with compute_gateway.store() as database, database.session() as session:
        port = session.get_one(Port, interface)
        port.device_id, port.device_owner = "", ""
    body = {"name": unique("s"), "flavorRef": "1", "imageRef": IMAGE}
    refused = api.post("/servers", json={"server": {**body, "networks": [{"port": interface}]}})
    assert refused.status_code == 409, refused.text
    assert interface in refused.json()["conflictingRequest"]["message"]
    assert net_api.get(f"/ports/{interface}").json()["port"]["device_id"] == ""
    removed = net_api.put(f"{path}/remove_router_interface", json={"port_id": interface})
    assert removed.status_code == 200, removed.text
    assert net_api.delete(path).status_code == 204
    assert net_api.delete(f"/networks/{network['id']}").status_code == 204
