"""External networks as Tempest's ``test_external_network_visibility`` reads them: the sim region
brings ``public`` at start-up (``external_network`` setting), subnets carry the read-only
``router:external`` of Neutron's ``subnet-external-network`` extension, and every project sees
external networks and their subnets but never another project's private ones."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.compute import cli_json
from tests.support.gateway import ServedGateway
from tests.support.identity import unique
from tests.support.network import REGION, created, fault, neutron

EXTERNAL_CIDR = "198.51.100.0/24"


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedGateway]:
    """A sim region configured with the external network an operator's cloud would bring."""
    region = {
        "name": REGION,
        "backend": "sim",
        "settings": {"external_network": {"name": "public", "cidr": EXTERNAL_CIDR}},
    }
    data = Path(tmp_path_factory.mktemp("extnet")) / "data"
    with ServedGateway(data, {"regions": [region]}) as served:
        yield served


@pytest.fixture(scope="module")
def admin(cloud: ServedGateway) -> Iterator[httpx.Client]:
    with neutron(cloud, cloud.token("interstack-admin")) as api:
        yield api


@pytest.fixture(scope="module")
def demo(cloud: ServedGateway) -> Iterator[httpx.Client]:
    with neutron(cloud, cloud.token("interstack")) as api:
        yield api


@pytest.fixture(scope="module")
def strangers_gateway(cloud: ServedGateway) -> ServedGateway:
    """tests/api's ``stranger``, a project of its own that owns nothing the tests look at, is
    made on this module's cloud."""
    return cloud


@pytest.fixture(scope="module")
def public(admin: httpx.Client) -> dict[str, Any]:
    (network,) = admin.get("/networks", params={"name": "public"}).json()["networks"]
    return dict(network)


def _private(api: httpx.Client, cidr: str) -> tuple[dict[str, Any], dict[str, Any]]:
    network = created(api.post("/networks", json={"network": {"name": unique("net")}}), "network")
    body = {"network_id": network["id"], "cidr": cidr, "ip_version": 4}
    return network, created(api.post("/subnets", json={"subnet": body}), "subnet")


def test_the_sim_region_brings_its_external_network(
    cloud: ServedGateway, admin: httpx.Client, public: dict[str, Any]
) -> None:
    assert public["router:external"] is True and public["shared"] is False
    (subnet,) = admin.get("/subnets", params={"network_id": public["id"]}).json()["subnets"]
    assert subnet["cidr"] == EXTERNAL_CIDR and subnet["enable_dhcp"] is False
    assert subnet["gateway_ip"] == "198.51.100.1"
    assert subnet["allocation_pools"] == [{"start": "198.51.100.2", "end": "198.51.100.254"}]
    # a restart finds it and makes no second one
    cloud.restart()
    with neutron(cloud, cloud.token("interstack-admin")) as again:
        found = again.get("/networks", params={"router:external": "true"}).json()["networks"]
    assert [n["id"] for n in found] == [public["id"]]


def test_extension_and_read_only_attribute(
    admin: httpx.Client, demo: httpx.Client, public: dict[str, Any]
) -> None:
    aliases = {e["alias"] for e in demo.get("/extensions").json()["extensions"]}
    assert {"external-net", "subnet-external-network"} <= aliases
    shown = demo.get("/extensions/subnet-external-network").json()["extension"]
    assert shown["alias"] == "subnet-external-network"

    _, mine = _private(demo, "10.81.0.0/24")
    assert mine["router:external"] is False
    (external,) = demo.get("/subnets", params={"network_id": public["id"]}).json()["subnets"]
    assert external["router:external"] is True
    only = demo.get(f"/subnets/{external['id']}", params={"fields": "router:external"})
    assert only.json() == {"subnet": {"router:external": True}}

    refused = demo.post(
        "/subnets",
        json={
            "subnet": {
                "network_id": mine["network_id"],
                "cidr": "10.81.1.0/24",
                "ip_version": 4,
                "router:external": True,
            }
        },
    )
    assert "router:external" in fault(refused, 400)["message"]
    left = demo.get("/subnets", params={"network_id": mine["network_id"]}).json()["subnets"]
    assert [s["id"] for s in left] == [mine["id"]]  # nothing was created
    for api, subnet_id in ((demo, mine["id"]), (admin, external["id"])):
        changed = api.put(f"/subnets/{subnet_id}", json={"subnet": {"router:external": False}})
        assert "read-only" in fault(changed, 400)["message"]
    assert demo.get(f"/subnets/{external['id']}").json()["subnet"]["router:external"] is True


def test_filter_follows_the_network_flag(admin: httpx.Client, demo: httpx.Client) -> None:
    network, subnet = _private(admin, "10.82.0.0/24")
    _, mine = _private(demo, "10.83.0.0/24")

    def external_ids(api: httpx.Client, value: str) -> set[str]:
        found = api.get("/subnets", params={"router:external": value}).json()["subnets"]
        assert all(s["router:external"] is (value == "true") for s in found), found
        return {s["id"] for s in found}

    assert subnet["id"] in external_ids(admin, "false")
    assert subnet["id"] not in external_ids(admin, "true")
    # the admin makes the network external: its subnet is external at once, and every project
    # sees it
    flagged = admin.put(f"/networks/{network['id']}", json={"network": {"router:external": True}})
    assert flagged.status_code == 200, flagged.text
    assert subnet["id"] in external_ids(admin, "true")
    assert subnet["id"] in external_ids(demo, "true")
    assert mine["id"] in external_ids(demo, "false")
    assert mine["id"] not in external_ids(demo, "true")
    bad = demo.get("/subnets", params={"router:external": "perhaps"})
    assert fault(bad, 400)["message"]


def test_visibility_as_tempest_checks_it(
    demo: httpx.Client, strangers_neutron: httpx.Client, public: dict[str, Any]
) -> None:
    """What ``NetworksTest.test_external_network_visibility`` asks of a non-admin project, and
    that another project's private network and subnet stay a 404."""
    theirs = strangers_neutron
    listed = theirs.get("/networks", params={"router:external": "true"}).json()["networks"]
    assert public["id"] in {n["id"] for n in listed}
    assert all(n["router:external"] for n in listed)
    subnets = theirs.get("/subnets", params={"network_id": public["id"]}).json()["subnets"]
    assert [s["cidr"] for s in subnets] == [EXTERNAL_CIDR]
    assert theirs.get(f"/subnets/{subnets[0]['id']}").status_code == 200

    network, subnet = _private(demo, "10.84.0.0/24")
    assert fault(theirs.get(f"/networks/{network['id']}"), 404)["type"] == "NetworkNotFound"
    assert fault(theirs.get(f"/subnets/{subnet['id']}"), 404)["type"] == "SubnetNotFound"
    seen = {s["id"] for s in theirs.get("/subnets").json()["subnets"]}
    assert subnet["id"] not in seen and subnets[0]["id"] in seen
    by_network = theirs.get("/subnets", params={"network_id": network["id"]})
    assert by_network.json()["subnets"] == []
    for value in ("true", "false"):
        filtered = theirs.get("/subnets", params={"router:external": value}).json()["subnets"]
        assert subnet["id"] not in {s["id"] for s in filtered}
    # seeing the external subnet is not owning it
    assert theirs.delete(f"/subnets/{subnets[0]['id']}").status_code == 403


def test_a_shared_networks_subnet_is_seen_by_every_project_and_changed_by_its_own(
    admin: httpx.Client, strangers_neutron: httpx.Client
) -> None:
    """Neutron's shared network: another project reads it and its subnet by id (200, not the
    404 of a private one) and may not delete either (403); an admin's unshare hides both."""
    theirs = strangers_neutron
    network = created(
        admin.post("/networks", json={"network": {"name": unique("net"), "shared": True}}),
        "network",
    )
    body = {"network_id": network["id"], "cidr": "10.85.0.0/24", "ip_version": 4}
    subnet = created(admin.post("/subnets", json={"subnet": body}), "subnet")
    assert theirs.get(f"/networks/{network['id']}").json()["network"]["shared"] is True
    seen = theirs.get(f"/subnets/{subnet['id']}")
    assert seen.status_code == 200 and seen.json()["subnet"]["cidr"] == "10.85.0.0/24"
    assert theirs.delete(f"/subnets/{subnet['id']}").status_code == 403
    assert theirs.delete(f"/networks/{network['id']}").status_code == 403
    unshared = admin.put(f"/networks/{network['id']}", json={"network": {"shared": False}})
    assert unshared.status_code == 200, unshared.text
    assert fault(theirs.get(f"/networks/{network['id']}"), 404)["type"] == "NetworkNotFound"
    assert fault(theirs.get(f"/subnets/{subnet['id']}"), 404)["type"] == "SubnetNotFound"
    assert fault(theirs.delete(f"/subnets/{subnet['id']}"), 404)["type"] == "SubnetNotFound"
    assert fault(theirs.delete(f"/networks/{network['id']}"), 404)["type"] == "NetworkNotFound"


def test_sdk_and_cli_see_the_external_subnet(cloud: ServedGateway, public: dict[str, Any]) -> None:
    conn = cloud.connect("interstack")
    assert conn.network.find_extension("subnet-external-network") is not None
    externals = {n.id: n.name for n in conn.network.networks(is_router_external=True)}
    assert externals[public["id"]] == "public"
    (subnet,) = conn.network.subnets(network_id=public["id"])
    assert subnet.cidr == EXTERNAL_CIDR
    # the SDK's Subnet has no router:external: read it through the SDK's own session
    flagged = conn.network.get("/subnets", params={"router:external": "true"}).json()
    assert subnet.id in {s["id"] for s in flagged["subnets"]}
    shown = cli_json(cloud, "interstack", "subnet", "list", "--network", "public")
    assert [s["ID"] for s in shown] == [subnet.id]
    # a floating IP from the network the region brought
    ip = conn.network.create_ip(floating_network_id=public["id"])
    assert ip.floating_ip_address.startswith("198.51.100.")
    conn.network.delete_ip(ip)
