"""A router's ports under concurrent requests, for the test on each database: each rush's
requests go at once, each on its own connection, and the router must come out as if they had
come one after the other."""

from __future__ import annotations

import concurrent.futures
from collections.abc import Sequence
from typing import Any

import httpx

from tests.support.identity import unique
from tests.support.network import created, external_network, fault


def _rush(api: httpx.Client, path: str, bodies: Sequence[dict[str, Any]]) -> list[httpx.Response]:
    url, headers = str(api.base_url).rstrip("/") + path, dict(api.headers)

    def put(body: dict[str, Any]) -> httpx.Response:
        return httpx.put(url, headers=headers, json=body, timeout=120)

    with concurrent.futures.ThreadPoolExecutor(max_workers=len(bodies)) as pool:
        return list(pool.map(put, bodies))


def _network(api: httpx.Client, cidr: str) -> str:
    network = created(api.post("/networks", json={"network": {"name": unique("n")}}), "network")
    body = {"network_id": network["id"], "cidr": cidr, "ip_version": 4, "enable_dhcp": False}
    created(api.post("/subnets", json={"subnet": body}), "subnet")
    return str(network["id"])


def one_interface_a_subnet(api: httpx.Client) -> str:
    """Eight ports of one subnet added to one router at once: one becomes its interface, the
    others are Neutron's 400 (a second interface on the subnet, which removing either would
    unroute for both); and eight overlapping subnets added by subnet at once: one alike. The
    router's id, holding the two interfaces."""
    network_id = _network(api, "10.63.0.0/24")
    ports = [
        created(api.post("/ports", json={"port": {"network_id": network_id}}), "port")["id"]
        for _ in range(8)
    ]
    overlapping = [_network(api, f"10.64.0.0/{24 + n % 4}") for n in range(8)]
    subnets = [
        api.get("/subnets", params={"network_id": n}).json()["subnets"][0]["id"]
        for n in overlapping
    ]
    router = created(api.post("/routers", json={"router": {"name": unique("r")}}), "router")
    path = f"/routers/{router['id']}/add_router_interface"
    for bodies in ([{"port_id": p} for p in ports], [{"subnet_id": s} for s in subnets]):
        responses = _rush(api, path, bodies)
        ok = [r for r in responses if r.status_code == 200]
        failed = [r for r in responses if r.status_code != 200]
        assert len(ok) == 1, [r.text for r in ok]
        assert all("Bad router request" in fault(r, 400)["message"] for r in failed)
    held = api.get("/ports", params={"device_id": router["id"]}).json()["ports"]
    assert len(held) == 2
    return str(router["id"])


def one_gateway_port(api: httpx.Client, admin: httpx.Client) -> None:
    """Eight settings of a router's gateway at once: each replaces the one before, none is
    added beside it (an external address held by a port the router shows, or not); set again
    with its own address, the address is kept; cleared, no port is left."""
    public = external_network(admin)
    router = created(api.post("/routers", json={"router": {"name": unique("r")}}), "router")
    path = f"/routers/{router['id']}"
    body = {"router": {"external_gateway_info": {"network_id": public["id"]}}}
    responses = _rush(api, path, [body] * 8)
    assert all(r.status_code == 200 for r in responses), [r.text for r in responses][:3]
    shown = api.get(path).json()["router"]
    (address,) = shown["external_gateway_info"]["external_fixed_ips"]
    ports = admin.get("/ports", params={"network_id": public["id"]}).json()["ports"]
    assert [p["fixed_ips"] for p in ports] == [[address]]
    again = {"network_id": public["id"], "external_fixed_ips": [address]}
    kept = api.put(path, json={"router": {"external_gateway_info": again}})
    assert kept.status_code == 200, kept.text
    assert kept.json()["router"]["external_gateway_info"]["external_fixed_ips"] == [address]
    cleared = api.put(path, json={"router": {"external_gateway_info": {}}})
    assert cleared.status_code == 200, cleared.text
    assert admin.get("/ports", params={"network_id": public["id"]}).json()["ports"] == []
    assert api.delete(path).status_code == 204
    assert admin.delete(f"/networks/{public['id']}").status_code == 204
