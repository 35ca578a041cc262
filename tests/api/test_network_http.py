"""Neutron v2.0 over raw HTTP: discovery, the fault format, validation, listing and IPAM rules."""

from __future__ import annotations

import concurrent.futures
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.gateway import ServedGateway
from tests.support.identity import member_of, unique
from tests.support.network import REGION, created, fault, neutron, neutron_of


@pytest.fixture(scope="module")
def api(gateway: ServedGateway, demo_token: str) -> Iterator[httpx.Client]:
    with neutron(gateway, demo_token) as client:
        yield client


@pytest.fixture(scope="module")
def admin_api(gateway: ServedGateway, admin_token: str) -> Iterator[httpx.Client]:
    with neutron(gateway, admin_token) as client:
        yield client


def _network(api: httpx.Client, **extra: object) -> dict[str, Any]:
    return created(
        api.post("/networks", json={"network": {"name": unique("net"), **extra}}), "network"
    )


def _subnet(api: httpx.Client, network_id: object, cidr: str, **extra: object) -> dict[str, Any]:
    body = {"network_id": network_id, "cidr": cidr, "ip_version": 4, **extra}
    return created(api.post("/subnets", json={"subnet": body}), "subnet")


def test_version_discovery_and_catalog(gateway: ServedGateway, demo_token: str) -> None:
    root = httpx.get(f"{gateway.url}/{REGION}/network/", timeout=30)
    assert root.status_code == 200
    (version,) = root.json()["versions"]
    assert version["id"] == "v2.0" and version["status"] == "CURRENT"
    assert version["links"][0]["href"] == f"{gateway.url}/{REGION}/network/v2.0/"
    resources = httpx.get(version["links"][0]["href"], timeout=30).json()["resources"]
    assert {"networks", "subnets", "ports", "routers", "floatingips"} <= {
        r["collection"] for r in resources
    }
    catalog = httpx.get(
        f"{gateway.url}/v3/auth/catalog", headers={"X-Auth-Token": demo_token}, timeout=30
    ).json()["catalog"]
    (network,) = [s for s in catalog if s["type"] == "network"]
    assert {e["url"] for e in network["endpoints"]} == {f"{gateway.url}/{REGION}/network"}


def test_extensions_list_what_is_implemented(api: httpx.Client) -> None:
    aliases = {e["alias"] for e in api.get("/extensions").json()["extensions"]}
    assert {
        "security-group", "router", "extraroute", "external-net", "subnet_allocation",
        "net-mtu", "quotas", "standard-attr-tag", "allowed-address-pairs", "port-security",
    } <= aliases  # fmt: skip
    # nothing that is not served
    assert not aliases & {"dvr", "l3-ha", "qos", "trunk", "dns-integration", "agent"}
    assert api.get("/extensions/router").json()["extension"]["alias"] == "router"
    assert fault(api.get("/extensions/qos"), 404)["type"] == "ExtensionNotFound"


def test_fault_format_for_unknown_things(api: httpx.Client) -> None:
    missing = fault(api.get(f"/networks/{uuid.uuid4()}"), 404)
    assert missing["type"] == "NetworkNotFound" and missing["detail"] == ""
    assert fault(api.get("/no-such-collection"), 404)["type"] == "HTTPNotFound"
    assert fault(api.delete(f"/ports/{uuid.uuid4()}"), 404)["type"] == "PortNotFound"
    unauthenticated = httpx.get(str(api.base_url).rstrip("/") + "/networks", timeout=30)
    assert unauthenticated.status_code == 401
    assert "NeutronError" in unauthenticated.json()


def test_bad_input_is_400(api: httpx.Client) -> None:
    net = _network(api)
    bad_cidr = api.post(
        "/subnets",
        json={"subnet": {"network_id": net["id"], "cidr": "10.0.0.300/24", "ip_version": 4}},
    )
    assert "cidr" in fault(bad_cidr, 400)["message"]
    host_bits = api.post(
        "/subnets",
        json={"subnet": {"network_id": net["id"], "cidr": "10.1.0.5/24", "ip_version": 4}},
    )
    assert "10.1.0.0/24" in fault(host_bits, 400)["message"]
    wrong_version = api.post(
        "/subnets", json={"subnet": {"network_id": net["id"], "cidr": "fd00::/64", "ip_version": 4}}
    )
    fault(wrong_version, 400)
    assert "mtu" in fault(api.post("/networks", json={"network": {"mtu": 20}}), 400)["message"]
    fault(api.post("/networks", json={"network": {"name": "x" * 256}}), 400)
    fault(api.post("/networks", json={"network": {"unknown_attribute": 1}}), 400)
    fault(api.post("/networks", json={"net": {}}), 400)
    fault(
        api.post("/networks", content=b"{not json", headers={"Content-Type": "application/json"}),
        400,
    )


def test_overlapping_subnets_refused_on_one_network(api: httpx.Client) -> None:
    net = _network(api)
    _subnet(api, net["id"], "10.20.0.0/16")
    overlap = api.post(
        "/subnets",
        json={"subnet": {"network_id": net["id"], "cidr": "10.20.5.0/24", "ip_version": 4}},
    )
    assert "overlaps" in fault(overlap, 400)["message"]
    # the same range on another network is fine
    _subnet(api, _network(api)["id"], "10.20.5.0/24")


def test_subnet_attributes_ipv4_and_ipv6(api: httpx.Client) -> None:
    net = _network(api)
    v4 = _subnet(
        api,
        net["id"],
        "192.168.50.0/24",
        gateway_ip="192.168.50.254",
        allocation_pools=[{"start": "192.168.50.10", "end": "192.168.50.20"}],
        dns_nameservers=["8.8.8.8", "1.1.1.1"],
        host_routes=[{"destination": "10.99.0.0/16", "nexthop": "192.168.50.1"}],
        enable_dhcp=False,
    )
    assert v4["gateway_ip"] == "192.168.50.254"
    assert v4["allocation_pools"] == [{"start": "192.168.50.10", "end": "192.168.50.20"}]
    assert v4["dns_nameservers"] == ["8.8.8.8", "1.1.1.1"]
    assert v4["host_routes"] == [{"destination": "10.99.0.0/16", "nexthop": "192.168.50.1"}]
    assert v4["enable_dhcp"] is False
    v6 = created(
        api.post(
            "/subnets",
            json={
                "subnet": {
                    "network_id": net["id"],
                    "cidr": "fd00:1234::/64",
                    "ip_version": 6,
                    "ipv6_ra_mode": "slaac",
                    "ipv6_address_mode": "slaac",
                }
            },
        ),
        "subnet",
    )
    assert v6["gateway_ip"] == "fd00:1234::1" and v6["ipv6_address_mode"] == "slaac"
    no_gateway = _subnet(api, _network(api)["id"], "172.30.0.0/24", gateway_ip=None)
    assert no_gateway["gateway_ip"] is None
    assert no_gateway["allocation_pools"] == [{"start": "172.30.0.1", "end": "172.30.0.254"}]
    conflict = api.post(
        "/subnets",
        json={
            "subnet": {
                "network_id": _network(api)["id"],
                "cidr": "172.31.0.0/24",
                "ip_version": 4,
                "gateway_ip": "172.31.0.5",
                "allocation_pools": [{"start": "172.31.0.2", "end": "172.31.0.9"}],
            }
        },
    )
    assert fault(conflict, 409)["type"] == "GatewayConflictWithAllocationPools"
    shown = api.get(f"/networks/{net['id']}").json()["network"]
    assert set(shown["subnets"]) == {v4["id"], v6["id"]}


def test_network_attributes_and_admin_only_flags(
    api: httpx.Client, admin_api: httpx.Client
) -> None:
    net = _network(api, mtu=1400, port_security_enabled=False, admin_state_up=False)
    assert net["mtu"] == 1400 and net["port_security_enabled"] is False
    assert net["admin_state_up"] is False and net["router:external"] is False
    assert fault(api.post("/networks", json={"network": {"shared": True}}), 403)
    shared = _network(admin_api, shared=True)
    assert shared["shared"] is True
    updated = api.put(f"/networks/{net['id']}", json={"network": {"name": "renamed", "mtu": 1450}})
    assert updated.status_code == 200 and updated.json()["network"]["mtu"] == 1450
    assert api.delete(f"/networks/{net['id']}").status_code == 204
    fault(api.get(f"/networks/{net['id']}"), 404)


def test_on_another_projects_shared_network_only_an_admin_unlocks_a_ports_addresses(
    api: httpx.Client, admin_api: httpx.Client
) -> None:
    """Neutron's admin_or_network_owner policy on allowed_address_pairs and
    port_security_enabled: either would let a port on a shared network send as another
    project's port there."""
    shared = _network(admin_api, shared=True)
    _subnet(admin_api, shared["id"], "10.46.0.0/24")
    on_shared = {"network_id": shared["id"]}
    pairs = {"allowed_address_pairs": [{"ip_address": "10.46.0.0/24"}]}
    for extra in (pairs, {"port_security_enabled": False}):
        refused = api.post("/ports", json={"port": {**on_shared, **extra}})
        assert "disallowed by policy" in fault(refused, 403)["message"]
    port = created(api.post("/ports", json={"port": on_shared}), "port")
    for extra in (pairs, {"port_security_enabled": False}):
        refused = api.put(f"/ports/{port['id']}", json={"port": extra})
        assert "disallowed by policy" in fault(refused, 403)["message"]
    assert api.put(f"/ports/{port['id']}", json={"port": {"name": "mine"}}).status_code == 200
    assert admin_api.put(f"/ports/{port['id']}", json={"port": pairs}).status_code == 200
    # on its own network a project sets both
    own = _network(api)
    _subnet(api, own["id"], "10.47.0.0/24")
    created(api.post("/ports", json={"port": {"network_id": own["id"], **pairs}}), "port")
    unguarded = {"network_id": own["id"], "port_security_enabled": False}
    created(api.post("/ports", json={"port": unguarded}), "port")
    assert api.delete(f"/ports/{port['id']}").status_code == 204


def test_ports_fixed_ips_mac_pairs_and_in_use(api: httpx.Client) -> None:
    net = _network(api)
    # IPAM chooses the DHCP port's address at random: .77 is outside the pool, so it never does
    first = _subnet(
        api,
        net["id"],
        "10.40.0.0/24",
        allocation_pools=[{"start": "10.40.0.2", "end": "10.40.0.50"}],
    )
    second = _subnet(api, net["id"], "10.41.0.0/24")
    port = created(
        api.post(
            "/ports",
            json={
                "port": {
                    "network_id": net["id"],
                    "mac_address": "fa:16:3e:00:00:01",
                    "fixed_ips": [
                        {"subnet_id": second["id"]},
                        {"ip_address": "10.40.0.77"},
                    ],
                    "device_owner": "compute:nova",
                    "device_id": "server-1",
                    "allowed_address_pairs": [{"ip_address": "10.40.0.200"}],
                }
            },
        ),
        "port",
    )
    assert port["mac_address"] == "fa:16:3e:00:00:01"
    assert port["fixed_ips"][1] == {"subnet_id": first["id"], "ip_address": "10.40.0.77"}
    assert port["fixed_ips"][0]["subnet_id"] == second["id"]
    assert port["allowed_address_pairs"] == [
        {"ip_address": "10.40.0.200", "mac_address": "fa:16:3e:00:00:01"}
    ]
    assert port["device_owner"] == "compute:nova" and port["device_id"] == "server-1"
    assert len(port["security_groups"]) == 1  # the project's default group
    taken = api.post(
        "/ports",
        json={"port": {"network_id": net["id"], "fixed_ips": [{"ip_address": "10.40.0.77"}]}},
    )
    assert fault(taken, 409)["type"] == "IpAddressAlreadyAllocated"
    same_mac = api.post(
        "/ports", json={"port": {"network_id": net["id"], "mac_address": "fa:16:3e:00:00:01"}}
    )
    assert fault(same_mac, 409)["type"] == "MacAddressInUse"
    outside = api.post(
        "/ports",
        json={"port": {"network_id": net["id"], "fixed_ips": [{"ip_address": "192.0.2.1"}]}},
    )
    fault(outside, 400)
    in_use = fault(api.delete(f"/networks/{net['id']}"), 409)
    assert in_use["type"] == "NetworkInUse"
    assert fault(api.delete(f"/subnets/{first['id']}"), 409)["type"] == "SubnetInUse"
    assert api.delete(f"/ports/{port['id']}").status_code == 204
    assert api.delete(f"/networks/{net['id']}").status_code == 204


def test_bulk_port_create_is_all_or_nothing(api: httpx.Client) -> None:
    net = _network(api)
    _subnet(api, net["id"], "10.50.0.0/24")
    many = api.post(
        "/ports",
        json={"ports": [{"network_id": net["id"], "name": f"bulk-{i}"} for i in range(3)]},
    )
    assert many.status_code == 201, many.text
    assert [p["name"] for p in many.json()["ports"]] == ["bulk-0", "bulk-1", "bulk-2"]
    failing = api.post(
        "/ports",
        json={
            "ports": [
                {"network_id": net["id"], "name": "ok"},
                {"network_id": net["id"], "fixed_ips": [{"ip_address": "10.99.0.1"}]},
            ]
        },
    )
    fault(failing, 400)
    listed = api.get("/ports", params={"network_id": net["id"]}).json()["ports"]
    names = [p["name"] for p in listed if p["device_owner"] != "network:dhcp"]
    assert sorted(names) == ["bulk-0", "bulk-1", "bulk-2"]


def test_fields_sorting_paging_and_filters(api: httpx.Client) -> None:
    tag = unique("batch")
    ids = []
    for name in ("c", "a", "b", "d"):
        net = _network(api, name=f"{tag}-{name}", description=tag)
        ids.append(net["id"])
    listed = api.get(
        "/networks",
        params={
            "description": tag,
            "sort_key": "name",
            "sort_dir": "desc",
            "fields": ["id", "name"],
        },
    ).json()["networks"]
    assert [n["name"] for n in listed] == [f"{tag}-{x}" for x in "dcba"]
    assert all(set(n) == {"id", "name"} for n in listed)
    first = api.get("/networks", params={"description": tag, "sort_key": "name", "limit": 3}).json()
    assert [n["name"] for n in first["networks"]] == [f"{tag}-{x}" for x in "abc"]
    (link,) = [link for link in first["networks_links"] if link["rel"] == "next"]
    rest = httpx.get(link["href"], headers=api.headers, timeout=30).json()
    assert [n["name"] for n in rest["networks"]] == [f"{tag}-d"]
    by_name = api.get("/networks", params={"name": [f"{tag}-a", f"{tag}-b"]}).json()["networks"]
    assert {n["name"] for n in by_name} == {f"{tag}-a", f"{tag}-b"}
    shown = api.get(f"/networks/{ids[0]}", params={"fields": "mtu"}).json()["network"]
    assert shown == {"mtu": 1500}
    fault(api.get("/networks", params={"sort_key": "nonsense"}), 400)


def test_tags_sub_resource_and_tag_filters(api: httpx.Client) -> None:
    net = _network(api)
    put = api.put(f"/networks/{net['id']}/tags", json={"tags": ["red", "blue"]})
    assert put.status_code == 200 and sorted(put.json()["tags"]) == ["blue", "red"]
    assert api.put(f"/networks/{net['id']}/tags/green").status_code == 201
    assert api.get(f"/networks/{net['id']}/tags/green").status_code == 204
    fault(api.get(f"/networks/{net['id']}/tags/black"), 404)
    assert api.delete(f"/networks/{net['id']}/tags/red").status_code == 204
    assert sorted(api.get(f"/networks/{net['id']}/tags").json()["tags"]) == ["blue", "green"]
    found = api.get("/networks", params={"tags": "blue,green"}).json()["networks"]
    assert [n["id"] for n in found] == [net["id"]]
    assert net["id"] not in {
        n["id"] for n in api.get("/networks", params={"not-tags-any": "blue"}).json()["networks"]
    }
    assert api.delete(f"/networks/{net['id']}/tags").status_code == 204
    assert api.get(f"/networks/{net['id']}").json()["network"]["tags"] == []


def test_quotas_show_update_and_enforce(
    gateway: ServedGateway, api: httpx.Client, admin_api: httpx.Client
) -> None:
    member = member_of(gateway)
    with neutron_of(gateway, member) as own:
        quota = own.get(f"/quotas/{member.project_id}").json()["quota"]
        assert quota["network"] == 100 and quota["port"] == 500
        fault(own.put(f"/quotas/{member.project_id}", json={"quota": {"network": 1}}), 403)
        changed = admin_api.put(f"/quotas/{member.project_id}", json={"quota": {"network": 1}})
        assert changed.status_code == 200 and changed.json()["quota"]["network"] == 1
        created(own.post("/networks", json={"network": {"name": "only"}}), "network")
        assert fault(own.post("/networks", json={"network": {}}), 409)["type"] == "OverQuota"
        details = own.get(f"/quotas/{member.project_id}/details").json()["quota"]
        assert details["network"] == {"limit": 1, "used": 1, "reserved": 0}
        listed = admin_api.get("/quotas").json()["quotas"]
        assert member.project_id in {q["project_id"] for q in listed}
        assert admin_api.delete(f"/quotas/{member.project_id}").status_code == 204
        assert own.get(f"/quotas/{member.project_id}").json()["quota"]["network"] == 100


def test_subnet_from_pool_by_prefixlen(api: httpx.Client) -> None:
    pool = created(
        api.post(
            "/subnetpools",
            json={
                "subnetpool": {
                    "name": unique("pool"),
                    "prefixes": ["10.128.0.0/16"],
                    "default_prefixlen": 24,
                }
            },
        ),
        "subnetpool",
    )
    net = _network(api)
    first = created(
        api.post(
            "/subnets",
            json={
                "subnet": {"network_id": net["id"], "subnetpool_id": pool["id"], "ip_version": 4}
            },
        ),
        "subnet",
    )
    second = created(
        api.post(
            "/subnets",
            json={
                "subnet": {
                    "network_id": _network(api)["id"],
                    "subnetpool_id": pool["id"],
                    "prefixlen": 26,
                    "ip_version": 4,
                }
            },
        ),
        "subnet",
    )
    assert first["cidr"] == "10.128.0.0/24" and first["subnetpool_id"] == pool["id"]
    assert second["cidr"] == "10.128.1.0/26"
    fault(api.delete(f"/subnetpools/{pool['id']}"), 409)


def test_concurrent_port_creates_never_share_an_address(api: httpx.Client) -> None:
    """A /29 without DHCP has five addresses left after the gateway: five ports get one each,
    the rest 409."""
    net = _network(api)
    subnet = _subnet(api, net["id"], "10.60.0.0/29", enable_dhcp=False)
    api.get("/security-groups")  # the default group exists before the rush
    url, headers = str(api.base_url).rstrip("/") + "/ports", dict(api.headers)

    def create(_: int) -> httpx.Response:
        return httpx.post(
            url, headers=headers, json={"port": {"network_id": net["id"]}}, timeout=120
        )

    with concurrent.futures.ThreadPoolExecutor(max_workers=16) as pool:
        responses = list(pool.map(create, range(16)))
    ok = [r.json()["port"] for r in responses if r.status_code == 201]
    failed = [r for r in responses if r.status_code != 201]
    addresses = [p["fixed_ips"][0]["ip_address"] for p in ok]
    assert len(ok) == 5, [r.text for r in failed]
    assert len(set(addresses)) == 5
    assert set(addresses) == {f"10.60.0.{n}" for n in range(2, 7)}
    assert all(fault(r, 409)["type"] == "IpAddressGenerationFailure" for r in failed)
    listed = api.get("/ports", params={"network_id": net["id"]}).json()["ports"]
    assert len(listed) == 5
    assert subnet["allocation_pools"] == [{"start": "10.60.0.2", "end": "10.60.0.6"}]
