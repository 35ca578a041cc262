"""Quota usage counts booted servers (instances, cores, RAM), as openstacksdk and the CLI read
it, and a server over the quota is Nova's 403 fault that leaves nothing behind."""

from __future__ import annotations

import json

import httpx

from tests.api.servers.conftest import (
    IMAGE,
    REGION,
    boot_active,
    create_at_once,
    nova,
    wait_gone,
)
from tests.support.gateway import ServedGateway
from tests.support.identity import new_member, unique

#: m1.tiny and m1.small: (vcpus, RAM MB)
TINY, SMALL = (1, 512), (1, 2048)


def test_usage_counts_servers_and_the_quota_holds(
    compute_gateway: ServedGateway, admin_http: httpx.Client, admin_api: httpx.Client
) -> None:
    member = new_member(admin_http)
    project = member.project_id
    limits = {"instances": 3, "cores": 3, "ram": 512 * 2 + 2048}
    assert admin_api.put(f"/os-quota-sets/{project}", json={"quota_set": limits}).status_code == 200

    with nova(compute_gateway, member.token(compute_gateway)) as api:
        servers = [boot_active(api, unique("q"), flavorRef="1")["id"] for _ in range(2)]
        servers.append(boot_active(api, unique("q"), flavorRef="2")["id"])

        conn = compute_gateway.connect("interstack-admin")
        try:
            quota = conn.compute.get_quota_set(project, usage=True)
            assert quota.usage["instances"] == 3
            assert quota.usage["cores"] == 2 * TINY[0] + SMALL[0]
            assert quota.usage["ram"] == 2 * TINY[1] + SMALL[1]
            assert (quota.instances, quota.cores, quota.ram) == (3, 3, limits["ram"])
        finally:
            conn.close()
        shown = compute_gateway.cli(
            "interstack-admin",
            "quota",
            "show",
            "--compute",
            "--usage",
            "--os-region-name",
            REGION,
            project,
            "-f",
            "json",
        )
        rows = {row["Resource"]: row for row in json.loads(shown.stdout)}
        assert (rows["instances"]["In Use"], rows["instances"]["Limit"]) == (3, 3)
        assert rows["cores"]["In Use"] == 3
        assert rows["ram"]["In Use"] == limits["ram"]

        before = {s["id"] for s in api.get("/servers").json()["servers"]}
        body = {"name": unique("over"), "flavorRef": "1", "imageRef": IMAGE, "networks": "none"}
        over = api.post("/servers", json={"server": body})
        assert over.status_code == 403, over.text
        fault = over.json()["forbidden"]
        assert fault["code"] == 403
        assert fault["message"].startswith("Quota exceeded for instances, cores, ram:")
        assert {s["id"] for s in api.get("/servers").json()["servers"]} <= before  # none new

        # deleting a server frees its share: the next boot fits again
        small = servers.pop()
        assert api.delete(f"/servers/{small}").status_code == 204
        wait_gone(api, small)
        detail = api.get(f"/os-quota-sets/{project}/detail").json()["quota_set"]
        assert detail["instances"]["in_use"] == 2
        assert detail["ram"]["in_use"] == 2 * TINY[1]
        servers.append(boot_active(api, unique("q"), flavorRef="1")["id"])
        for sid in servers:
            assert api.delete(f"/servers/{sid}").status_code == 204


def test_concurrent_creates_pass_the_quota_no_further(
    compute_gateway: ServedGateway, admin_http: httpx.Client, admin_api: httpx.Client
) -> None:
    """Creates that come at once (Tempest's workers, a script's threads) are counted with the
    servers of every create before them: as many as the quota holds are made, the others get
    Nova's 403 (each create counted before it added its servers, so all could pass: 12 of 10)."""
    member = new_member(admin_http)
    project = member.project_id
    quota = {"quota_set": {"instances": 3}}
    assert admin_api.put(f"/os-quota-sets/{project}", json=quota).status_code == 200

    with nova(compute_gateway, member.token(compute_gateway)) as api:
        responses = create_at_once(api, 10)
        codes = sorted(r.status_code for r in responses)
        assert codes == [202] * 3 + [403] * 7, [r.text for r in responses]
        refused = [r.json()["forbidden"]["message"] for r in responses if r.status_code == 403]
        assert all(m.startswith("Quota exceeded for instances:") for m in refused), refused
        servers = api.get("/servers").json()["servers"]
        assert len(servers) == 3
        for server in servers:
            assert api.delete(f"/servers/{server['id']}").status_code == 204
