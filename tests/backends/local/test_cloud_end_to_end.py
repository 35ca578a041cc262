"""The local backend as a cloud, driven as a user drives one: openstacksdk against a served
gateway whose region is ``local``, then ``ssh`` from the host to a floating IP.

Two servers boot (each boot is real: runc, cloud-init, sshd). One sits behind a router with
an SSH rule and is reached over its floating IP; the other is on another network behind another
router, first without any SSH rule. Traffic goes only to the addresses this test creates on the
host's external bridge and to the instances behind it.
"""

from __future__ import annotations

import socket
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from interstack.backends.local.cleanup import cleanup_host
from tests.support.gateway import ServedGateway
from tests.support.local import image_cache_dir
from tests.support.waiting import eventually

REGION = "RegionOne"
USER_DATA = """#cloud-config
write_files:
  - path: /etc/interstack-e2e
    content: "written by cloud-init\\n"
"""


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory, default_image: Path) -> Iterator[ServedGateway]:
    """A gateway whose one region is the local backend (skipped where the host cannot run it:
    ``default_image`` says why)."""
    data = tmp_path_factory.mktemp("e2e") / "data"
    config = {
        "regions": [
            {
                "name": REGION,
                "backend": "local",
                "settings": {"image_cache_dir": str(image_cache_dir())},
            }
        ]
    }
    served = ServedGateway(data, config=config).start(timeout=120)
    yield served
    served.stop()
    cleanup_host([data / "backends" / REGION], lock_wait=60)


@pytest.fixture(scope="module")
def conn(cloud: ServedGateway) -> Any:
    return cloud.connect("interstack")


@pytest.fixture(scope="module")
def key_file(conn: Any, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    keypair = conn.compute.create_keypair(name=f"e2e-{uuid.uuid4().hex[:6]}")
    path = tmp_path_factory.mktemp("keys") / "id"
    path.write_text(keypair.private_key)
    path.chmod(0o600)
    return keypair.name, path


def routed_network(conn: Any, cidr: str) -> tuple[Any, Any]:
    """A network with a subnet, behind a router whose gateway is the external network."""
    public = next(n for n in conn.network.networks() if n.is_router_external)
    network = conn.network.create_network(name=f"e2e-{uuid.uuid4().hex[:6]}")
    subnet = conn.network.create_subnet(network_id=network.id, cidr=cidr, ip_version=4)
    router = conn.network.create_router(
        name=f"e2e-{uuid.uuid4().hex[:6]}", external_gateway_info={"network_id": public.id}
    )
    conn.network.add_interface_to_router(router, subnet=subnet.id)
    return network, router


def boot(conn: Any, name: str, network: Any, group: Any, key_name: str) -> Any:
    return conn.create_server(
        name=name,
        image="debian-12",
        flavor="m1.tiny",
        network=network.id,
        security_groups=[group.name],
        key_name=key_name,
        userdata=USER_DATA,
        auto_ip=True,
        wait=True,
        timeout=900,
    )


def ssh(key: Path, address: str, command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            "ssh",
            "-i",
            str(key),
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "UserKnownHostsFile=/dev/null",
            "-o",
            "BatchMode=yes",
            "-o",
            "ConnectTimeout=5",
            f"debian@{address}",
            command,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def sshd_answers(address: str) -> bool:
    """Whether an sshd greets on ``address``:22 (an accepted connection alone proves nothing:
    the host's own way out may accept connections to any address)."""
    try:
        with socket.create_connection((address, 22), timeout=3) as conn:
            conn.settimeout(3)
            return conn.recv(4) == b"SSH-"
    except OSError:
        return False


def floating_ip(conn: Any, server: Any) -> str:
    found = [
        a["addr"]
        for addresses in conn.compute.get_server(server.id).addresses.values()
        for a in addresses
        if a["OS-EXT-IPS:type"] == "floating"
    ]
    assert found, f"server {server.name} has no floating IP"
    return str(found[0])


def fixed_ip(conn: Any, server: Any) -> str:
    return str(
        next(
            a["addr"]
            for addresses in conn.compute.get_server(server.id).addresses.values()
            for a in addresses
            if a["OS-EXT-IPS:type"] == "fixed"
        )
    )


def test_ssh_to_a_floating_ip_and_isolation_between_networks(
    conn: Any, key_file: tuple[str, Path]
) -> None:
    key_name, key = key_file
    web_net, _ = routed_network(conn, "10.71.0.0/24")
    other_net, _ = routed_network(conn, "10.72.0.0/24")
    ssh_group = conn.network.create_security_group(name=f"ssh-{uuid.uuid4().hex[:6]}")
    conn.network.create_security_group_rule(
        security_group_id=ssh_group.id,
        direction="ingress",
        protocol="tcp",
        port_range_min=22,
        port_range_max=22,
        remote_ip_prefix="0.0.0.0/0",
    )
    closed_group = conn.network.create_security_group(name=f"closed-{uuid.uuid4().hex[:6]}")

    web = boot(conn, "E2E Web", web_net, ssh_group, key_name)
    other = boot(conn, "e2e-other", other_net, closed_group, key_name)
    assert web.status == other.status == "ACTIVE"
    web_ip, other_ip = floating_ip(conn, web), floating_ip(conn, other)

    # the host reaches the first server over SSH with the keypair; cloud-init configured it
    answer = eventually(
        lambda: ssh(key, web_ip, "hostname; cat /etc/interstack-e2e; cat ~/.ssh/authorized_keys"),
        lambda done: done.returncode == 0,
        "SSH to the floating IP to answer",
        bound=180,
    )
    lines = answer.stdout.splitlines()
    assert lines[0] == "e2e-web"
    assert lines[1] == "written by cloud-init"
    assert key_name in answer.stdout or "ssh-rsa" in answer.stdout
    public_key = conn.compute.get_keypair(key_name).public_key.split()[1]
    assert public_key in answer.stdout

    # without an SSH rule the second server's port 22 is closed to the host...
    assert not sshd_answers(other_ip)
    # ...and opens once its group allows it (so it was the rule, not a dead server)
    conn.network.create_security_group_rule(
        security_group_id=closed_group.id,
        direction="ingress",
        protocol="tcp",
        port_range_min=22,
        port_range_max=22,
        remote_ip_prefix="0.0.0.0/0",
    )
    assert eventually(lambda: sshd_answers(other_ip), bool, "the SSH rule to open port 22")

    # the two networks are apart: the first server cannot reach the second's fixed address,
    # although the second server now accepts SSH from anywhere (its floating IP is reachable)
    probe = "timeout 5 bash -c 'exec 3<>/dev/tcp/{}/22; head -c 4 <&3'"
    assert ssh(key, web_ip, probe.format(other_ip)).stdout == "SSH-"
    assert ssh(key, web_ip, probe.format(fixed_ip(conn, other))).stdout == ""

    for server in (web, other):
        assert conn.delete_server(server.id, wait=True, delete_ips=True, timeout=120)
    assert not sshd_answers(web_ip)
