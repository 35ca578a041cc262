"""Real instances of a served gateway's local region read the metadata service at
169.254.169.254 with cloud-init's OpenStack datasource: each one gets its own identity (and
only its own), its hostname from the server name, the keypair's key and its user data. A server
created with ``config_drive: true`` gets the same from its config drive, even on a subnet
without DHCP, where no metadata service is reachable."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from interstack.backends.local.instance_record import ref_for
from interstack.backends.local.network import names
from tests.support.gateway import ServedGateway
from tests.support.identity import unique
from tests.support.local import exec_in, in_netns
from tests.support.waiting import eventually

REGION = "RegionOne"
PUBLIC_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDx4rYQnIbq0l2hZ7bW1gkMJ0kq7cP0bQ2Ck1sm3Y8gm md@t"
USER_DATA = "#cloud-config\nruncmd:\n  - [touch, /var/tmp/user-data-ran]\n"
FETCH = (
    'python3 -c "import urllib.request; print(urllib.request.urlopen('
    "'http://169.254.169.254/openstack/latest/meta_data.json', timeout=10).read().decode())\""
)


@pytest.fixture(scope="module")
def servers(cloud: ServedGateway) -> Iterator[list[Any]]:
    """Two servers on a network without a router, booted as a user boots them, and one with a
    config drive on a subnet without DHCP.

    The two share a user's pool of three addresses with the subnet's DHCP port, the gateway at
    the last address: once the DHCP server took the address below the gateway, which this pool
    holds, so a server could get it and find the metadata service on its own address."""
    image_id = "debian-12"
    conn = cloud.connect("interstack")
    key = conn.compute.create_keypair(name=unique("md-key"), public_key=PUBLIC_KEY)
    network = conn.network.create_network(name=unique("md-net"))
    subnet = conn.network.create_subnet(
        network_id=network.id,
        cidr="10.95.0.0/28",
        ip_version=4,
        gateway_ip="10.95.0.14",
        allocation_pools=[{"start": "10.95.0.11", "end": "10.95.0.13"}],
        name=unique("md-sub"),
    )
    booted = [
        conn.create_server(
            name,
            image=image_id,
            flavor="m1.tiny",
            network=network.id,
            key_name=key.name,
            userdata=USER_DATA,
            auto_ip=False,
            wait=True,
            timeout=600,
        )
        for name in ("md-alpha", "md-beta")
    ]
    static = conn.network.create_network(name=unique("md-static"))
    static_subnet = conn.network.create_subnet(
        network_id=static.id,
        cidr="10.96.0.0/24",
        ip_version=4,
        enable_dhcp=False,
        name=unique("md-static-sub"),
    )
    booted.append(
        conn.create_server(
            "md-drive",
            image=image_id,
            flavor="m1.tiny",
            network=static.id,
            key_name=key.name,
            userdata=USER_DATA,
            config_drive=True,
            auto_ip=False,
            wait=True,
            timeout=600,
        )
    )
    yield booted
    for server in booted:
        conn.delete_server(server.id, wait=True, timeout=300)
    for sub, net in ((subnet, network), (static_subnet, static)):
        conn.network.delete_subnet(sub)
        conn.network.delete_network(net)
    conn.compute.delete_keypair(key)


def run_in(
    gateway: ServedGateway, server_id: str, command: str
) -> subprocess.CompletedProcess[str]:
    runc_root = gateway.data_dir / "backends" / REGION / "runc"
    return exec_in(runc_root, ref_for(server_id), command)


def cloud_init_done(gateway: ServedGateway, server_id: str) -> None:
    eventually(
        lambda: run_in(gateway, server_id, "test -f /var/lib/cloud/instance/boot-finished"),
        lambda done: done.returncode == 0,
        f"cloud-init to finish in {server_id}",
    )


def test_each_instance_reads_its_own_metadata(cloud: ServedGateway, servers: list[Any]) -> None:
    for server in servers[:2]:
        fetched = run_in(cloud, server.id, FETCH)
        assert fetched.returncode == 0, fetched.stderr
        meta = json.loads(fetched.stdout)
        assert meta["uuid"] == server.id
        assert meta["name"] == server.name
        assert meta["public_keys"] == {server.key_name: PUBLIC_KEY}


def test_cloud_init_applies_the_openstack_datasource(
    cloud: ServedGateway, servers: list[Any]
) -> None:
    for server in servers:
        cloud_init_done(cloud, server.id)
        facts = run_in(
            cloud,
            server.id,
            "hostname; cat /var/lib/cloud/data/instance-id; cat /var/lib/cloud/instance/datasource;"
            " cat /home/debian/.ssh/authorized_keys; cloud-init status;"
            " { ! grep -q 'Running module grub-dpkg' /var/log/cloud-init.log ||"
            " grep -q 'disabled by config grub_dpkg' /var/log/cloud-init.log; } && echo NO-GRUB;"
            " test -f /var/tmp/user-data-ran && echo RAN",
        )
        assert facts.returncode == 0, facts.stderr
        lines = facts.stdout.splitlines()
        assert lines[0] == server.name
        assert lines[1] == server.id
        expected = "DataSourceConfigDrive" if server.name == "md-drive" else "DataSourceOpenStack"
        assert expected in lines[2]
        assert PUBLIC_KEY in facts.stdout
        assert "status: done" in lines  # no module failed
        # the image has no grub: cloud-init's grub-dpkg is not in its modules, or is off
        assert lines[-2] == "NO-GRUB"
        assert lines[-1] == "RAN"


def test_the_config_drive_holds_the_servers_own_metadata(
    cloud: ServedGateway, servers: list[Any]
) -> None:
    drive = servers[2]
    listed = run_in(
        cloud,
        drive.id,
        "cat /var/lib/cloud/seed/config_drive/openstack/latest/meta_data.json; echo;"
        " ls /var/lib/cloud/seed/config_drive/openstack/",
    )
    assert listed.returncode == 0, listed.stderr
    meta_line, *versions = listed.stdout.splitlines()
    assert json.loads(meta_line)["uuid"] == drive.id
    assert "2012-08-10" in versions and "latest" in versions
    # no metadata service on a subnet without DHCP: the drive was the only source
    unreachable = run_in(cloud, drive.id, FETCH)
    assert unreachable.returncode != 0


def test_the_gateway_port_does_not_answer_metadata(
    cloud: ServedGateway, servers: list[Any]
) -> None:
    answer = httpx.get(f"{cloud.url}/openstack/latest/meta_data.json", timeout=10)
    assert answer.status_code == 404
    assert servers[0].id not in answer.text


def dhcp_address(gateway: ServedGateway, server: Any) -> str:
    """The address of the DHCP port on the server's network."""
    conn = gateway.connect("interstack")
    port = next(conn.network.ports(device_id=server.id))
    (dhcp,) = conn.network.ports(network_id=port.network_id, device_owner="network:dhcp")
    return str(dhcp.fixed_ips[0]["ip_address"])


def test_the_servers_and_the_dhcp_port_share_the_pool_without_a_clash(
    cloud: ServedGateway, servers: list[Any]
) -> None:
    """The three addresses of the pool: one each; the DHCP namespace is on its port's."""
    conn = cloud.connect("interstack")
    given = {
        next(conn.network.ports(device_id=s.id)).fixed_ips[0]["ip_address"] for s in servers[:2]
    }
    dhcp = dhcp_address(cloud, servers[0])
    assert given | {dhcp} == {"10.95.0.11", "10.95.0.12", "10.95.0.13"}
    subnet_id = next(conn.network.ports(device_id=servers[0].id)).fixed_ips[0]["subnet_id"]
    namespace = names.renamed(names.DHCP, names.ref(names.SUBNET, subnet_id))
    shown = in_netns(namespace, "ip", "-4", "-o", "addr", "show", names.DHCP_IFNAME)
    assert f" {dhcp}/28 " in shown


def test_instances_are_told_their_subnets_resolver(
    cloud: ServedGateway, servers: list[Any]
) -> None:
    """As DHCP would tell them: the subnet's dnsmasq, on its DHCP port's address."""
    for server in servers[:2]:
        resolv = run_in(cloud, server.id, "grep -v '^#' /etc/resolv.conf")
        assert resolv.stdout.split() == ["nameserver", dhcp_address(cloud, server)]
