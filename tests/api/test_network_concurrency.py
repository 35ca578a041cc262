"""IP allocation and quotas under concurrent port creates, in pools large enough to be probed;
a router's interfaces under concurrent adds."""

from __future__ import annotations

import concurrent.futures
import ipaddress
from collections.abc import Iterator

import httpx
import pytest

from tests.support.gateway import ServedGateway
from tests.support.identity import Member, member_of, unique
from tests.support.network import created, fault, neutron_of, routed_subnets
from tests.support.router_rush import one_gateway_port, one_interface_a_subnet


@pytest.fixture(scope="module")
def member(gateway: ServedGateway) -> Member:
    """A project of the module's own, so that its port count and quota are known."""
    return member_of(gateway)


@pytest.fixture(scope="module")
def own(gateway: ServedGateway, member: Member) -> Iterator[httpx.Client]:
    with neutron_of(gateway, member) as api:
        yield api


def _network(api: httpx.Client, cidr: str, pool: tuple[str, str] | None = None) -> str:
    """A network whose subnet's addresses are all for the test's ports (no DHCP port)."""
    network = created(api.post("/networks", json={"network": {"name": unique("n")}}), "network")
    subnet: dict[str, object] = {
        "network_id": network["id"],
        "cidr": cidr,
        "ip_version": 4,
        "enable_dhcp": False,
    }
    if pool is not None:
        subnet["allocation_pools"] = [{"start": pool[0], "end": pool[1]}]
    created(api.post("/subnets", json={"subnet": subnet}), "subnet")
    return str(network["id"])


def _rush(api: httpx.Client, network_id: str, count: int) -> list[httpx.Response]:
    """``count`` port creates on ``network_id``, 16 at a time, each on its own connection."""
    url, headers = str(api.base_url).rstrip("/") + "/ports", dict(api.headers)

    def create(_: int) -> httpx.Response:
        return httpx.post(
            url, headers=headers, json={"port": {"network_id": network_id}}, timeout=120
        )

    with concurrent.futures.ThreadPoolExecutor(max_workers=16) as pool:
        return list(pool.map(create, range(count)))


def test_a_pool_too_large_to_list_is_shared_out_and_exhausted_exactly(own: httpx.Client) -> None:
    """70 addresses are chosen by random probes until few are left: 80 concurrent creates (the
    project's default group made by the first of them) get 70 distinct addresses and ten 409s."""
    network_id = _network(own, "10.61.0.0/24", ("10.61.0.10", "10.61.0.79"))
    responses = _rush(own, network_id, 80)
    ok = [r.json()["port"] for r in responses if r.status_code == 201]
    failed = [r for r in responses if r.status_code != 201]
    addresses = [p["fixed_ips"][0]["ip_address"] for p in ok]
    assert len(ok) == 70, [r.text for r in failed][:3]
    assert sorted(addresses, key=ipaddress.ip_address) == [f"10.61.0.{n}" for n in range(10, 80)]
    assert all(fault(r, 409)["type"] == "IpAddressGenerationFailure" for r in failed)
    groups = {tuple(p["security_groups"]) for p in ok}
    assert len(groups) == 1 and len(next(iter(groups))) == 1  # one default group for all
    listed = own.get("/ports", params={"network_id": network_id}).json()["ports"]
    assert len(listed) == 70


def test_concurrent_creates_never_pass_the_port_quota(
    own: httpx.Client, neutron_admin: httpx.Client, member: Member
) -> None:
    used = len(own.get("/ports").json()["ports"])
    network_id = _network(own, "10.62.0.0/22")
    quota = {"quota": {"port": used + 4}}
    assert neutron_admin.put(f"/quotas/{member.project_id}", json=quota).status_code == 200
    try:
        responses = _rush(own, network_id, 12)
    finally:
        assert neutron_admin.delete(f"/quotas/{member.project_id}").status_code == 204
    ok = [r for r in responses if r.status_code == 201]
    failed = [r for r in responses if r.status_code != 201]
    assert len(ok) == 4, [r.text for r in failed][:3]
    assert all(fault(r, 409)["type"] == "OverQuota" for r in failed)
    addresses = {r.json()["port"]["fixed_ips"][0]["ip_address"] for r in ok}
    assert len(addresses) == 4
    assert len(own.get("/ports", params={"network_id": network_id}).json()["ports"]) == 4


def test_concurrent_adds_give_a_router_one_interface_on_a_subnet(
    gateway: ServedGateway, own: httpx.Client
) -> None:
    router_id = one_interface_a_subnet(own)
    assert len(routed_subnets(gateway, router_id)) == 2


def test_concurrent_gateway_settings_leave_a_router_one_gateway_port(
    own: httpx.Client, neutron_admin: httpx.Client
) -> None:
    one_gateway_port(own, neutron_admin)
