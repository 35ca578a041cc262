"""Ansible's dynamic inventory from the gateway: the ``openstack.cloud.openstack`` inventory
plugin (playbooks/inventory/openstack.yml, the file users write) lists the project's servers.

``ansible-inventory --list`` (a subprocess with the gateway's clouds.yaml) on a simulated cloud:
two servers made with openstacksdk, one with a floating IP and an attached volume, grouped by
their metadata as the plugin does it (``group`` and ``groups``); another project's server with
the same metadata is not listed, except in an admin's inventory of all projects. A play over
the inventory's hosts (playbooks/host_info.yml) reads each one's server in detail, its image
and its volumes with the ``*_info`` modules and checks them against the inventory. The LAMP
stack's test on the local backend configures real servers through the same inventory.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from interstack.client.networks import floating_ip, routed_network
from tests.api.servers.conftest import FAST_SIM, REGION
from tests.support import ansible
from tests.support.compute import server_active
from tests.support.gateway import ServedGateway

PLAYBOOKS = Path(__file__).parent / "playbooks"


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedGateway]:
    with ServedGateway(tmp_path_factory.mktemp("inventory") / "data", config=FAST_SIM) as served:
        yield served


def boot(conn: Any, name: str, network: Any, metadata: dict[str, str]) -> Any:
    image = conn.image.find_image("inv-image") or conn.image.create_image(
        name="inv-image", data=b"inventory test image\n", disk_format="raw", container_format="bare"
    )
    flavor = conn.compute.find_flavor("m1.tiny", ignore_missing=False)
    return conn.compute.create_server(
        name=name,
        image_id=image.id,
        flavor_id=flavor.id,
        networks=[{"uuid": network.id}],
        metadata=metadata,
    )


@pytest.fixture(scope="module")
def servers(cloud: ServedGateway) -> Iterator[dict[str, Any]]:
    """The member's database server (floating IP, volume) and web server (fixed IP only); the
    admin's project has a server too."""
    admin, conn = cloud.connect("interstack-admin"), cloud.connect("interstack")
    public = admin.network.create_network(name="public", is_router_external=True)
    admin.network.create_subnet(
        network_id=public.id, cidr="203.0.113.0/24", ip_version=4, is_dhcp_enabled=False
    )
    network = routed_network(conn, "inv", "10.91.0.0/24", public).network
    admins_network = admin.network.create_network(name="admin-net")
    admin.network.create_subnet(network_id=admins_network.id, cidr="10.92.0.0/24", ip_version=4)
    booting = {
        "db": (conn, boot(conn, "inv-db", network, {"group": "inv_db", "role": "db"})),
        "web": (conn, boot(conn, "inv-web", network, {"groups": "inv_web, inv"})),
        "admin": (admin, boot(admin, "admin-db", admins_network, {"group": "inv_db"})),
    }
    for owner, server in booting.values():
        server_active(owner, server)
    db = booting["db"][1]
    (port,) = conn.network.ports(device_id=db.id)
    floating_ip(conn, public, port.id)
    volume = conn.block_storage.create_volume(size=1, name="inv-data")
    conn.block_storage.wait_for_status(volume, "available", interval=0.2, wait=60)
    conn.compute.create_volume_attachment(db, volume_id=volume.id)
    conn.block_storage.wait_for_status(volume, "in-use", interval=0.2, wait=60)
    yield {name: conn.compute.get_server(booting[name][1].id) for name in ("db", "web")}
    admin.close()
    conn.close()


@pytest.fixture(scope="module")
def listed(
    cloud: ServedGateway, servers: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    return ansible.list_inventory(cloud, tmp_path_factory.mktemp("ansible"))


def addresses(server: Any, kind: str) -> list[str]:
    return [
        a["addr"]
        for network in server.addresses.values()
        for a in network
        if a["OS-EXT-IPS:type"] == kind
    ]


def test_the_projects_servers_are_the_hosts_grouped_by_their_metadata(
    listed: dict[str, Any],
) -> None:
    assert sorted(listed["_meta"]["hostvars"]) == ["inv-db", "inv-web"]
    assert listed["inv_db"]["hosts"] == ["inv-db"]
    assert listed["inv_web"]["hosts"] == listed["inv"]["hosts"] == ["inv-web"]
    # the cloud, the region and the availability zone group every server
    for group in ("interstack", REGION, f"interstack_{REGION}", "nova"):
        assert sorted(listed[group]["hosts"]) == ["inv-db", "inv-web"], group
    assert listed["meta-role_db"]["hosts"] == ["inv-db"]
    assert sorted(listed["flavor-m1.tiny"]["hosts"]) == ["inv-db", "inv-web"]


def test_a_server_is_reached_on_its_floating_ip_else_its_fixed_ip(
    listed: dict[str, Any], servers: dict[str, Any]
) -> None:
    db, web = (listed["_meta"]["hostvars"][name] for name in ("inv-db", "inv-web"))
    (floating,) = addresses(servers["db"], "floating")
    (fixed,) = addresses(servers["db"], "fixed")
    assert db["ansible_host"] == db["ansible_ssh_host"] == floating
    assert db["fixed_ip"] == fixed  # composed by the inventory file
    (web_fixed,) = addresses(servers["web"], "fixed")
    assert web["ansible_host"] == web["fixed_ip"] == web_fixed


def test_each_host_carries_its_server_and_attached_volumes(
    listed: dict[str, Any], servers: dict[str, Any]
) -> None:
    db, web = (listed["_meta"]["hostvars"][name]["openstack"] for name in ("inv-db", "inv-web"))
    assert (db["id"], db["status"], db["metadata"]) == (
        servers["db"].id,
        "ACTIVE",
        {"group": "inv_db", "role": "db"},
    )
    assert db["flavor"]["name"] == "m1.tiny"
    assert db["cloud"] == {"name": "interstack", "region": REGION}
    (volume,) = db["volumes"]
    (attachment,) = volume["attachments"]
    assert (volume["name"], volume["status"], attachment["server_id"]) == (
        "inv-data",
        "in-use",
        servers["db"].id,
    )
    assert attachment["device"].startswith("/dev/vd")
    assert web["volumes"] == []


def test_a_play_over_the_inventory_finds_each_host_in_the_cloud(
    cloud: ServedGateway, servers: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> None:
    work = tmp_path_factory.mktemp("play")
    (work / "vars.json").write_text(json.dumps({"cloud": "interstack"}))
    run = ansible.run_playbook(
        cloud, work, PLAYBOOKS / "host_info.yml", inventory=ansible.OPENSTACK_INVENTORY
    )
    run.assert_succeeded()
    checked = re.findall(r"^ok: \[(\S+)\] => .*\n.*\n.*All assertions passed", run.output, re.M)
    assert sorted(checked) == ["inv-db", "inv-web"], run.output
    assert "admin-db" not in run.output


def test_an_admins_inventory_of_all_projects_lists_every_server(
    cloud: ServedGateway, servers: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> None:
    work = tmp_path_factory.mktemp("admin")
    inventory = work / "openstack.yml"
    inventory.write_text(
        "plugin: openstack.cloud.openstack\n"
        "only_clouds: [interstack-admin]\n"
        "all_projects: true\n"
        "fail_on_errors: true\n"
    )
    listed = ansible.list_inventory(cloud, work, inventory)
    assert sorted(listed["_meta"]["hostvars"]) == ["admin-db", "inv-db", "inv-web"]
    assert sorted(listed["inv_db"]["hosts"]) == ["admin-db", "inv-db"]
    projects = {host["openstack"]["project_id"] for host in listed["_meta"]["hostvars"].values()}
    assert len(projects) == 2
