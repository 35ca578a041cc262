"""A store and cloud as the gateway left them when a router's interfaces were the ports naming
it: another project's port named a router, the router was realized again routing that port's
subnet, and a floating IP reached an instance of that subnet through the router. Once the
gateway started (its store upgraded), the task runner doing what start-up queued, the router
stops routing the subnet and the floating IP is disassociated;
the router's own interface and a floating IP reaching its port through it are kept. Seen with
httpx on a restarted sim gateway."""

from __future__ import annotations

from functools import partial
from typing import Any

import httpx
from sqlalchemy import text

from interstack.store.models import FloatingIp, Port, Router, SimResource, Subnet
from tests.support.gateway import ServedGateway
from tests.support.identity import member_of, unique
from tests.support.network import (
    created,
    external_network,
    neutron,
    neutron_of,
    new_port,
    routed_subnets,
)
from tests.support.waiting import eventually

INTERFACE = "network:router_interface"


def _network(api: httpx.Client, cidr: str) -> tuple[dict[str, Any], dict[str, Any]]:
    network = created(api.post("/networks", json={"network": {"name": unique("n")}}), "network")
    body = {"network_id": network["id"], "cidr": cidr, "ip_version": 4}
    return network, created(api.post("/subnets", json={"subnet": body}), "subnet")


def _floating_ip(api: httpx.Client, public: dict[str, Any], **extra: str) -> dict[str, Any]:
    body = {"floatingip": {"floating_network_id": public["id"], **extra}}
    return created(api.post("/floatingips", json=body), "floatingip")


def _as_the_old_code_left_it(
    gateway: ServedGateway,
    router_id: str,
    claim: dict[str, Any],
    fip: dict[str, Any],
    instance: dict[str, Any],
) -> None:
    """The claim names the router, the cloud's router routes the claim's subnet, the floating
    IP reaches the instance (on that subnet) through the router."""
    (fixed,) = instance["fixed_ips"]
    with gateway.store() as database, database.session() as session:
        port = session.get_one(Port, claim["id"])
        port.device_owner, port.device_id, port.status = INTERFACE, router_id, "ACTIVE"
        router = session.get_one(SimResource, session.get_one(Router, router_id).native_ref)
        subnet_ref = session.get_one(Subnet, fixed["subnet_id"]).native_ref
        router.data = {**router.data, "subnets": [*router.data["subnets"], subnet_ref]}
        row = session.get_one(FloatingIp, fip["id"])
        row.port_id, row.fixed_ip_address = instance["id"], fixed["ip_address"]
        row.router_id, row.status = router_id, "ACTIVE"
        native = session.get_one(SimResource, row.native_ref)
        port_ref = session.get_one(Port, instance["id"]).native_ref
        native.data = {"port": port_ref, "fixed_address": fixed["ip_address"]}
    with gateway.store() as database, database.session() as session:
        # and its store before revision 0006, which lists what routers did for such ports
        # (and before 0007, after it, which gives ports and routers their deleting mark, and
        # 0008, which moves the ports' groups from their column into rows of their own)
        session.execute(
            text("ALTER TABLE ports ADD COLUMN security_group_ids JSON NOT NULL DEFAULT '[]'")
        )
        session.execute(
            text(
                "UPDATE ports SET security_group_ids = (SELECT json_group_array(g) FROM "
                "(SELECT security_group_id AS g FROM port_security_groups "
                "WHERE port_id = ports.id ORDER BY position))"
            )
        )
        session.execute(text("DROP TABLE port_security_groups"))
        session.execute(text("DROP TABLE router_claim_leftovers"))
        for table in ("ports", "routers"):
            session.execute(text(f"ALTER TABLE {table} DROP COLUMN deleting"))
        session.execute(
            text("UPDATE alembic_version SET version_num = :before WHERE version_num = :head"),
            {"before": "0005_network_router_ports", "head": "0008_network_port_groups"},
        )


def _forwarded_to(gateway: ServedGateway, fip_id: str) -> Any:
    """The port the sim cloud forwards the floating IP to (its native ref), or None."""
    with gateway.store() as database, database.session() as session:
        native = session.get_one(FloatingIp, fip_id).native_ref
        return session.get_one(SimResource, native).data.get("port")


def test_what_a_router_did_for_a_port_only_naming_it_is_undone_at_start_up(
    restartable: ServedGateway,
) -> None:
    admin = neutron(restartable, restartable.token("interstack-admin"))
    demo = neutron(restartable, restartable.token("interstack"))
    theirs = neutron_of(restartable, member_of(restartable))
    public = external_network(admin)
    mine, my_subnet = _network(demo, "10.74.0.0/24")
    gateway_info = {"network_id": public["id"]}
    body = {"router": {"name": unique("r"), "external_gateway_info": gateway_info}}
    router = created(demo.post("/routers", json=body), "router")
    path = f"/routers/{router['id']}"
    added = demo.put(f"{path}/add_router_interface", json={"subnet_id": my_subnet["id"]})
    assert added.status_code == 200, added.text
    my_instance = new_port(demo, mine["id"])
    my_fip = _floating_ip(demo, public, port_id=my_instance["id"])
    assert my_fip["router_id"] == router["id"]
    their_network, their_subnet = _network(theirs, "10.73.0.0/24")
    instance, claim = new_port(theirs, their_network["id"]), new_port(theirs, their_network["id"])
    their_fip = _floating_ip(theirs, public)
    _as_the_old_code_left_it(restartable, router["id"], claim, their_fip, instance)
    assert routed_subnets(restartable, router["id"]) == {my_subnet["id"], their_subnet["id"]}

    restartable.restart()  # start-up queues the undoing, the task runner does it

    eventually(
        partial(routed_subnets, restartable, router["id"]),
        lambda routed: routed == {my_subnet["id"]},
        "the router no longer routing their subnet",
    )
    shown = eventually(
        lambda: theirs.get(f"/floatingips/{their_fip['id']}").json()["floatingip"],
        lambda fip: fip["status"] == "DOWN",
        "their floating IP disassociated",
    )
    assert (shown["port_id"], shown["router_id"], shown["status"]) == (None, None, "DOWN")
    assert shown["floating_ip_address"] == their_fip["floating_ip_address"]
    assert _forwarded_to(restartable, their_fip["id"]) is None
    kept = demo.get(f"/floatingips/{my_fip['id']}").json()["floatingip"]
    assert (kept["port_id"], kept["router_id"]) == (my_instance["id"], router["id"])
    assert _forwarded_to(restartable, my_fip["id"]) is not None
    # the victim's router is its own again: taken apart and deleted as any router
    assert demo.delete(f"/floatingips/{my_fip['id']}").status_code == 204
    removed = demo.put(f"{path}/remove_router_interface", json={"subnet_id": my_subnet["id"]})
    assert removed.status_code == 200, removed.text
    assert demo.put(path, json={"router": {"external_gateway_info": {}}}).status_code == 200
    assert demo.delete(path).status_code == 204
    for client in (admin, demo, theirs):
        client.close()
