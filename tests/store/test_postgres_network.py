"""Neutron's guarantees under concurrent requests hold on PostgreSQL too, where writers do not
queue as on SQLite: no address given twice, a project's port quota never passed, a router's
interfaces and gateway as if the requests had come one after the other."""

from __future__ import annotations

import concurrent.futures

import httpx

from tests.support.gateway import ServedGateway
from tests.support.identity import member_of, unique
from tests.support.network import created, fault, neutron, neutron_of
from tests.support.router_rush import one_gateway_port, one_interface_a_subnet


def test_concurrent_port_creates_keep_addresses_unique_and_the_quota(
    pg_gateway: ServedGateway,
) -> None:
    token = pg_gateway.token("interstack")
    with (
        neutron(pg_gateway, token) as api,
        neutron(pg_gateway, pg_gateway.token("interstack-admin")) as admin,
    ):
        network = created(api.post("/networks", json={"network": {"name": unique("n")}}), "network")
        # no DHCP: the /29's addresses and the project's port quota are all the test's ports'
        subnet = {
            "network_id": network["id"],
            "cidr": "10.63.0.0/29",
            "ip_version": 4,
            "enable_dhcp": False,
        }
        created(api.post("/subnets", json={"subnet": subnet}), "subnet")
        project = network["project_id"]
        assert admin.put(f"/quotas/{project}", json={"quota": {"port": 4}}).status_code == 200
        url, headers = str(api.base_url).rstrip("/") + "/ports", dict(api.headers)

        def create(_: int) -> httpx.Response:
            body = {"port": {"network_id": network["id"]}}
            return httpx.post(url, headers=headers, json=body, timeout=120)

        with concurrent.futures.ThreadPoolExecutor(max_workers=12) as pool:
            responses = list(pool.map(create, range(12)))
        ok = [r.json()["port"] for r in responses if r.status_code == 201]
        failed = [r for r in responses if r.status_code != 201]
        assert len(ok) == 4, [r.text for r in failed][:3]
        assert all(fault(r, 409)["type"] == "OverQuota" for r in failed)
        assert len({p["fixed_ips"][0]["ip_address"] for p in ok}) == 4
        assert admin.put(f"/quotas/{project}", json={"quota": {"port": 10}}).status_code == 200
        with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
            responses = list(pool.map(create, range(8)))
        more = [r.json()["port"] for r in responses if r.status_code == 201]
        addresses = {p["fixed_ips"][0]["ip_address"] for p in [*ok, *more]}
        assert len(more) == 1 and len(addresses) == 5  # a /29 holds five after its gateway
        assert all(
            fault(r, 409)["type"] == "IpAddressGenerationFailure"
            for r in responses
            if r.status_code != 201
        )


def test_concurrent_requests_leave_a_router_one_interface_a_subnet_and_one_gateway(
    pg_gateway: ServedGateway,
) -> None:
    """As on SQLite (tests/api/test_network_concurrency.py), in a project of the test's own."""
    with (
        neutron_of(pg_gateway, member_of(pg_gateway)) as api,
        neutron(pg_gateway, pg_gateway.token("interstack-admin")) as admin,
    ):
        one_interface_a_subnet(api)
        one_gateway_port(api, admin)
