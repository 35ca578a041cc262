"""Neutron per region: each region holds its own networks, and a region whose backend lacks a
capability hides the extension and answers 501 for it (the services never ask which backend)."""

from __future__ import annotations

from tests.api.conftest import ASSIGNING, LIMITED
from tests.support.gateway import ServedGateway
from tests.support.identity import unique
from tests.support.network import created, fault, neutron


def test_regions_hold_their_own_networks(regions_gateway: ServedGateway) -> None:
    token = regions_gateway.token("interstack")
    with (
        neutron(regions_gateway, token) as one,
        neutron(regions_gateway, token, LIMITED) as limited,
    ):
        net = created(one.post("/networks", json={"network": {"name": unique("n")}}), "network")
        assert limited.get(f"/networks/{net['id']}").status_code == 404
        assert net["id"] not in {n["id"] for n in limited.get("/networks").json()["networks"]}
    sdk = regions_gateway.connect("interstack")
    assert net["id"] in {n.id for n in sdk.network.networks()}


def test_a_region_without_security_groups_or_floating_ips(regions_gateway: ServedGateway) -> None:
    token = regions_gateway.token("interstack")
    with neutron(regions_gateway, token, LIMITED) as limited:
        aliases = {e["alias"] for e in limited.get("/extensions").json()["extensions"]}
        assert "security-group" not in aliases and "external-net" in aliases
        net = created(limited.post("/networks", json={"network": {"name": unique("n")}}), "network")
        limited.post(
            "/subnets",
            json={"subnet": {"network_id": net["id"], "cidr": "10.5.0.0/24", "ip_version": 4}},
        )
        port = created(limited.post("/ports", json={"port": {"network_id": net["id"]}}), "port")
        assert port["security_groups"] == [] and port["fixed_ips"]
        fault(limited.get("/security-groups"), 501)
    with neutron(regions_gateway, regions_gateway.token("interstack-admin"), LIMITED) as admin:
        public = created(
            admin.post(
                "/networks", json={"network": {"name": unique("pub"), "router:external": True}}
            ),
            "network",
        )
        admin.post(
            "/subnets",
            json={
                "subnet": {"network_id": public["id"], "cidr": "203.0.113.0/24", "ip_version": 4}
            },
        )
        refused = admin.post(
            "/floatingips", json={"floatingip": {"floating_network_id": public["id"]}}
        )
        fault(refused, 501)
        assert admin.get("/floatingips").json()["floatingips"] == []


def test_a_cloud_that_assigns_floating_ips_has_its_address_recorded(
    regions_gateway: ServedGateway,
) -> None:
    with neutron(regions_gateway, regions_gateway.token("interstack-admin"), ASSIGNING) as admin:
        body = {"network": {"name": unique("pub"), "router:external": True}}
        public = created(admin.post("/networks", json=body), "network")
        subnet = {"network_id": public["id"], "cidr": "192.0.2.0/24", "ip_version": 4}
        created(admin.post("/subnets", json={"subnet": subnet}), "subnet")
        asked = {"floating_network_id": public["id"], "floating_ip_address": "192.0.2.9"}
        fault(admin.post("/floatingips", json={"floatingip": asked}), 400)
        fip = created(
            admin.post("/floatingips", json={"floatingip": {"floating_network_id": public["id"]}}),
            "floatingip",
        )
        assert fip["floating_ip_address"] == "192.0.2.1"  # the sim cloud's first address
        port = {"network_id": public["id"], "fixed_ips": [{"ip_address": "192.0.2.1"}]}
        taken = fault(admin.post("/ports", json={"port": port}), 409)
        assert taken["type"] == "IpAddressAlreadyAllocated"
        assert admin.delete(f"/floatingips/{fip['id']}").status_code == 204
