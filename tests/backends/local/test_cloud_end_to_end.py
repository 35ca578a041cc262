"""The local backend as a cloud, driven as a user drives one: openstacksdk against a served
gateway whose region is ``local``, then ``ssh`` from the host to a floating IP.

Two servers boot (each boot is real: runc, cloud-init, sshd). One sits behind a router with
an SSH rule and is reached over its floating IP; the other is on another network behind another
router, first without any SSH rule. Traffic goes only to the addresses this test creates on the
host's external bridge and to the instances behind it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.backends.local.cloud import (
    allow_ssh,
    boot,
    fixed_ip,
    floating_ip,
    routed_network,
    security_group,
    ssh,
    ssh_once_up,
    sshd_answers,
)
from tests.support.waiting import eventually


def test_ssh_to_a_floating_ip_and_isolation_between_networks(
    conn: Any, key_file: tuple[str, Path]
) -> None:
    key_name, key = key_file
    web_net, _ = routed_network(conn, "10.71.0.0/24")
    other_net, _ = routed_network(conn, "10.72.0.0/24")
    ssh_group = security_group(conn, "ssh")
    allow_ssh(conn, ssh_group)
    closed_group = security_group(conn, "closed")

    web = boot(conn, "E2E Web", web_net, ssh_group, key_name)
    other = boot(conn, "e2e-other", other_net, closed_group, key_name)
    assert web.status == other.status == "ACTIVE"
    web_ip, other_ip = floating_ip(conn, web), floating_ip(conn, other)

    # the host reaches the first server over SSH with the keypair; cloud-init configured it
    reading = "hostname; cat /etc/interstack-e2e; cat ~/.ssh/authorized_keys"
    answer = ssh_once_up(key, web_ip, reading, "SSH to the floating IP to answer", bound=180)
    lines = answer.stdout.splitlines()
    assert lines[0] == "e2e-web"
    assert lines[1] == "written by cloud-init"
    assert key_name in answer.stdout or "ssh-rsa" in answer.stdout
    public_key = conn.compute.get_keypair(key_name).public_key.split()[1]
    assert public_key in answer.stdout

    # without an SSH rule the second server's port 22 is closed to the host...
    assert not sshd_answers(other_ip)
    # ...and opens once its group allows it (so it was the rule, not a dead server)
    allow_ssh(conn, closed_group)
    assert eventually(lambda: sshd_answers(other_ip), bool, "the SSH rule to open port 22")

    # the two networks are apart: the first server cannot reach the second's fixed address,
    # although the second server now accepts SSH from anywhere (its floating IP is reachable)
    probe = "timeout 5 bash -c 'exec 3<>/dev/tcp/{}/22; head -c 4 <&3'"
    assert ssh(key, web_ip, probe.format(other_ip)).stdout == "SSH-"
    assert ssh(key, web_ip, probe.format(fixed_ip(conn, other))).stdout == ""

    for server in (web, other):
        assert conn.delete_server(server.id, wait=True, delete_ips=True, timeout=120)
    assert not sshd_answers(web_ip)


def test_a_keypair_without_user_data_gets_in_with_sudo_and_ends_with_cloud_inits_setup(
    conn: Any, key_file: tuple[str, Path]
) -> None:
    """Without user-data sshd starts before cloud-init has run, the image's default user and
    the keypair's key put in place first (by cloud-init's own code): the first login that gets
    in has the server's host name and sudo, and once cloud-init is done the sudo rule is in
    cloud-init's own file only and the host name in /etc/hostname."""
    key_name, key = key_file
    network, _ = routed_network(conn, "10.73.0.0/24")
    group = security_group(conn, "key-only")
    allow_ssh(conn, group)
    server = boot(conn, "Key Only", network, group, key_name, userdata=None)
    address = floating_ip(conn, server)

    reading = "hostname; sudo -n id -un; id -Gn"
    first = ssh_once_up(key, address, reading, "the keypair to get in", bound=180)
    assert first.stdout.splitlines()[:2] == ["key-only", "root"]
    assert "sudo" in first.stdout.splitlines()[2].split()

    eventually(
        lambda: conn.get_server_console(server.id),
        lambda console: "cloud-init finished" in console,
        "cloud-init to finish",
        bound=180,
    )
    # sshd was up first: cloud-init ran at nice 10, its CPU after the logins'
    assert "cloud-init network config final in one interpreter at nice 10" in (
        conn.get_server_console(server.id)
    )
    after = ssh(key, address, "sudo -n ls /etc/sudoers.d; cat /etc/hostname")
    assert after.returncode == 0, after.stderr
    assert after.stdout.split() == ["90-cloud-init-users", "README", "key-only"]
    assert conn.delete_server(server.id, wait=True, delete_ips=True, timeout=120)
