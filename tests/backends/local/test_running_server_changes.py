"""Changes to a running local server, made through the API and checked inside the guest over
SSH: a port hot-plugged into it and unplugged again (``server add port`` / ``server remove
port``), and its administrator password set without SSH (``changePassword``).

Two servers boot (real boots): ``hub`` behind a router with a floating IP, and ``peer`` on a
second network. ``hub`` gets a port on the second network while it runs.
"""

from __future__ import annotations

import secrets
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from interstack.backends.local.network import links, names
from tests.backends.local.cloud import (
    allow_ssh,
    boot,
    booted_again,
    fixed_ip,
    floating_ip,
    guest,
    routed_network,
    security_group,
    ssh,
    ssh_once_up,
    sshd_answers,
    up_for_two_seconds,
)
from tests.support.compute import server_in
from tests.support.gateway import ServedGateway
from tests.support.waiting import eventually

#: Debian 12's systemctl (systemd's reboot and poweroff are links to it), the host's
SYSTEMCTL = "/usr/bin/systemctl"
#: a TCP connection from inside the guest to an address's sshd: prints its greeting
PROBE = "timeout 5 bash -c 'exec 3<>/dev/tcp/{}/22; head -c 4 <&3'"


def host_rules() -> str:
    return subprocess.run(
        ["nft", "list", "table", "bridge", names.TABLE],
        capture_output=True,
        text=True,
        check=True,
    ).stdout


@pytest.fixture(scope="module")
def gateway_settings() -> dict[str, Any]:
    """The reconciler runs often: a guest's own poweroff shows within seconds."""
    return {"reconcile_interval_seconds": 2}


@pytest.fixture(scope="module")
def servers(conn: Any, key_file: tuple[str, Path]) -> dict[str, Any]:
    """``hub`` (SSH from anywhere) on one network, ``peer`` on another whose sshd only the
    members of group ``mesh`` reach."""
    key_name, key = key_file
    hub_net, _ = routed_network(conn, "10.73.0.0/24")
    peer_net, _ = routed_network(conn, "10.74.0.0/24")
    ssh_group = security_group(conn, "ssh")
    allow_ssh(conn, ssh_group)
    mesh = security_group(conn, "mesh")
    allow_ssh(conn, mesh, from_group=mesh)
    hub = boot(conn, "hub", hub_net, ssh_group, key_name)
    peer = boot(conn, "peer", peer_net, mesh, key_name)
    hub_ip = floating_ip(conn, hub)
    ssh_once_up(key, hub_ip, "true", "SSH to hub's floating IP to answer", bound=180)
    return {"hub": hub, "peer": peer, "peer_net": peer_net, "mesh": mesh, "hub_ip": hub_ip}


def test_a_port_plugged_into_a_running_server_and_unplugged(
    cloud: ServedGateway, conn: Any, key_file: tuple[str, Path], servers: dict[str, Any]
) -> None:
    _, key = key_file
    hub, hub_ip = servers["hub"], servers["hub_ip"]
    peer_address = fixed_ip(conn, servers["peer"])
    # on another network, the peer is out of reach (its sshd admits only the mesh group, too)
    assert ssh(key, hub_ip, PROBE.format(peer_address)).stdout == ""

    port = conn.network.create_port(
        network_id=servers["peer_net"].id, security_group_ids=[servers["mesh"].id]
    )
    address = port.fixed_ips[0]["ip_address"]
    cloud.cli("interstack", "server", "add", "port", hub.id, port.id)

    inside = ssh(key, hub_ip, "ip -o -4 addr show dev eth1; ip -o link show dev eth1")
    assert inside.returncode == 0, inside.stderr
    assert f"inet {address}/24" in inside.stdout
    assert port.mac_address in inside.stdout
    # the new interface reaches the peer's sshd: its port is in the mesh group
    assert ssh(key, hub_ip, PROBE.format(peer_address)).stdout == "SSH-"
    attached = {i.port_id for i in conn.compute.server_interfaces(hub.id)}
    assert port.id in attached
    addresses = conn.compute.get_server(hub.id).addresses
    assert address in {a["addr"] for found in addresses.values() for a in found}

    # the port stays the server's across a stop and a start: plugged again at boot
    conn.compute.stop_server(hub)
    server_in(conn, hub, "SHUTOFF", wait=120)
    conn.compute.start_server(hub)
    server_in(conn, hub, "ACTIVE", wait=120)
    again = ssh_once_up(key, hub_ip, "ip -o -4 addr show dev eth1", "SSH to hub after its restart")
    assert f"inet {address}/24" in again.stdout

    # host side: the port's veth is on the network's bridge, under its anti-spoofing chain
    # (the guest has no CAP_NET_ADMIN to try another address itself)
    veth = names.ref(names.PORT, port.id)
    assert links.link_exists(veth)
    assert f'iifname "{veth}" jump spoof-' in host_rules()

    cloud.cli("interstack", "server", "remove", "port", hub.id, port.id)
    gone = ssh(key, hub_ip, "ip link show dev eth1")
    assert gone.returncode != 0
    assert ssh(key, hub_ip, PROBE.format(peer_address)).stdout == ""
    assert not links.link_exists(veth)
    assert port.id not in {i.port_id for i in conn.compute.server_interfaces(hub.id)}
    # the port the user brought stays, unbound
    assert conn.network.get_port(port.id).device_id == ""


def test_admin_password_is_set_inside_the_guest_and_never_logged(
    cloud: ServedGateway, conn: Any, key_file: tuple[str, Path], servers: dict[str, Any]
) -> None:
    _, key = key_file
    hub, hub_ip = servers["hub"], servers["hub_ip"]
    password = f"pw-{secrets.token_urlsafe(12)}"
    conn.compute.change_server_password(hub, password)

    # the guest's shadow hash of root verifies the new password (crypt with the stored salt)
    check = (
        "sudo python3 -W ignore -c 'import crypt, spwd, sys; "
        'h = spwd.getspnam("root").sp_pwdp; '
        "print(crypt.crypt(sys.stdin.readline().strip(), h) == h)'"
    )
    verified = ssh(key, hub_ip, f"echo {password} | {check}")
    assert verified.stdout.strip() == "True", verified.stderr
    wrong = ssh(key, hub_ip, f"echo not-{password} | {check}")
    assert wrong.stdout.strip() == "False", wrong.stderr

    console = conn.compute.get_server_console_output(hub)["output"]
    assert password not in console
    assert password not in cloud.log()


def test_over_ssh_the_guest_has_its_flavors_cpus_and_a_new_boot_time_after_a_hard_reboot(
    conn: Any, key_file: tuple[str, Path], servers: dict[str, Any]
) -> None:
    _, key = key_file
    hub, hub_ip = servers["hub"], servers["hub_ip"]
    vcpus = conn.compute.find_flavor("m1.tiny").vcpus
    reading = "grep -c ^processor /proc/cpuinfo; nproc; cut -d' ' -f1 /proc/uptime; date +%s.%N"

    def seen() -> tuple[int, int, float]:
        """(cpuinfo processors, nproc, boot instant) as a login on the guest sees them."""
        done = ssh(key, hub_ip, reading)
        assert done.returncode == 0, done.stderr
        processors, usable, uptime, now = done.stdout.split()
        return int(processors), int(usable), float(now) - float(uptime)

    processors, usable, booted = eventually(
        seen, lambda s: time.time() - s[2] > 2, "hub to be up for two seconds"
    )
    assert processors == usable == vcpus
    assert ssh(key, hub_ip, "echo kept > ~/marker").returncode == 0
    assert_the_machine_is_the_flavors(key, hub_ip, vcpus, booted)

    rebooted_at = time.time()
    conn.compute.reboot_server(hub, "HARD")
    server_in(conn, hub, "ACTIVE", wait=120)
    after = ssh_once_up(key, hub_ip, f"cat ~/marker; {reading}", "SSH to hub after its hard reboot")
    marker, *counts, uptime, now = after.stdout.split()
    rebooted = float(now) - float(uptime)
    # a new boot (whole-second clock offsets: at most a second before the request), same disk
    assert rebooted >= rebooted_at - 1 > booted
    assert (marker, [int(n) for n in counts]) == ("kept", [vcpus, vcpus])
    assert_the_machine_is_the_flavors(key, hub_ip, vcpus, rebooted)


def assert_the_machine_is_the_flavors(key: Path, address: str, vcpus: int, booted: float) -> None:
    """What tools in the guest say of its machine: the flavor's vCPUs (sysfs, /proc/stat, lscpu,
    nproc --all) and the boot at ``booted`` (who -b, the btime of /proc/stat)."""
    every = "0" if vcpus == 1 else f"0-{vcpus - 1}"
    listing = "cd /sys/devices/system/cpu && cat online present possible && ls -d cpu[0-9]*"
    assert ssh(key, address, listing).stdout.split() == [every] * 3 + [
        f"cpu{k}" for k in range(vcpus)
    ]
    counts = ssh(key, address, "nproc --all; lscpu -p=cpu | grep -vc ^#; grep -c ^cpu /proc/stat")
    assert counts.stdout.split() == [str(vcpus), str(vcpus), str(vcpus + 1)]
    # who prints the minute (in the C locale: "Nov 26 02:07"), here in UTC
    who = ssh(key, address, "TZ=UTC LC_ALL=C who -b; awk '/^btime/{print $2}' /proc/stat")
    assert who.returncode == 0, who.stderr
    *words, btime = who.stdout.split()
    minutes = {
        " ".join(time.strftime("%b %e %H:%M", time.gmtime(booted + d)).split()) for d in (-2, 1)
    }
    assert words[:2] == ["system", "boot"] and " ".join(words[2:]) in minutes
    assert abs(int(btime) - booted) <= 2


def test_a_poweroff_inside_the_guest_shows_shutoff_and_start_boots_it_with_its_disk(
    conn: Any, key_file: tuple[str, Path], servers: dict[str, Any]
) -> None:
    _, key = key_file
    hub, hub_ip = servers["hub"], servers["hub_ip"]
    server_in(conn, hub, "ACTIVE", wait=120)
    assert ssh(key, hub_ip, "echo before-poweroff > ~/kept").returncode == 0

    # the guest powers itself off: the session may end with it, so its status is not asserted
    ssh(key, hub_ip, "sudo poweroff")
    stopped = server_in(conn, hub, "SHUTOFF", wait=60)
    assert stopped.power_state == 4  # SHUTDOWN, as Nova's power-state sync records it
    assert stopped.vm_state == "stopped"
    assert not sshd_answers(hub_ip)

    conn.compute.start_server(hub)
    server_in(conn, hub, "ACTIVE", wait=120)
    again = ssh_once_up(key, hub_ip, "cat ~/kept", "SSH to hub after its start")
    assert again.stdout.strip() == "before-poweroff"


def test_a_reboot_inside_the_guest_boots_it_again_with_its_disk_and_its_fstab_mounts(
    conn: Any, key_file: tuple[str, Path], servers: dict[str, Any]
) -> None:
    """``reboot`` in the guest: a new boot on the same disk, the volume its fstab names mounted
    again (an entry for a missing device with ``nofail`` does not stop the boot), and for Nova
    the server stayed ACTIVE and running, as a VM that reboots itself does."""
    _, key = key_file
    hub, hub_ip = servers["hub"], servers["hub_ip"]
    server_in(conn, hub, "ACTIVE", wait=120)
    volume = conn.create_volume(size=1, name=f"fstab-{secrets.token_hex(3)}", wait=True)
    conn.attach_volume(hub, volume, wait=True, timeout=120)
    device = conn.block_storage.get_volume(volume.id).attachments[0]["device"]
    guest(
        key,
        hub_ip,
        f"mkfs.ext4 -q {device}; mkdir -p /srv/data /srv/absent; "
        f'echo "{device} /srv/data ext4 defaults 0 2" >> /etc/fstab; '
        'echo "LABEL=absent /srv/absent ext4 defaults,nofail 0 2" >> /etc/fstab; '
        "mount /srv/data; echo on-the-volume > /srv/data/kept; echo on-the-disk > /root/kept",
    )
    first = up_for_two_seconds(key, hub_ip)

    ssh(key, hub_ip, "sudo reboot")  # the session may end with the guest: not asserted
    # the files, the volume's device number and that of the filesystem the file is on
    reading = "sudo cat /root/kept /srv/data/kept && stat -c %Hr:%Lr {} && stat -c %Hd:%Ld {}"
    again = booted_again(
        key,
        hub_ip,
        reading.format(device, "/srv/data/kept"),
        first,
        "hub to come back from its reboot",
    )
    disk, on_volume, device_number, file_system = again.split()
    assert (disk, on_volume) == ("on-the-disk", "on-the-volume")
    assert file_system == device_number  # the file is on the volume's filesystem: mounted
    server = conn.compute.get_server(hub.id)
    assert (server.status, server.power_state, server.task_state) == ("ACTIVE", 1, None)
    console = conn.compute.get_server_console_output(hub)["output"]
    assert "the guest rebooted itself: booting it again" in console
    assert "fstab: LABEL=absent not mounted on /srv/absent" in console

    conn.detach_volume(hub, volume, wait=True, timeout=120)
    conn.delete_volume(volume.id, wait=True)
    guest(key, hub_ip, "sed -i /srv/d /etc/fstab")


def test_a_crash_inside_the_guest_shows_shutoff_with_the_crashed_power_state(
    conn: Any, key_file: tuple[str, Path], servers: dict[str, Any]
) -> None:
    """The guest's init dies (killed, not asked to stop): SHUTOFF as for a poweroff, with Nova's
    CRASHED power state until it is started again."""
    _, key = key_file
    hub, hub_ip = servers["hub"], servers["hub_ip"]
    server_in(conn, hub, "ACTIVE", wait=120)
    init = "'^/bin/sh /run/interstack/init'"  # the guest init, run by tini (PID 1)
    assert ssh(key, hub_ip, f"pgrep -f {init}").returncode == 0

    ssh(key, hub_ip, f"sudo pkill -KILL -f {init}")
    stopped = server_in(conn, hub, "SHUTOFF", wait=60)
    assert (stopped.power_state, stopped.vm_state) == (6, "stopped")  # CRASHED
    assert not sshd_answers(hub_ip)

    conn.compute.start_server(hub)
    started = server_in(conn, hub, "ACTIVE", wait=120)
    assert started.power_state == 1
    ssh_once_up(key, hub_ip, "true", "SSH to hub after its start")


def test_an_image_with_systemds_reboot_and_poweroff_reboots_and_powers_off(
    conn: Any, key_file: tuple[str, Path], servers: dict[str, Any]
) -> None:
    """An image may bring systemd's ``reboot`` and ``poweroff`` (links to ``systemctl``; here
    Debian 12's own, the host's, which runs on the guest's libraries). Without systemd to ask
    they fall back to sysvinit's ``/run/initctl``, which the guest init serves."""
    _, key = key_file
    hub, hub_ip = servers["hub"], servers["hub_ip"]
    server_in(conn, hub, "ACTIVE", wait=120)
    options = ("StrictHostKeyChecking=no", "UserKnownHostsFile=/dev/null", "BatchMode=yes")
    copied = subprocess.run(
        [
            "scp",
            "-i",
            str(key),
            *(f"-o{option}" for option in options),
            SYSTEMCTL,
            f"debian@{hub_ip}:/tmp/systemctl",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert copied.returncode == 0, copied.stderr
    guest(
        key,
        hub_ip,
        "install -m 755 /tmp/systemctl /usr/bin/systemctl; "
        "ln -sfn /usr/bin/systemctl /sbin/reboot; ln -sfn /usr/bin/systemctl /sbin/poweroff",
    )
    first = up_for_two_seconds(key, hub_ip)

    ssh(key, hub_ip, "sudo reboot")
    again = booted_again(
        key,
        hub_ip,
        "readlink /sbin/reboot /sbin/poweroff",
        first,
        "hub to come back from systemd's reboot",
    )
    assert again.split() == ["/usr/bin/systemctl"] * 2  # systemd's commands, kept
    server = conn.compute.get_server(hub.id)
    assert (server.status, server.power_state) == ("ACTIVE", 1)

    ssh(key, hub_ip, "sudo poweroff")
    stopped = server_in(conn, hub, "SHUTOFF", wait=60)
    assert stopped.power_state == 4  # SHUTDOWN: asked for, not a crash
    conn.compute.start_server(hub)
    server_in(conn, hub, "ACTIVE", wait=120)
    ssh_once_up(key, hub_ip, "true", "SSH to hub after its start")
    guest(key, hub_ip, "rm /sbin/reboot /sbin/poweroff /usr/bin/systemctl")


#: user-data whose boot command ends the guest before it is up (before sshd, before ACTIVE)
EARLY_END = """#cloud-config
bootcmd:
  - [sh, -c, "echo ending-the-boot-early; {}"]
"""


@pytest.mark.parametrize(
    ("ending", "power_state"),
    [("poweroff", 4), ("pkill -KILL -f '^/bin/sh /run/interstack/init'", 6)],
    ids=["poweroff", "crash"],
)
def test_a_guest_that_ends_while_it_boots_shows_shutoff_not_error(
    conn: Any, ending: str, power_state: int
) -> None:
    """Nova's server is ACTIVE once its VM runs, and its power-state sync makes it SHUTOFF when
    the guest powers off (SHUTDOWN) or crashes (CRASHED) early: never ERROR, no fault, launched,
    its create a success."""
    network = conn.network.create_network(name=f"early-{secrets.token_hex(3)}")
    conn.network.create_subnet(network_id=network.id, ip_version=4, cidr="10.75.0.0/24")
    server = conn.create_server(
        name=f"early-{secrets.token_hex(3)}",
        image="debian-12",
        flavor="m1.tiny",
        network=network.id,
        userdata=EARLY_END.format(ending),
    )
    stopped = eventually(
        lambda: conn.compute.get_server(server.id),
        lambda s: s.status in {"SHUTOFF", "ERROR"} and s.task_state is None,
        "the server to end its boot",
        bound=300,
    )
    assert (stopped.status, stopped.vm_state, stopped.power_state) == (
        "SHUTOFF",
        "stopped",
        power_state,
    )
    assert stopped.fault is None and stopped.launched_at is not None
    [create] = conn.compute.server_actions(server.id)
    assert conn.compute.get_server_action(create.request_id, server.id).message is None
    assert "ending-the-boot-early" in conn.compute.get_server_console_output(server)["output"]
    conn.delete_server(server.id, wait=True, timeout=120)
    conn.network.delete_network(network.id)
