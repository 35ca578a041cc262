"""An ``aws`` region on moto, through the gateway: openstacksdk and the ``openstack`` CLI drive
Neutron, and boto3 against the same emulator shows what the mapping (docs/aws-backend.md)
promises: a VPC for the project, subnets, a route table with the internet gateway, security
group rules with group references, an ENI per port, the Elastic IP on it; and nothing of it left
after deletion. One gateway serves ``RegionOne`` on sim beside it, through one clouds.yaml.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from interstack.client import networks as cloud
from tests.support.gateway import ServedGateway
from tests.support.identity import unique
from tests.support.moto import AWS, aws_settings, ec2
from tests.support.network import external_network, neutron

SIM = "RegionOne"


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedGateway]:
    data: Path = tmp_path_factory.mktemp("aws") / "data"
    config = {
        "regions": [
            {"name": SIM, "backend": "sim"},
            {"name": AWS, "backend": "aws", "settings": aws_settings()},
        ]
    }
    with ServedGateway(data, config=config) as served:
        admin = served.token("interstack-admin")
        for region in (SIM, AWS):
            with neutron(served, admin, region) as client:
                external_network(client)
        yield served


def tagged(describe: str, key: str, gateway_id: str) -> list[dict[str, Any]]:
    """Resources of a kind in moto carrying ``gateway_id`` as their interstack gateway id."""
    found = getattr(ec2(), describe)(
        Filters=[{"Name": "tag:interstack:gateway-id", "Values": [gateway_id]}]
    )
    items: list[dict[str, Any]] = found[key]
    return items


def public_network(sdk: Any) -> Any:
    public = cloud.external_network(sdk)
    assert public is not None, "the region has no external network"
    return public


def test_the_sdk_builds_a_network_with_a_router_security_group_and_floating_ip(
    gateway: ServedGateway,
) -> None:
    sdk = gateway.connect("interstack", AWS)
    net = sdk.network.create_network(name=unique("net"))
    subnet = sdk.network.create_subnet(network_id=net.id, cidr="10.20.0.0/24", ip_version=4)
    other = sdk.network.create_network(name=unique("net2"))
    subnet2 = sdk.network.create_subnet(network_id=other.id, cidr="10.21.0.0/24", ip_version=4)
    router = sdk.network.create_router(
        name=unique("router"), external_gateway_info={"network_id": public_network(sdk).id}
    )
    sdk.network.add_interface_to_router(router, subnet=subnet.id)
    sdk.network.add_interface_to_router(router, subnet=subnet2.id)  # two networks, one router
    web = cloud.ssh_group(sdk, unique("web"))
    sdk.network.create_security_group_rule(
        security_group_id=web.id, direction="ingress", remote_group_id=web.id
    )
    port = sdk.network.create_port(network_id=net.id, security_group_ids=[web.id])
    fip = sdk.network.create_ip(floating_network_id=public_network(sdk).id, port_id=port.id)
    fixed = port.fixed_ips[0]["ip_address"]

    # what the mapping promises, seen straight in AWS
    (aws_subnet,) = tagged("describe_subnets", "Subnets", subnet.id)
    (aws_subnet2,) = tagged("describe_subnets", "Subnets", subnet2.id)
    assert aws_subnet["CidrBlock"] == "10.20.0.0/24"
    assert aws_subnet["VpcId"] == aws_subnet2["VpcId"]  # one VPC per project
    (table,) = tagged("describe_route_tables", "RouteTables", router.id)
    assert {a.get("SubnetId") for a in table["Associations"]} >= {
        aws_subnet["SubnetId"],
        aws_subnet2["SubnetId"],
    }
    assert any(
        r.get("DestinationCidrBlock") == "0.0.0.0/0" and r.get("GatewayId", "").startswith("igw-")
        for r in table["Routes"]
    )
    (group,) = tagged("describe_security_groups", "SecurityGroups", web.id)
    ingress = group["IpPermissions"]
    assert any(p["IpProtocol"] == "tcp" and p["FromPort"] == 22 for p in ingress)
    assert any(
        g["GroupId"] == group["GroupId"] for p in ingress for g in p.get("UserIdGroupPairs", [])
    )
    egress = {
        (p["IpProtocol"], r["CidrIp"])
        for p in group["IpPermissionsEgress"]
        for r in p.get("IpRanges", [])
    }
    assert egress == {("-1", "0.0.0.0/0")}  # Neutron's default egress, exactly once
    (eni,) = tagged("describe_network_interfaces", "NetworkInterfaces", port.id)
    assert eni["PrivateIpAddress"] == fixed
    assert [g["GroupId"] for g in eni["Groups"]] == [group["GroupId"]]
    (eip,) = tagged("describe_addresses", "Addresses", fip.id)
    assert (eip["PublicIp"], eip["NetworkInterfaceId"]) == (
        fip.floating_ip_address,
        eni["NetworkInterfaceId"],
    )

    sdk.network.delete_ip(fip)
    sdk.network.delete_port(port)
    sdk.network.remove_interface_from_router(router, subnet=subnet.id)
    sdk.network.remove_interface_from_router(router, subnet=subnet2.id)
    sdk.network.delete_router(router)
    sdk.network.delete_security_group(web)
    for gone in (subnet, subnet2):
        sdk.network.delete_subnet(gone)
    sdk.network.delete_network(net)
    sdk.network.delete_network(other)

    for describe, key, gateway_id in [
        ("describe_addresses", "Addresses", fip.id),
        ("describe_network_interfaces", "NetworkInterfaces", port.id),
        ("describe_route_tables", "RouteTables", router.id),
        ("describe_security_groups", "SecurityGroups", web.id),
        ("describe_subnets", "Subnets", subnet.id),
        ("describe_subnets", "Subnets", subnet2.id),
    ]:
        assert tagged(describe, key, gateway_id) == [], describe
    gateways = ec2().describe_internet_gateways(
        Filters=[{"Name": "attachment.vpc-id", "Values": [aws_subnet["VpcId"]]}]
    )["InternetGateways"]
    assert gateways == []


def test_the_cli_creates_network_subnet_and_security_group_rules(gateway: ServedGateway) -> None:
    """The commands in a row run in one ``openstack`` process (:meth:`ServedGateway.cli_batch`;
    each must succeed), naming what they made by name."""
    net, sub, sg = unique("cli-net"), unique("cli-sub"), unique("cli-sg")
    made, subnet, group, rule = map(
        json.loads,
        gateway.cli_batch(
            "interstack",
            ["network", "create", net, "-f", "json"],
            [
                "subnet", "create", sub, "--network", net, "--subnet-range", "10.30.0.0/24",
                "-f", "json",
            ],
            ["security", "group", "create", sg, "-f", "json"],
            [
                "security", "group", "rule", "create", sg, "--protocol", "udp", "--dst-port", "53",
                "--remote-ip", "10.0.0.0/8", "-f", "json",
            ],
            region=AWS,
        ),
    )  # fmt: skip
    assert rule["port_range_min"] == 53
    (aws_group,) = tagged("describe_security_groups", "SecurityGroups", group["id"])
    assert {
        (p["IpProtocol"], p["FromPort"], r["CidrIp"])
        for p in aws_group["IpPermissions"]
        for r in p.get("IpRanges", [])
    } == {("udp", 53, "10.0.0.0/8")}
    (aws_subnet,) = tagged("describe_subnets", "Subnets", subnet["id"])
    assert aws_subnet["CidrBlock"] == "10.30.0.0/24"
    # EC2 keeps the first four addresses and the last: IPAM's pool leaves them out
    assert subnet["allocation_pools"] == [{"start": "10.30.0.4", "end": "10.30.0.254"}]

    gateway.cli_batch(
        "interstack",
        ["security", "group", "delete", group["id"]],
        ["subnet", "delete", subnet["id"]],
        ["network", "delete", made["id"]],
        region=AWS,
    )
    assert tagged("describe_security_groups", "SecurityGroups", group["id"]) == []
    assert tagged("describe_subnets", "Subnets", subnet["id"]) == []


@pytest.mark.parametrize("region", [SIM, AWS])
def test_one_clouds_yaml_builds_the_same_network_server_and_floating_ip_in_both_regions(
    gateway: ServedGateway, region: str
) -> None:
    """The same code in both regions, only ``region_name`` differs; on aws, boto3 shows the
    instance on the port's ENI with the Elastic IP, and nothing of it left after deletion."""
    sdk = gateway.connect("interstack", region)
    public = public_network(sdk)
    routed = cloud.routed_network(sdk, unique("same"), "10.40.0.0/24", public)
    image = sdk.create_image(
        unique("same"),
        data=os.urandom(4096),
        disk_format="raw",
        container_format="bare",
        wait=True,
        timeout=120,
    )
    port = sdk.network.create_port(network_id=routed.network.id)
    # the same code picks each region's smallest flavor of 512 MiB or more by Nova's filters:
    # m1.tiny on sim, the instance type t3.nano on aws (its flavors are its instance types)
    (flavor, *_) = sdk.compute.flavors(min_ram=512, sort_key="memory_mb", sort_dir="asc")
    server = sdk.compute.create_server(
        name=unique("same"), flavor_id=flavor.id, image_id=image.id, networks=[{"port": port.id}]
    )
    server = sdk.compute.wait_for_server(server, status="ACTIVE", wait=120, interval=0.2)
    fip = cloud.floating_ip(sdk, public, port.id)
    shown = sdk.network.get_ip(fip.id)
    assert (shown.port_id, shown.fixed_ip_address) == (port.id, port.fixed_ips[0]["ip_address"])
    addresses = sdk.compute.get_server(server).addresses[routed.network.name]
    assert {(a["addr"], a["OS-EXT-IPS:type"]) for a in addresses} == {
        (port.fixed_ips[0]["ip_address"], "fixed"),
        (fip.floating_ip_address, "floating"),
    }
    in_aws = tagged("describe_addresses", "Addresses", fip.id)
    assert len(in_aws) == (1 if region == AWS else 0)  # each region is its own cloud
    if region == AWS:
        (eni,) = tagged("describe_network_interfaces", "NetworkInterfaces", port.id)
        reservations = ec2().describe_instances(
            Filters=[{"Name": "tag:openstack_id", "Values": [server.id]}]
        )["Reservations"]
        (instance,) = (i for r in reservations for i in r["Instances"])
        assert [n["NetworkInterfaceId"] for n in instance["NetworkInterfaces"]] == [
            eni["NetworkInterfaceId"]
        ]
        assert in_aws[0]["NetworkInterfaceId"] == eni["NetworkInterfaceId"]
    sdk.network.delete_ip(fip)
    sdk.compute.delete_server(server)
    sdk.compute.wait_for_delete(server, wait=120, interval=0.2)
    sdk.network.delete_port(port)
    sdk.network.remove_interface_from_router(routed.router, subnet=routed.subnet.id)
    sdk.network.delete_router(routed.router)
    sdk.network.delete_subnet(routed.subnet)
    sdk.network.delete_network(routed.network)
    sdk.image.delete_image(image)
    assert tagged("describe_addresses", "Addresses", fip.id) == []
    assert tagged("describe_network_interfaces", "NetworkInterfaces", port.id) == []
    assert tagged("describe_subnets", "Subnets", routed.subnet.id) == []
    live = {"Name": "instance-state-name", "Values": ["pending", "running", "stopping", "stopped"]}
    running = ec2().describe_instances(
        Filters=[{"Name": "tag:openstack_id", "Values": [server.id]}, live]
    )["Reservations"]
    assert running == []


def ec2_rules(group_id: str) -> set[tuple[str, str, int | None, int | None, str]]:
    """What EC2 holds for a group, one (direction, protocol, ports, remote) per permission."""
    (group,) = ec2().describe_security_groups(GroupIds=[group_id])["SecurityGroups"]
    found = set()
    for direction, key in (("ingress", "IpPermissions"), ("egress", "IpPermissionsEgress")):
        for perm in group[key]:
            ports = (perm.get("FromPort"), perm.get("ToPort"))
            remotes = [r["CidrIp"] for r in perm.get("IpRanges", [])]
            remotes += [r["CidrIpv6"] for r in perm.get("Ipv6Ranges", [])]
            remotes += [r["GroupId"] for r in perm.get("UserIdGroupPairs", [])]
            remotes += [r["PrefixListId"] for r in perm.get("PrefixListIds", [])]
            found |= {(direction, perm["IpProtocol"], *ports, remote) for remote in remotes}
    return found


def api_rules(sdk: Any, group_id: str) -> set[tuple[str, str, int | None, int | None, str]]:
    """The group's rules as the API lists them, in the shape of :func:`ec2_rules`."""
    return {
        (
            r.direction,
            r.protocol or "-1",
            r.port_range_min,
            r.port_range_max,
            r.remote_ip_prefix or ("::/0" if r.ether_type == "IPv6" else "0.0.0.0/0"),
        )
        for r in sdk.network.security_group_rules(security_group_id=group_id)
    }


def tcp_rule(sdk: Any, group_id: str, direction: str, port: int, remote: str) -> Any:
    """A rule of the group letting tcp ``port`` in or out (``direction``) from or to ``remote``."""
    return sdk.network.create_security_group_rule(
        security_group_id=group_id,
        direction=direction,
        protocol="tcp",
        port_range_min=port,
        port_range_max=port,
        remote_ip_prefix=remote,
    )


def test_a_permission_opened_outside_the_gateway_is_closed_by_the_next_rule_change(
    gateway: ServedGateway,
) -> None:
    sdk = gateway.connect("interstack", AWS)
    group = sdk.network.create_security_group(name=unique("firewall"))
    ssh = tcp_rule(sdk, group.id, "ingress", 22, "0.0.0.0/0")
    (aws_group,) = tagged("describe_security_groups", "SecurityGroups", group.id)
    group_id = aws_group["GroupId"]
    everything = {"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}

    opened = ("ingress", "-1", None, None, "0.0.0.0/0")
    ec2().authorize_security_group_ingress(GroupId=group_id, IpPermissions=[everything])
    assert opened in ec2_rules(group_id)
    tcp_rule(sdk, group.id, "ingress", 443, "10.0.0.0/8")  # a rule added through the API
    assert ec2_rules(group_id) == api_rules(sdk, group.id)
    assert ("ingress", "tcp", 443, 443, "10.0.0.0/8") in ec2_rules(group_id)

    ec2().authorize_security_group_ingress(GroupId=group_id, IpPermissions=[everything])
    assert opened in ec2_rules(group_id)
    sdk.network.delete_security_group_rule(ssh)  # a rule removed through the API
    assert ec2_rules(group_id) == api_rules(sdk, group.id)
    assert {rule for rule in ec2_rules(group_id) if rule[0] == "ingress"} == {
        ("ingress", "tcp", 443, 443, "10.0.0.0/8")
    }
    sdk.network.delete_security_group(group)


def test_a_rule_change_that_leaves_ec2s_rules_as_they_were_still_closes_what_was_opened(
    gateway: ServedGateway,
) -> None:
    """Neutron's ``icmp`` and ``ipv6-icmp`` rules of an IPv6 group are one EC2 permission
    (ICMPv6): deleting one of the two asks EC2 for the same permissions as before, and a
    permission opened outside the gateway meanwhile is revoked all the same."""
    sdk = gateway.connect("interstack", AWS)
    group = sdk.network.create_security_group(name=unique("icmp6"))
    rules = [
        sdk.network.create_security_group_rule(
            security_group_id=group.id, direction="ingress", ethertype="IPv6", protocol=protocol
        )
        for protocol in ("icmp", "ipv6-icmp")
    ]
    (aws_group,) = tagged("describe_security_groups", "SecurityGroups", group.id)
    group_id = aws_group["GroupId"]
    icmp6 = ("ingress", "58", -1, -1, "::/0")
    assert {rule for rule in ec2_rules(group_id) if rule[0] == "ingress"} == {icmp6}

    rdp = {"IpProtocol": "tcp", "FromPort": 3389, "ToPort": 3389}
    ec2().authorize_security_group_ingress(
        GroupId=group_id, IpPermissions=[{**rdp, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]
    )
    assert ("ingress", "tcp", 3389, 3389, "0.0.0.0/0") in ec2_rules(group_id)
    sdk.network.delete_security_group_rule(rules[0])
    assert {rule for rule in ec2_rules(group_id) if rule[0] == "ingress"} == {icmp6}
    sdk.network.delete_security_group(group)
    assert tagged("describe_security_groups", "SecurityGroups", group.id) == []


def test_an_aws_error_is_a_neutron_fault_with_the_aws_error_code(gateway: ServedGateway) -> None:
    """EC2 refusing a change (the group was deleted behind the gateway's back) answers the
    request with Neutron's fault body, EC2's error code in its message, and nothing of the
    change is kept."""
    sdk = gateway.connect("interstack", AWS)
    group = sdk.network.create_security_group(name=unique("gone"))
    (ec2_group,) = tagged("describe_security_groups", "SecurityGroups", group.id)
    ec2().delete_security_group(GroupId=ec2_group["GroupId"])
    rule = {"security_group_id": group.id, "direction": "ingress", "ethertype": "IPv4",
            "protocol": "tcp", "port_range_min": 8080, "port_range_max": 8080}  # fmt: skip
    answer = sdk.network.post("/security-group-rules", json={"security_group_rule": rule})
    assert answer.status_code >= 400, answer.text
    fault = answer.json()["NeutronError"]
    assert "InvalidGroup.NotFound" in fault["message"], fault
    assert {"type", "detail"} <= set(fault)
    kept = sdk.network.get_security_group(group.id).security_group_rules
    assert all(r.get("port_range_min") != 8080 for r in kept)
    sdk.network.delete_security_group(group)


@pytest.mark.parametrize("region", [SIM, AWS])
def test_a_created_security_group_is_answered_as_a_get_shows_it(
    gateway: ServedGateway, region: str
) -> None:
    """The create answers with the group and egress rules it wrote, not a read of them after
    the backend made the group: the body is the one a GET shows, field for field."""
    sdk = gateway.connect("interstack", region)
    new = {"name": unique("as-shown"), "description": "answered as written", "stateful": True}
    made = sdk.network.post("/security-groups", json={"security_group": new})
    assert made.status_code == 201, made.text
    group = made.json()["security_group"]
    shown = sdk.network.get(f"/security-groups/{group['id']}").json()["security_group"]
    assert group == shown
    assert {(r["direction"], r["ethertype"]) for r in group["security_group_rules"]} == {
        ("egress", "IPv4"),
        ("egress", "IPv6"),
    }
    sdk.network.delete_security_group(group["id"])


def test_two_routers_have_a_route_table_each_and_share_the_vpcs_internet_gateway(
    gateway: ServedGateway,
) -> None:
    """Several routers of one project: each is its own route table in the project's VPC,
    holding its networks' subnets; those with an external gateway route 0.0.0.0/0 through the
    VPC's one internet gateway, which stays while any of them has a gateway and goes with the
    last; a router without one routes nothing out."""
    sdk = gateway.connect("interstack", AWS)
    public = public_network(sdk)
    made = [
        cloud.routed_network(sdk, unique(f"r{n}"), f"10.8{n}.0.0/24", public if n < 2 else None)
        for n in range(3)
    ]
    tables = [tagged("describe_route_tables", "RouteTables", m.router.id)[0] for m in made]
    subnets = [tagged("describe_subnets", "Subnets", m.subnet.id)[0] for m in made]
    vpc = subnets[0]["VpcId"]
    assert {t["VpcId"] for t in tables} == {vpc}
    for table, subnet in zip(tables, subnets, strict=True):
        assert [a.get("SubnetId") for a in table["Associations"]] == [subnet["SubnetId"]]
    (igw,) = ec2().describe_internet_gateways(
        Filters=[{"Name": "attachment.vpc-id", "Values": [vpc]}]
    )["InternetGateways"]

    def outward(table_id: str) -> list[str]:
        (table,) = ec2().describe_route_tables(RouteTableIds=[table_id])["RouteTables"]
        return [
            r.get("GatewayId", "")
            for r in table["Routes"]
            if r.get("DestinationCidrBlock") == "0.0.0.0/0"
        ]

    ids = [t["RouteTableId"] for t in tables]
    assert [outward(i) for i in ids] == [[igw["InternetGatewayId"]]] * 2 + [[]]

    sdk.network.update_router(made[0].router, external_gateway_info=None)
    (table,) = tagged("describe_route_tables", "RouteTables", made[0].router.id)
    assert [a.get("SubnetId") for a in table["Associations"]] == [subnets[0]["SubnetId"]]
    assert outward(table["RouteTableId"]) == []
    assert outward(ids[1]) == [igw["InternetGatewayId"]]  # the other router still goes out
    for m in made:
        sdk.network.remove_interface_from_router(m.router, subnet=m.subnet.id)
        sdk.network.delete_router(m.router)
        sdk.network.delete_subnet(m.subnet)
        sdk.network.delete_network(m.network)
    for m in made:
        assert tagged("describe_route_tables", "RouteTables", m.router.id) == []
    gateways = ec2().describe_internet_gateways(
        Filters=[{"Name": "attachment.vpc-id", "Values": [vpc]}]
    )["InternetGateways"]
    assert gateways == []
    sdk.close()


def test_a_port_without_groups_is_in_the_projects_default_group_as_neutron_makes_it(
    gateway: ServedGateway,
) -> None:
    """Neutron puts a port created without groups in the project's ``default`` group, whose
    rules let in what comes from the group's own members and let everything out: in EC2 the
    ENI is in that group's VPC group, holding a reference to itself and the egress rules. A
    port asked for with no group at all is in the VPC's own default group, emptied."""
    sdk = gateway.connect("interstack", AWS)
    net = sdk.network.create_network(name=unique("dflt"))
    subnet = sdk.network.create_subnet(network_id=net.id, cidr="10.91.0.0/24", ip_version=4)
    port = sdk.network.create_port(network_id=net.id)
    (default,) = [
        g
        for g in sdk.network.security_groups(project_id=sdk.current_project_id)
        if g.name == "default"
    ]
    assert port.security_group_ids == [default.id]
    (aws_default,) = tagged("describe_security_groups", "SecurityGroups", default.id)
    (eni,) = tagged("describe_network_interfaces", "NetworkInterfaces", port.id)
    assert [g["GroupId"] for g in eni["Groups"]] == [aws_default["GroupId"]]
    rules = ec2_rules(aws_default["GroupId"])
    assert {r for r in rules if r[0] == "ingress"} == {
        ("ingress", "-1", None, None, aws_default["GroupId"])
    }
    assert {r for r in rules if r[0] == "egress"} == {
        ("egress", "-1", None, None, "0.0.0.0/0"),
        ("egress", "-1", None, None, "::/0"),
    }

    # one asked for with no group at all is in no Neutron group, and lets nothing in or out
    bare = sdk.network.create_port(network_id=net.id, security_group_ids=[])
    assert bare.security_group_ids == []
    (bare_eni,) = tagged("describe_network_interfaces", "NetworkInterfaces", bare.id)
    (group_id,) = [g["GroupId"] for g in bare_eni["Groups"]]
    (vpc_default,) = ec2().describe_security_groups(GroupIds=[group_id])["SecurityGroups"]
    assert vpc_default["GroupName"] == "default"  # the VPC's own, not the project's
    assert ec2_rules(group_id) == set()
    for gone in (port, bare):
        sdk.network.delete_port(gone)
        assert tagged("describe_network_interfaces", "NetworkInterfaces", gone.id) == []
    sdk.network.delete_subnet(subnet)
    sdk.network.delete_network(net)
    sdk.close()


def ipv4(rules: set[tuple[str, str, int | None, int | None, str]]) -> set[Any]:
    """The rules of :func:`ec2_rules` whose remote is not IPv6."""
    return {rule for rule in rules if ":" not in rule[4]}


def test_neutrons_egress_rules_deleted_close_ec2s_automatic_egress(gateway: ServedGateway) -> None:
    """EC2 gives every new group an allow-all IPv4 egress rule of its own; Neutron's group
    holds its two egress rules as rules the user may delete: deleting them leaves the EC2
    group letting nothing out, and an egress rule added then is the only one EC2 holds."""
    sdk = gateway.connect("interstack", AWS)
    group = sdk.network.create_security_group(name=unique("egress"))
    (aws_group,) = tagged("describe_security_groups", "SecurityGroups", group.id)
    group_id = aws_group["GroupId"]
    everywhere = {("egress", "-1", None, None, "0.0.0.0/0"), ("egress", "-1", None, None, "::/0")}
    assert ec2_rules(group_id) == everywhere
    for rule in sdk.network.security_group_rules(security_group_id=group.id):
        sdk.network.delete_security_group_rule(rule)
    # moto ignores the revocation of an IPv6 range in a VPC without an IPv6 block (EC2 does
    # not), so the ::/0 permission it still shows is the emulator's
    assert ipv4(ec2_rules(group_id)) == set()
    tcp_rule(sdk, group.id, "egress", 443, "10.0.0.0/8")
    assert ipv4(ec2_rules(group_id)) == {("egress", "tcp", 443, 443, "10.0.0.0/8")}
    assert ipv4(ec2_rules(group_id)) == api_rules(sdk, group.id)
    sdk.network.delete_security_group(group)
    assert tagged("describe_security_groups", "SecurityGroups", group.id) == []
    sdk.close()
