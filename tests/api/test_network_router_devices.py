"""A project may not give its own port a router's device owner naming another project's router
(Neutron's DeviceIDNotOwnedByTenant, 409); naming a router of its own stays allowed. Either way
a port naming a router is no port of it: a router's interfaces and gateway are those its own
operations gave it (Neutron's routerports), whatever ports claim it, made through the API or
left so in the store."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import openstack.exceptions
import pytest

from interstack.store.models import Port
from tests.support.gateway import ServedGateway
from tests.support.identity import unique
from tests.support.network import (
    created,
    external_network,
    fault,
    neutron,
    new_router,
    routed_subnets,
)

OWNERS = ("network:router_interface", "network:router_gateway")


@pytest.fixture(scope="module")
def demo(gateway: ServedGateway, demo_token: str) -> Iterator[httpx.Client]:
    with neutron(gateway, demo_token) as api:
        yield api


@pytest.fixture(scope="module")
def their_network(strangers_neutron: httpx.Client) -> dict[str, Any]:
    network = created(
        strangers_neutron.post("/networks", json={"network": {"name": unique("planted")}}),
        "network",
    )
    body = {"network_id": network["id"], "cidr": "10.73.0.0/24", "ip_version": 4}
    created(strangers_neutron.post("/subnets", json={"subnet": body}), "subnet")
    return network


def _untouched(demo: httpx.Client, router: dict[str, Any]) -> None:
    """The victim's router shows no address of another project's and can be deleted."""
    shown = demo.get(f"/routers/{router['id']}").json()["router"]
    assert (shown["external_gateway_info"] or {}).get("external_fixed_ips", []) == []
    assert demo.delete(f"/routers/{router['id']}").status_code == 204


@pytest.mark.parametrize("owner", OWNERS)
def test_a_port_naming_another_projects_router_is_refused(
    demo: httpx.Client, strangers_neutron: httpx.Client, their_network: dict[str, Any], owner: str
) -> None:
    router = new_router(demo)
    port = {"network_id": their_network["id"], "device_owner": owner, "device_id": router["id"]}
    refused = fault(strangers_neutron.post("/ports", json={"port": port}), 409)
    assert refused["type"] == "DeviceIDNotOwnedByTenant"
    assert router["id"] in refused["message"]
    _untouched(demo, router)


def test_an_update_naming_another_projects_router_is_refused(
    demo: httpx.Client, strangers_neutron: httpx.Client, their_network: dict[str, Any]
) -> None:
    router = new_router(demo)
    port = created(
        strangers_neutron.post("/ports", json={"port": {"network_id": their_network["id"]}}), "port"
    )
    both = {"device_owner": OWNERS[0], "device_id": router["id"]}
    refused = fault(strangers_neutron.put(f"/ports/{port['id']}", json={"port": both}), 409)
    assert refused["type"] == "DeviceIDNotOwnedByTenant"
    # nor in two steps: the device first (an ordinary owner), then the router's owner
    named = strangers_neutron.put(
        f"/ports/{port['id']}",
        json={"port": {"device_owner": "compute:nova", "device_id": router["id"]}},
    )
    assert named.status_code == 200, named.text
    owner = {"device_owner": OWNERS[0]}
    refused = fault(strangers_neutron.put(f"/ports/{port['id']}", json={"port": owner}), 409)
    assert refused["type"] == "DeviceIDNotOwnedByTenant"
    kept = strangers_neutron.get(f"/ports/{port['id']}").json()["port"]
    assert kept["device_owner"] == "compute:nova"
    _untouched(demo, router)
    assert strangers_neutron.delete(f"/ports/{port['id']}").status_code == 204


def test_a_port_naming_a_router_of_its_own_project_is_allowed(
    strangers_neutron: httpx.Client, their_network: dict[str, Any]
) -> None:
    router = new_router(strangers_neutron)
    port = {"network_id": their_network["id"], "device_owner": OWNERS[0], "device_id": router["id"]}
    made = created(strangers_neutron.post("/ports", json={"port": port}), "port")
    assert (made["device_owner"], made["device_id"]) == (OWNERS[0], router["id"])
    # but naming the router makes no interface of it: add_router_interface does (as Neutron)
    removed = strangers_neutron.put(
        f"/routers/{router['id']}/remove_router_interface", json={"port_id": made["id"]}
    )
    assert fault(removed, 404)["type"] == "RouterInterfaceNotFound"
    assert strangers_neutron.delete(f"/routers/{router['id']}").status_code == 204
    assert strangers_neutron.delete(f"/ports/{made['id']}").status_code == 204


# -- a router's ports are those its own operations gave it --------------------------------------
#
# A port that names a router as its device (made through the port API by an admin, by the
# router's project, or by another project before DeviceIDNotOwnedByTenant; or so left in the
# store) is no port of that router: the router does not route its subnet, no floating IP is
# reached through it, it neither blocks the router's deletion nor goes with it.

HOW = ("api", "store")


def _subnet_id(network: dict[str, Any], api: httpx.Client) -> str:
    """The id of the network's one subnet."""
    found = api.get("/subnets", params={"network_id": network["id"]}).json()["subnets"]
    (subnet_id,) = [str(s["id"]) for s in found]
    return subnet_id


@pytest.fixture(scope="module")
def public(gateway: ServedGateway, admin_token: str) -> Iterator[dict[str, Any]]:
    """An external network, with its one subnet's id under ``subnet_id``."""
    with neutron(gateway, admin_token) as admin:
        network = external_network(admin)
        yield {**network, "subnet_id": _subnet_id(network, admin)}
        admin.delete(f"/networks/{network['id']}")


def _claiming(
    how: str,
    gateway: ServedGateway,
    strangers_neutron: httpx.Client,
    network: dict[str, Any],
    owner: str,
    router_id: str,
) -> str:
    """The id of the other project's port on ``network``, naming the router with ``owner``:
    made so by an admin with openstacksdk (DeviceIDNotOwnedByTenant lets an admin), or its
    device fields set in the store (as a port update before that check left them)."""
    if how == "api":
        admin = gateway.connect("interstack-admin")
        port = admin.network.create_port(
            network_id=network["id"],
            project_id=network["project_id"],
            device_owner=owner,
            device_id=router_id,
        )
        assert (port.device_owner, port.device_id) == (owner, router_id)
        return str(port.id)
    port = created(
        strangers_neutron.post("/ports", json={"port": {"network_id": network["id"]}}), "port"
    )
    with gateway.store() as database, database.session() as session:
        row = session.get_one(Port, port["id"])
        row.device_owner, row.device_id, row.status = owner, router_id, "ACTIVE"
    return str(port["id"])


@pytest.mark.parametrize("how", HOW)
def test_a_port_naming_a_router_is_not_its_interface(
    gateway: ServedGateway,
    demo: httpx.Client,
    strangers_neutron: httpx.Client,
    their_network: dict[str, Any],
    public: dict[str, Any],
    how: str,
) -> None:
    their_subnet = _subnet_id(their_network, strangers_neutron)
    mine = created(demo.post("/networks", json={"network": {"name": unique("own")}}), "network")
    body = {"network_id": mine["id"], "cidr": "10.74.0.0/24", "ip_version": 4}
    my_subnet = created(demo.post("/subnets", json={"subnet": body}), "subnet")
    router = new_router(demo)
    path = f"/routers/{router['id']}"
    added = demo.put(f"{path}/add_router_interface", json={"subnet_id": my_subnet["id"]})
    assert added.status_code == 200, added.text
    claim = _claiming(how, gateway, strangers_neutron, their_network, OWNERS[0], router["id"])

    # a gateway makes the cloud's router again, with the interfaces the router has
    gateway_info = {"router": {"external_gateway_info": {"network_id": public["id"]}}}
    assert demo.put(path, json=gateway_info).status_code == 200
    assert routed_subnets(gateway, router["id"]) == {my_subnet["id"]}
    # no floating IP of the other project's is reached through the victim's router
    instance = created(
        strangers_neutron.post("/ports", json={"port": {"network_id": their_network["id"]}}), "port"
    )
    wanted = {"floating_network_id": public["id"], "port_id": instance["id"]}
    unreachable = fault(strangers_neutron.post("/floatingips", json={"floatingip": wanted}), 404)
    assert unreachable["type"] == "ExternalGatewayForFloatingIPNotFound"
    assert their_subnet in unreachable["message"]
    # nor is the claimed subnet the router's for extra routes or for its owner to remove
    hop = {"destination": "10.99.0.0/24", "nexthop": "10.73.0.9"}
    routes = demo.put(path, json={"router": {"routes": [hop]}})
    assert fault(routes, 400)["type"] == "InvalidRoutes"
    removed = demo.put(f"{path}/remove_router_interface", json={"port_id": claim})
    assert fault(removed, 404)["type"] == "RouterInterfaceNotFound"

    # the router's own interface still counts: it keeps the router in use until removed
    assert fault(demo.delete(path), 409)["type"] == "RouterInUse"
    mine_gone = demo.put(f"{path}/remove_router_interface", json={"subnet_id": my_subnet["id"]})
    assert mine_gone.status_code == 200, mine_gone.text
    assert demo.put(path, json={"router": {"external_gateway_info": {}}}).status_code == 200
    assert routed_subnets(gateway, router["id"]) == set()
    assert demo.delete(path).status_code == 204
    # the claiming port outlives the router, its project's to delete
    assert strangers_neutron.get(f"/ports/{claim}").status_code == 200
    for port_id in (claim, instance["id"]):
        assert strangers_neutron.delete(f"/ports/{port_id}").status_code == 204
    assert demo.delete(f"/networks/{mine['id']}").status_code == 204


@pytest.mark.parametrize("how", HOW)
def test_a_port_naming_a_router_is_not_its_gateway(
    gateway: ServedGateway,
    demo: httpx.Client,
    strangers_neutron: httpx.Client,
    their_network: dict[str, Any],
    public: dict[str, Any],
    how: str,
) -> None:
    router = new_router(demo)
    path = f"/routers/{router['id']}"
    claim = _claiming(how, gateway, strangers_neutron, their_network, OWNERS[1], router["id"])
    shown = demo.get(path).json()["router"]
    assert shown["external_gateway_info"] is None
    gateway_info = {"router": {"external_gateway_info": {"network_id": public["id"]}}}
    set_ = demo.put(path, json=gateway_info)
    assert set_.status_code == 200, set_.text
    (own,) = set_.json()["router"]["external_gateway_info"]["external_fixed_ips"]
    assert own["subnet_id"] == public["subnet_id"]
    cleared = demo.put(path, json={"router": {"external_gateway_info": {}}})
    assert cleared.status_code == 200, cleared.text
    assert demo.delete(path).status_code == 204
    # neither the gateway's clearing nor the router's deletion took the claiming port along
    kept = strangers_neutron.get(f"/ports/{claim}")
    assert kept.status_code == 200 and kept.json()["port"]["device_id"] == router["id"]
    assert strangers_neutron.delete(f"/ports/{claim}").status_code == 204


@dataclass(frozen=True)
class _Held:
    """A router's ids and the two ports it holds."""

    router_id: str
    network_id: str
    subnet_id: str
    interface: str
    gateway: str


def _holding(demo: httpx.Client, public: dict[str, Any], cidr: str) -> _Held:
    """A router of the demo project's with an interface on a subnet of ``cidr`` and a gateway
    on ``public``: the two ports it holds."""
    router = new_router(demo)
    path = f"/routers/{router['id']}"
    mine = created(demo.post("/networks", json={"network": {"name": unique("own")}}), "network")
    body = {"network_id": mine["id"], "cidr": cidr, "ip_version": 4}
    subnet = created(demo.post("/subnets", json={"subnet": body}), "subnet")
    added = demo.put(f"{path}/add_router_interface", json={"subnet_id": subnet["id"]})
    assert added.status_code == 200, added.text
    gateway_info = {"router": {"external_gateway_info": {"network_id": public["id"]}}}
    assert demo.put(path, json=gateway_info).status_code == 200
    owners = {"network_id": public["id"], "device_id": router["id"]}
    (gateway_port,) = demo.get("/ports", params=owners).json()["ports"]
    return _Held(
        router["id"], mine["id"], subnet["id"], added.json()["port_id"], gateway_port["id"]
    )


def _released(demo: httpx.Client, held: _Held) -> None:
    """The router's operations release its ports (gone with them); router and network go."""
    path = f"/routers/{held.router_id}"
    removed = demo.put(f"{path}/remove_router_interface", json={"subnet_id": held.subnet_id})
    assert removed.status_code == 200, removed.text
    assert demo.get(f"/ports/{held.interface}").status_code == 404
    assert demo.put(path, json={"router": {"external_gateway_info": {}}}).status_code == 200
    assert demo.get(f"/ports/{held.gateway}").status_code == 404
    assert demo.delete(path).status_code == 204
    assert demo.delete(f"/networks/{held.network_id}").status_code == 204


def test_a_routers_own_ports_are_not_deleted_through_the_port_api(
    gateway: ServedGateway, admin_token: str, demo: httpx.Client, public: dict[str, Any]
) -> None:
    """Not even by an admin (as Neutron): the router's operations remove them, and the
    cloud's router with them."""
    held = _holding(demo, public, "10.75.0.0/24")
    with neutron(gateway, admin_token) as admin:
        for port_id in (held.interface, held.gateway):
            for api in (demo, admin):
                refused = fault(api.delete(f"/ports/{port_id}"), 409)
                assert refused["type"] == "ServicePortInUse"
    assert routed_subnets(gateway, held.router_id) == {held.subnet_id}
    _released(demo, held)


def test_a_routers_own_ports_keep_their_device_fields_even_for_an_admin(
    gateway: ServedGateway, demo: httpx.Client, public: dict[str, Any]
) -> None:
    """Through openstacksdk, as an admin's script would: a held port's device_owner and
    device_id are the router's until its operations release the port (409), else the port
    would name a server, or nothing, while the cloud's router still routes its subnet."""
    held = _holding(demo, public, "10.76.0.0/24")
    admin = gateway.connect("interstack-admin")
    changes = (
        {"device_owner": "compute:nova", "device_id": str(uuid.uuid4())},
        {"device_owner": "", "device_id": ""},
        {"device_id": str(uuid.uuid4())},
    )
    for port_id in (held.interface, held.gateway):
        before = admin.network.get_port(port_id)
        for change in changes:
            with pytest.raises(openstack.exceptions.ConflictException) as refused:
                admin.network.update_port(port_id, **change)
            assert held.router_id in str(refused.value)
            assert "remove_router_interface" in str(refused.value)
        kept = admin.network.get_port(port_id)
        assert (kept.device_owner, kept.device_id) == (before.device_owner, held.router_id)
        # the rest of the port stays the admin's to change
        renamed = admin.network.update_port(port_id, name="held", device_id=held.router_id)
        assert renamed.name == "held" and renamed.device_id == held.router_id
    assert routed_subnets(gateway, held.router_id) == {held.subnet_id}
    _released(demo, held)
