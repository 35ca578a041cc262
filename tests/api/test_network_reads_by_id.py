"""A network resource read by id for a change or a show (networks, subnets, ports, routers,
floating IPs, security groups and their rules, subnet pools) is read by statements built once
for every caller, the caller's project bound at each read: one project's read never lets the
next caller see what it saw. Two projects and the admin take turns on the same resources of
the same gateway; each sees its own (and the shared ones), never the other's: 404, as
Neutron answers, not 403."""

from __future__ import annotations

from typing import Any

import httpx

from tests.support.gateway import ServedGateway
from tests.support.identity import member_of, unique
from tests.support.network import created, external_network, fault, neutron, neutron_of


def _resources(api: httpx.Client, public_id: str, n: int) -> dict[str, str]:
    """A project's own network, subnet, port, router, floating IP, group, rule and pool: the
    path of each, by id."""
    net = created(api.post("/networks", json={"network": {"name": unique("own")}}), "network")
    subnet = {"network_id": net["id"], "cidr": f"10.{n}.0.0/24", "ip_version": 4}
    subnet_id = created(api.post("/subnets", json={"subnet": subnet}), "subnet")["id"]
    port_id = created(api.post("/ports", json={"port": {"network_id": net["id"]}}), "port")["id"]
    router = {"router": {"name": unique("own")}}
    router_id = created(api.post("/routers", json=router), "router")["id"]
    fip = {"floatingip": {"floating_network_id": public_id}}
    fip_id = created(api.post("/floatingips", json=fip), "floatingip")["id"]
    group = {"security_group": {"name": unique("own")}}
    group_id = created(api.post("/security-groups", json=group), "security_group")["id"]
    rule = {"security_group_rule": {"security_group_id": group_id, "direction": "ingress"}}
    rule_id = created(api.post("/security-group-rules", json=rule), "security_group_rule")["id"]
    pool = {"subnetpool": {"name": unique("own"), "prefixes": [f"172.{n - 215}.0.0/16"]}}
    pool_id = created(api.post("/subnetpools", json=pool), "subnetpool")["id"]
    return {
        "network": f"/networks/{net['id']}",
        "subnet": f"/subnets/{subnet_id}",
        "port": f"/ports/{port_id}",
        "router": f"/routers/{router_id}",
        "floatingip": f"/floatingips/{fip_id}",
        "security_group": f"/security-groups/{group_id}",
        "security_group_rule": f"/security-group-rules/{rule_id}",
        "subnetpool": f"/subnetpools/{pool_id}",
    }


def _change(api: httpx.Client, kind: str, path: str) -> httpx.Response:
    """A change of the resource (a rule has none: its show), read by id before it is made."""
    if kind == "security_group_rule":
        return api.get(path)
    body: dict[str, Any] = {"description": "changed"}
    if kind == "floatingip":
        body = {"port_id": None}
    return api.put(path, json={kind: body})


def test_a_read_by_id_binds_its_callers_project_on_every_read(
    gateway: ServedGateway, admin_token: str
) -> None:
    with (
        neutron(gateway, admin_token) as admin,
        neutron_of(gateway, member_of(gateway)) as one,
        neutron_of(gateway, member_of(gateway)) as other,
    ):
        public = external_network(admin)
        shared = created(
            admin.post("/networks", json={"network": {"name": unique("shared"), "shared": True}}),
            "network",
        )
        subnet = {"network_id": shared["id"], "cidr": "10.230.0.0/24", "ip_version": 4}
        shared_subnet = created(admin.post("/subnets", json={"subnet": subnet}), "subnet")
        ones, others = _resources(one, public["id"], 231), _resources(other, public["id"], 232)

        for kind in ones:
            # turns: the owner, the other project, the owner again, the admin, the other
            # project on its own, on the same statements
            for api, mine, theirs in ((one, ones, others), (other, others, ones)):
                assert _change(api, kind, mine[kind]).status_code == 200, kind
                assert fault(_change(api, kind, theirs[kind]), 404)["type"].endswith("NotFound"), (
                    kind
                )
                assert fault(api.delete(theirs[kind]), 404), kind
            assert _change(admin, kind, ones[kind]).status_code == 200, kind
            assert fault(_change(other, kind, ones[kind]), 404), kind

        # shared: seen by every project, changed by none but its own
        for api in (one, other):
            for path, kind in (
                (f"/networks/{shared['id']}", "network"),
                (f"/subnets/{shared_subnet['id']}", "subnet"),
            ):
                assert api.get(path).status_code == 200, path
                fault(api.put(path, json={kind: {"name": "mine"}}), 403)
            # a subnet's create reads its network as the caller sees it: on a shared network
            # of another project refused (403), on another project's own network not found
            on_shared = {"network_id": shared["id"], "cidr": "10.233.0.0/24", "ip_version": 4}
            fault(api.post("/subnets", json={"subnet": on_shared}), 403)
        their_network = ones["network"].rsplit("/", 1)[1]
        on_theirs = {"network_id": their_network, "cidr": "10.234.0.0/24", "ip_version": 4}
        assert fault(other.post("/subnets", json={"subnet": on_theirs}), 404)["type"] == (
            "NetworkNotFound"
        )
        for kind, path in ones.items():  # and the owner's are all still there, unchanged
            shown = one.get(path)
            assert shown.status_code == 200, (kind, shown.text)
