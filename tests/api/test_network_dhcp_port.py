"""The DHCP port of a subnet, seen through openstacksdk, the ``openstack`` CLI and raw HTTP:
made with the subnet, holding an address of its pool that no other port can get, seen by the
network's project and admins only, gone with the subnet, the network or DHCP switched off."""

from __future__ import annotations

import json

import httpx

from tests.support.gateway import ServedGateway
from tests.support.identity import member_of, unique
from tests.support.network import (
    DHCP,
    addresses_by_subnet,
    dhcp_ports,
    external_network,
    fault,
    neutron_of,
)


def test_the_dhcp_port_holds_an_address_of_the_pool_until_dhcp_is_switched_off(
    gateway: ServedGateway,
) -> None:
    conn = gateway.connect("interstack")
    net = conn.network.create_network(name=unique("dhcp-net"))
    # a /29: five addresses after the gateway, one of them the DHCP server's
    subnet = conn.network.create_subnet(network_id=net.id, cidr="10.81.0.0/29", ip_version=4)
    (dhcp,) = dhcp_ports(conn, net.id)
    assert dhcp.status == "ACTIVE" and dhcp.project_id == net.project_id
    assert dhcp.device_id.startswith("dhcp") and dhcp.device_id.endswith(f"-{net.id}")
    assert dhcp.security_group_ids == []
    ((held,),) = [[ip for ip in dhcp.fixed_ips if ip["subnet_id"] == subnet.id]]
    pool = {f"10.81.0.{n}" for n in range(2, 7)}
    assert held["ip_address"] in pool

    ports = [conn.network.create_port(network_id=net.id) for _ in range(4)]
    given = {p.fixed_ips[0]["ip_address"] for p in ports}
    assert given == pool - {held["ip_address"]}
    exhausted = conn.network.post("/ports", json={"port": {"network_id": net.id}})
    assert exhausted.status_code == 409
    assert exhausted.json()["NeutronError"]["type"] == "IpAddressGenerationFailure"
    for port in ports[1:]:
        conn.network.delete_port(port)
    wanted = {"network_id": net.id, "fixed_ips": [{"ip_address": held["ip_address"]}]}
    taken = conn.network.post("/ports", json={"port": wanted})
    assert taken.status_code == 409
    assert taken.json()["NeutronError"]["type"] == "IpAddressAlreadyAllocated"
    refused = conn.network.delete(f"/ports/{dhcp.id}")
    assert refused.status_code == 409
    assert refused.json()["NeutronError"]["type"] == "ServicePortInUse"

    conn.network.update_subnet(subnet, enable_dhcp=False)
    assert dhcp_ports(conn, net.id) == []
    assert conn.network.find_port(dhcp.id) is None
    freed = conn.network.create_port(
        network_id=net.id, fixed_ips=[{"ip_address": held["ip_address"]}]
    )
    assert freed.fixed_ips[0]["ip_address"] == held["ip_address"]

    conn.network.update_subnet(subnet, enable_dhcp=True)
    (again,) = dhcp_ports(conn, net.id)
    assert again.id != dhcp.id
    assert again.fixed_ips[0]["ip_address"] in pool - {
        held["ip_address"],
        ports[0].fixed_ips[0]["ip_address"],
    }
    conn.network.delete_port(freed)
    conn.network.delete_port(ports[0])
    conn.network.delete_subnet(subnet)
    assert conn.network.find_port(again.id) is None
    conn.network.delete_network(net)


def test_a_subnet_without_dhcp_or_on_an_external_network_has_no_dhcp_port(
    gateway: ServedGateway, neutron_admin: httpx.Client
) -> None:
    conn = gateway.connect("interstack")
    net = conn.network.create_network(name=unique("no-dhcp"))
    conn.network.create_subnet(
        network_id=net.id, cidr="10.82.0.0/24", ip_version=4, is_dhcp_enabled=False
    )
    assert dhcp_ports(conn, net.id) == []
    conn.network.delete_network(net)
    external = neutron_admin.post(
        "/networks", json={"network": {"name": unique("ext"), "router:external": True}}
    ).json()["network"]
    made = neutron_admin.post(
        "/subnets",
        json={"subnet": {"network_id": external["id"], "cidr": "198.51.100.0/24", "ip_version": 4}},
    )
    assert made.status_code == 201, made.text
    listed = neutron_admin.get("/ports", params={"network_id": external["id"]}).json()["ports"]
    assert listed == []
    assert neutron_admin.delete(f"/networks/{external['id']}").status_code == 204


def test_the_cli_lists_the_dhcp_port_and_deletes_the_network_it_is_on(
    gateway: ServedGateway,
) -> None:
    """The DHCP port does not keep its network "in use": the owner deletes the network with its
    subnet as in Neutron, and the port goes too."""
    name = unique("cli-dhcp")
    # the commands in a row in one ``openstack`` process (ServedGateway.cli_batch; each must
    # succeed)
    *_, listed = gateway.cli_batch(
        "interstack",
        ["network", "create", name],
        ["subnet", "create", name, "--network", name, "--subnet-range", "10.83.0.0/24"],
        ["port", "list", "--network", name, "--device-owner", DHCP, "--long", "-f", "json"],
    )
    listed = json.loads(listed)
    assert len(listed) == 1, listed
    port_id = listed[0]["ID"]
    assert "10.83.0." in json.dumps(listed[0]["Fixed IP Addresses"])
    gateway.cli("interstack", "network", "delete", name)
    gone = gateway.cli("interstack", "port", "show", port_id, check=False)
    assert gone.returncode != 0 and "No Port found" in gone.stderr


def test_only_the_networks_project_and_admins_see_its_dhcp_port(
    gateway: ServedGateway, neutron_admin: httpx.Client
) -> None:
    """On a shared network another project makes ports, but the DHCP port stays the network
    owner's: 404 to the other project, listed for the owner and the admin."""
    owner = member_of(gateway)
    with neutron_of(gateway, owner) as mine, neutron_of(gateway, member_of(gateway)) as theirs:
        shared = neutron_admin.post(
            "/networks",
            json={
                "network": {
                    "name": unique("shared"),
                    "shared": True,
                    "project_id": owner.project_id,
                }
            },
        ).json()["network"]
        subnet = mine.post(
            "/subnets",
            json={"subnet": {"network_id": shared["id"], "cidr": "10.84.0.0/24", "ip_version": 4}},
        )
        assert subnet.status_code == 201, subnet.text
        query = {"network_id": shared["id"], "device_owner": DHCP}
        (seen,) = mine.get("/ports", params=query).json()["ports"]
        assert seen["project_id"] == owner.project_id
        assert [p["id"] for p in neutron_admin.get("/ports", params=query).json()["ports"]] == [
            seen["id"]
        ]
        assert theirs.get("/ports", params=query).json()["ports"] == []
        fault(theirs.get(f"/ports/{seen['id']}"), 404)
        port = theirs.post("/ports", json={"port": {"network_id": shared["id"]}})
        assert port.status_code == 201, port.text
        assert (
            port.json()["port"]["fixed_ips"][0]["ip_address"] != seen["fixed_ips"][0]["ip_address"]
        )
        assert theirs.delete(f"/ports/{port.json()['port']['id']}").status_code == 204
        assert mine.delete(f"/networks/{shared['id']}").status_code == 204
        fault(neutron_admin.get(f"/ports/{seen['id']}"), 404)


def test_device_owners_of_the_network_are_kept_as_neutrons_policy_says(
    gateway: ServedGateway, neutron_admin: httpx.Client
) -> None:
    """The DHCP port keeps its device_owner and device_id (else it could be deleted while the
    subnet's DHCP server still answers on its address), ``network:dhcp`` is given to no port a
    request makes, and as in Neutron a ``network:`` device_owner is given by an admin or the
    network's project only; a router's port keeps it for admins. No floating IP leads to the
    DHCP port."""
    owner = member_of(gateway)
    with neutron_of(gateway, owner) as mine, neutron_of(gateway, member_of(gateway)) as theirs:
        shared = mine.post(
            "/networks", json={"network": {"name": unique("owners"), "shared": False}}
        ).json()["network"]
        opened = neutron_admin.put(f"/networks/{shared['id']}", json={"network": {"shared": True}})
        assert opened.status_code == 200, opened.text
        made = mine.post(
            "/subnets",
            json={"subnet": {"network_id": shared["id"], "cidr": "10.85.0.0/24", "ip_version": 4}},
        )
        assert made.status_code == 201, made.text
        query = {"network_id": shared["id"], "device_owner": DHCP}
        (dhcp,) = mine.get("/ports", params=query).json()["ports"]
        for api in (mine, neutron_admin):
            for change in ({"device_owner": ""}, {"device_id": "mine"}):
                refused = fault(api.put(f"/ports/{dhcp['id']}", json={"port": change}), 409)
                assert refused["type"] == "ServicePortInUse"
                assert "enable_dhcp" in refused["message"]
        renamed = mine.put(f"/ports/{dhcp['id']}", json={"port": {"name": "still-dhcp"}})
        assert renamed.status_code == 200, renamed.text
        (kept,) = mine.get("/ports", params=query).json()["ports"]
        assert (kept["id"], kept["device_id"]) == (dhcp["id"], dhcp["device_id"])
        assert fault(mine.delete(f"/ports/{dhcp['id']}"), 409)["type"] == "ServicePortInUse"
        # nor is the DHCP server an instance a floating IP may lead to, as in Neutron
        public = external_network(neutron_admin)
        wanted = {"floating_network_id": public["id"], "port_id": dhcp["id"]}
        refused = fault(mine.post("/floatingips", json={"floatingip": wanted}), 400)
        assert "unable to be assigned a floating IP" in refused["message"]
        assert neutron_admin.delete(f"/networks/{public['id']}").status_code == 204

        for api in (mine, neutron_admin):
            claimed = {"network_id": shared["id"], "device_owner": DHCP}
            assert "reserved" in fault(api.post("/ports", json={"port": claimed}), 403)["message"]
        router_port = {"network_id": shared["id"], "device_owner": "network:router_interface"}
        assert "policy" in fault(theirs.post("/ports", json={"port": router_port}), 403)["message"]
        plain = theirs.post("/ports", json={"port": {"network_id": shared["id"]}})
        assert plain.status_code == 201, plain.text
        plain_id = plain.json()["port"]["id"]
        owned = {"port": {"device_owner": "network:router_interface"}}
        fault(theirs.put(f"/ports/{plain_id}", json=owned), 403)
        assert theirs.delete(f"/ports/{plain_id}").status_code == 204

        made_port = mine.post("/ports", json={"port": router_port})
        assert made_port.status_code == 201, made_port.text
        port_id = made_port.json()["port"]["id"]
        fault(mine.put(f"/ports/{port_id}", json={"port": {"device_owner": ""}}), 403)
        released = neutron_admin.put(f"/ports/{port_id}", json={"port": {"device_owner": ""}})
        assert released.status_code == 200, released.text
        # no router holds it (add_router_interface did not make it): its project deletes it
        assert mine.delete(f"/ports/{port_id}").status_code == 204
        assert mine.delete(f"/networks/{shared['id']}").status_code == 204


def test_a_network_has_one_dhcp_port_with_an_address_on_each_dhcp_subnet(
    gateway: ServedGateway,
) -> None:
    """As Neutron's DHCP agent: one port per network, a fixed IP added with each DHCP-enabled
    subnet (IPv6 too), taken back with the subnet or its DHCP; the port goes with the last."""
    conn = gateway.connect("interstack")
    net = conn.network.create_network(name=unique("dhcp-two"))
    first = conn.network.create_subnet(network_id=net.id, cidr="10.86.0.0/24", ip_version=4)
    (dhcp,) = dhcp_ports(conn, net.id)
    second = conn.network.create_subnet(network_id=net.id, cidr="10.86.1.0/24", ip_version=4)
    plain = conn.network.create_subnet(
        network_id=net.id, cidr="10.86.2.0/24", ip_version=4, is_dhcp_enabled=False
    )
    v6 = conn.network.create_subnet(
        network_id=net.id, cidr="fd00:86::/64", ip_version=6, ipv6_address_mode="dhcpv6-stateful"
    )
    (same,) = dhcp_ports(conn, net.id)
    assert (same.id, same.mac_address) == (dhcp.id, dhcp.mac_address)
    held = addresses_by_subnet(same)
    assert set(held) == {first.id, second.id, v6.id}
    assert held[first.id].startswith("10.86.0.") and held[second.id].startswith("10.86.1.")
    assert held[v6.id].startswith("fd00:86::")
    # the addresses in the order the subnets got them, as Neutron lists a port's fixed IPs
    assert [ip["subnet_id"] for ip in same.fixed_ips] == [first.id, second.id, v6.id]
    by_subnet = conn.network.ports(fixed_ips=f"subnet_id={second.id}", device_owner=DHCP)
    assert [p.id for p in by_subnet] == [dhcp.id]

    conn.network.delete_subnet(first)
    (after_delete,) = dhcp_ports(conn, net.id)
    assert after_delete.id == dhcp.id
    assert set(addresses_by_subnet(after_delete)) == {second.id, v6.id}
    conn.network.update_subnet(v6, enable_dhcp=False)
    conn.network.update_subnet(plain, enable_dhcp=True)
    (switched,) = dhcp_ports(conn, net.id)
    assert switched.id == dhcp.id and set(addresses_by_subnet(switched)) == {second.id, plain.id}
    conn.network.update_subnet(second, enable_dhcp=False)
    conn.network.update_subnet(plain, enable_dhcp=False)
    assert dhcp_ports(conn, net.id) == []
    assert conn.network.find_port(dhcp.id) is None
    conn.network.update_subnet(second, enable_dhcp=True)
    (again,) = dhcp_ports(conn, net.id)
    assert again.id != dhcp.id and set(addresses_by_subnet(again)) == {second.id}
    conn.network.delete_network(net)
    assert conn.network.find_port(again.id) is None


def test_the_dhcp_port_counts_toward_the_port_quota_but_is_never_refused_by_it(
    gateway: ServedGateway, neutron_admin: httpx.Client
) -> None:
    member = member_of(gateway)
    quota = {"quota": {"port": 0}}
    assert neutron_admin.put(f"/quotas/{member.project_id}", json=quota).status_code == 200
    with neutron_of(gateway, member) as api:
        net = api.post("/networks", json={"network": {"name": unique("quota0")}}).json()
        network_id = net["network"]["id"]
        for cidr in ("10.87.0.0/24", "10.87.1.0/24"):
            made = api.post(
                "/subnets",
                json={"subnet": {"network_id": network_id, "cidr": cidr, "ip_version": 4}},
            )
            assert made.status_code == 201, made.text
        (dhcp,) = api.get("/ports", params={"network_id": network_id}).json()["ports"]
        assert dhcp["device_owner"] == DHCP and len(dhcp["fixed_ips"]) == 2
        usage = api.get(f"/quotas/{member.project_id}/details").json()["quota"]
        assert usage["port"] == {"limit": 0, "used": 1, "reserved": 0}
        refused = fault(api.post("/ports", json={"port": {"network_id": network_id}}), 409)
        assert refused["type"] == "OverQuota"
        assert api.delete(f"/networks/{network_id}").status_code == 204
