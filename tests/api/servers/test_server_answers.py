"""What Nova's update, rebuild and create answers carry at each microversion, down to the fields
that Tempest's response schemas refuse when they are there too early."""

from __future__ import annotations

from typing import Any

import httpx

from tests.api.servers.conftest import OTHER_IMAGE, boot_active, nova, wait_status
from tests.support.gateway import ServedGateway
from tests.support.identity import Member, unique
from tests.support.network import created, neutron

#: what only GET shows before 2.75
GET_ONLY = {
    "OS-EXT-AZ:availability_zone",
    "config_drive",
    "key_name",
    "OS-SRV-USG:launched_at",
    "OS-EXT-STS:vm_state",
    "os-extended-volumes:volumes_attached",
    "security_groups",
}


def _address_keys(server: dict[str, Any]) -> set[str]:
    return {key for listed in server["addresses"].values() for a in listed for key in a}


def test_update_and_rebuild_answer_without_get_only_fields_before_275(
    compute_gateway: ServedGateway, member: Member, api: httpx.Client
) -> None:
    token = member.token(compute_gateway)
    with neutron(compute_gateway, token) as net_api:
        network = created(
            net_api.post("/networks", json={"network": {"name": unique("net")}}), "network"
        )
        subnet = {"network_id": network["id"], "cidr": "10.30.0.0/24", "ip_version": 4}
        created(net_api.post("/subnets", json={"subnet": subnet}), "subnet")
    server = boot_active(api, "answered", networks=[{"uuid": network["id"]}])
    assert _address_keys(server) > {"version", "addr"}
    with nova(compute_gateway, token, "2.1") as old:
        updated = old.put(f"/servers/{server['id']}", json={"server": {"name": "renamed"}})
        assert updated.status_code == 200, updated.text
        body = updated.json()["server"]
        assert body["name"] == "renamed"
        assert not GET_ONLY & set(body), sorted(GET_ONLY & set(body))
        assert _address_keys(body) <= {"version", "addr"}
        shown = old.get(f"/servers/{server['id']}").json()["server"]
        assert GET_ONLY <= set(shown)

        rebuilt = old.post(
            f"/servers/{server['id']}/action", json={"rebuild": {"imageRef": OTHER_IMAGE}}
        )
        assert rebuilt.status_code == 202, rebuilt.text
        body = rebuilt.json()["server"]
        assert body["adminPass"]
        assert not GET_ONLY & set(body), sorted(GET_ONLY & set(body))
    wait_status(api, server["id"], "ACTIVE")
    with nova(compute_gateway, token, "2.75") as new:
        updated = new.put(f"/servers/{server['id']}", json={"server": {"name": "again"}})
        assert updated.status_code == 200, updated.text
        assert GET_ONLY <= set(updated.json()["server"])
    assert api.delete(f"/servers/{server['id']}").status_code == 204
