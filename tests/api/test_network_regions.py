"""Neutron per region: each region holds its own networks, and a region whose backend lacks a
capability hides the extension and answers 501 for it (the services never ask which backend)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.gateway import ServedGateway
from tests.support.identity import unique
from tests.support.network import created, fault, neutron

LIMITED = "sim-limited"
#: a cloud that assigns floating IP addresses itself (as EC2 does its Elastic IPs)
ASSIGNING = "sim-assigning"


@pytest.fixture(scope="module")
def two_regions(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedGateway]:
    data: Path = tmp_path_factory.mktemp("regions") / "data"
    config = {
        "regions": [
            {"name": "RegionOne", "backend": "sim"},
            {
                "name": LIMITED,
                "backend": "sim",
                "settings": {"without": ["security_groups", "floating_ips"]},
            },
            {
                "name": ASSIGNING,
                "backend": "sim",
                "settings": {"without": ["floating_ip_choice"], "floating_ip_cidr": "192.0.2.0/24"},
            },
        ]
    }
    served = ServedGateway(data, config=config).start()
    yield served
    served.stop()


def test_regions_hold_their_own_networks(two_regions: ServedGateway) -> None:
    token = two_regions.token("interstack")
    with neutron(two_regions, token) as one, neutron(two_regions, token, LIMITED) as limited:
        net = created(one.post("/networks", json={"network": {"name": unique("n")}}), "network")
        assert limited.get(f"/networks/{net['id']}").status_code == 404
        assert net["id"] not in {n["id"] for n in limited.get("/networks").json()["networks"]}
    sdk = two_regions.connect("interstack")
    assert net["id"] in {n.id for n in sdk.network.networks()}


def test_a_region_without_security_groups_or_floating_ips(two_regions: ServedGateway) -> None:
    token = two_regions.token("interstack")
    with neutron(two_regions, token, LIMITED) as limited:
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
    with neutron(two_regions, two_regions.token("interstack-admin"), LIMITED) as admin:
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
    two_regions: ServedGateway,
) -> None:
    with neutron(two_regions, two_regions.token("interstack-admin"), ASSIGNING) as admin:
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
