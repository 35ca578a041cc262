"""A served gateway whose one region is the local backend, driven as a user drives a cloud:
openstacksdk, then ``ssh`` from the host to floating IPs (helpers shared by the real-boot tests).

Traffic goes only to the addresses these tests create on the host's external bridge and to the
instances behind it.
"""

from __future__ import annotations

import socket
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

from interstack.backends.local.network import names
from interstack.client import networks as cloud
from tests.support.local import in_netns
from tests.support.waiting import eventually

REGION = "RegionOne"
USER_DATA = """#cloud-config
write_files:
  - path: /etc/interstack-e2e
    content: "written by cloud-init\\n"
"""


def routed_network(conn: Any, cidr: str) -> tuple[Any, Any]:
    """A network with a subnet, behind a router whose gateway is the external network."""
    public = cloud.external_network(conn)
    assert public is not None, "the local region has no external network"
    routed = cloud.routed_network(conn, f"e2e-{uuid.uuid4().hex[:6]}", cidr, public)
    return routed.network, routed.router


def security_group(conn: Any, prefix: str) -> Any:
    return conn.network.create_security_group(name=f"{prefix}-{uuid.uuid4().hex[:6]}")


def allow_ssh(conn: Any, group: Any, *, from_group: Any = None) -> None:
    """An ingress rule for tcp/22 into ``group``: from anywhere, or from ``from_group``'s
    members only."""
    source = (
        {"remote_group_id": from_group.id}
        if from_group is not None
        else {"remote_ip_prefix": "0.0.0.0/0"}
    )
    conn.network.create_security_group_rule(
        security_group_id=group.id,
        direction="ingress",
        protocol="tcp",
        port_range_min=22,
        port_range_max=22,
        **source,
    )


def boot(
    conn: Any,
    name: str,
    network: Any,
    group: Any,
    key_name: str,
    userdata: str | None = USER_DATA,
    *,
    wait: bool = True,
) -> Any:
    """A ``debian-12`` ``m1.tiny`` server with a floating IP, booted as a user boots one through
    openstacksdk's cloud layer (``wait=False``: not waited for, so that several boot at once)."""
    return conn.create_server(
        name=name,
        image="debian-12",
        flavor="m1.tiny",
        network=network.id,
        security_groups=[group.name],
        key_name=key_name,
        userdata=userdata,
        auto_ip=True,
        wait=wait,
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


def ssh_once_up(
    key: Path, address: str, command: str, what: str, bound: float = 120
) -> subprocess.CompletedProcess[str]:
    """The first run of ``command`` over SSH that succeeds, tried until the guest answers (after
    a boot, a start or a reboot); ``what`` names the wait in a failure."""
    return eventually(
        lambda: ssh(key, address, command), lambda done: done.returncode == 0, what, bound=bound
    )


def guest(key: Path, address: str, command: str) -> str:
    """The output of a shell command run as root in the guest; the command must succeed."""
    done = ssh(key, address, f"sudo sh -ec '{command}'")
    assert done.returncode == 0, f"{command!r} on {address}: {done.stdout}{done.stderr}"
    return done.stdout.strip()


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


def dhcp_leg(subnet_id: str) -> tuple[str, str]:
    """The (IPv4 addresses, MAC) of the DHCP namespace's leg on the bridge of a subnet."""
    namespace = names.renamed(names.DHCP, names.ref(names.SUBNET, subnet_id))
    addresses = in_netns(namespace, "ip", "-4", "-o", "addr", "show", names.DHCP_IFNAME)
    link = in_netns(namespace, "ip", "-o", "link", "show", names.DHCP_IFNAME)
    return addresses, link.split("link/ether ")[1].split()[0]


def booted_now(key: Path, address: str, command: str = "true") -> tuple[str, float] | None:
    """The output of ``command`` on the guest and the guest's boot instant, read together; None
    while SSH or the command fails."""
    done = ssh(key, address, f"{command} && cut -d' ' -f1 /proc/uptime && date +%s.%N")
    if done.returncode != 0:
        return None
    *output, uptime, now = done.stdout.splitlines()
    return "\n".join(output), float(now) - float(uptime)


def up_for_two_seconds(key: Path, address: str) -> float:
    """The guest's boot instant, once it has been up for two seconds (a reboot after it is a
    boot at a later second)."""
    seen = eventually(
        lambda: booted_now(key, address),
        lambda seen: seen is not None and time.time() - seen[1] > 2,
        f"{address} to be up for two seconds",
    )
    assert seen is not None
    return seen[1]


def booted_again(key: Path, address: str, command: str, booted: float, what: str) -> str:
    """The output of ``command`` on the guest once it runs a boot later than ``booted``."""
    seen = eventually(
        lambda: booted_now(key, address, command),
        lambda seen: seen is not None and seen[1] > booted + 1,
        what,
        bound=120,
    )
    assert seen is not None
    return seen[0]
