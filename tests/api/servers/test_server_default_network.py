"""A server created without ``networks`` before microversion 2.37 gets a port on the project's
only available network, as Nova does; several networks are Nova's 409, none boots without a
network. ``networks: auto`` (2.37+) picks the same way but refuses when there is none."""

from __future__ import annotations

import httpx

from tests.api.servers.conftest import IMAGE, new_network, nova, ports_of, wait_status
from tests.support.gateway import ServedGateway
from tests.support.identity import new_member, unique
from tests.support.network import neutron

AMBIGUOUS = "Multiple possible networks found, use a Network ID to be more specific."


def create(api: httpx.Client, **extra: object) -> httpx.Response:
    body = {"name": unique("default-net"), "flavorRef": "1", "imageRef": IMAGE, **extra}
    return api.post("/servers", json={"server": body})


def test_the_projects_only_network_then_several(
    compute_gateway: ServedGateway, admin_http: httpx.Client
) -> None:
    member = new_member(admin_http)
    token = member.token(compute_gateway)
    with (
        nova(compute_gateway, token, "2.36") as old,
        nova(compute_gateway, token, "2.37") as new,
        neutron(compute_gateway, token) as net,
    ):
        # no network: boots without one before 2.37; "auto" cannot choose one
        alone = create(old)
        assert alone.status_code == 202, alone.text
        server = wait_status(old, alone.json()["server"]["id"], "ACTIVE")
        assert server["addresses"] == {}
        assert ports_of(net, server["id"]) == []
        refused = create(new, networks="auto")
        assert refused.status_code == 400
        assert "Unable to automatically allocate" in refused.json()["badRequest"]["message"]

        # exactly one: the server gets a port on it, with or without "auto"
        only = new_network(net, "10.61.0.0/24")
        for api, extra in ((old, {}), (new, {"networks": "auto"})):
            answer = create(api, **extra)
            assert answer.status_code == 202, answer.text
            server = wait_status(api, answer.json()["server"]["id"], "ACTIVE")
            (port,) = ports_of(net, server["id"])
            assert port["network_id"] == only["id"]
            (address,) = server["addresses"][only["name"]]
            assert address["addr"] == port["fixed_ips"][0]["ip_address"]

        # several: Nova's 409, and nothing is created
        new_network(net, "10.62.0.0/24")
        before = {s["id"] for s in old.get("/servers").json()["servers"]}
        for api, extra in ((old, {}), (new, {"networks": "auto"})):
            ambiguous = create(api, **extra)
            assert ambiguous.status_code == 409, ambiguous.text
            assert ambiguous.json()["conflictingRequest"]["message"] == AMBIGUOUS
        assert {s["id"] for s in old.get("/servers").json()["servers"]} <= before  # none new
        assert create(new).status_code == 400  # 2.37+ needs networks
