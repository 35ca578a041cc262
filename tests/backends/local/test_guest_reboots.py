"""A guest's own ``reboot`` and a guest that ends while it boots, on real local instances behind
a served gateway, as users see them through openstacksdk and SSH.

``reboot`` inside is made by the supervisor, the instances' parent: the guest comes back with
the gateway frozen, on its disk and with the volumes attached to it while it ran (hot), its
fstab's volume mounted, and what a boot by the gateway writes into it written again from the
gateway's last word (its subnet's DNS servers as changed while it ran, cloud-init's settings);
the gateway, back, shows it ACTIVE and follows the new boot (a ``poweroff`` after it gives
SHUTOFF). A reboot the supervisor cannot make stops the server (the gateway makes none of its
own), and a start boots it again.
A start or reboot whose guest powers off during the boot fails at once: SHUTOFF after a start,
ERROR with the fault after a reboot (Nova's rule for a failed reboot of a VM that does not run).
"""

from __future__ import annotations

import secrets
import signal
from pathlib import Path
from typing import Any

import pytest

from interstack.backends.local.instance_record import ref_for
from tests.backends.local.cloud import (
    REGION,
    allow_ssh,
    boot,
    booted_again,
    floating_ip,
    guest,
    routed_network,
    security_group,
    ssh,
    ssh_once_up,
    up_for_two_seconds,
)
from tests.support.compute import server_in
from tests.support.gateway import ServedGateway
from tests.support.waiting import eventually

#: a file in the guest that makes its next boots power off early: a ``bootcmd`` runs at every
#: boot in cloud-init's network stage, before sshd (the server has user-data) and before it is up
POWER_OFF_MARK = "/etc/interstack-power-off-at-boot"
POWERING_OFF_USER_DATA = f"""#cloud-config
bootcmd:
  - [sh, -c, "if [ -e {POWER_OFF_MARK} ]; then poweroff; fi"]
"""
#: what the guest shows of its volumes' devices: one line per block device node that reads
DEVICES = (
    "for d in /dev/vd?; do sudo dd if=$d of=/dev/null bs=512 count=1 2>/dev/null && echo $d; done"
)
#: what the backend writes into the guest's disk before each boot: its cloud-init settings
SETTINGS = "/etc/cloud/cloud.cfg.d/90_interstack.cfg"
#: the guest's disk, its fstab's volume (mounted or not), its resolvers, its cloud-init
#: settings (there or not), then :data:`DEVICES`
READ_BACK = (
    "{ sudo cat /root/kept; "
    "if mountpoint -q /srv/kept; then cat /srv/kept/mark; else echo not-mounted; fi; "
    "grep ^nameserver /etc/resolv.conf | tr -s ' ' =; "
    f"if test -s {SETTINGS}; then echo settings; else echo no-settings; fi; "
    f"{DEVICES}; }}"
)
#: the instance cloud-init found in this boot (``/run`` is the boot's own)
CLOUD_INIT_INSTANCE = "/run/cloud-init/.instance-id"
#: the DNS server the first test gives the module's subnet while its server runs, and keeps:
#: an address that never answers, which no guest's boot, stop or reboot waits on
CHANGED_DNS = "192.0.2.53"


@pytest.fixture(scope="module")
def gateway_settings() -> dict[str, Any]:
    """The reconciler runs often: a guest's own poweroff shows within seconds."""
    return {"reconcile_interval_seconds": 2}


@pytest.fixture(scope="module")
def place(conn: Any) -> tuple[Any, Any]:
    """(network, security group admitting SSH) of the module's servers."""
    network, _ = routed_network(conn, "10.77.0.0/24")
    group = security_group(conn, "ssh")
    allow_ssh(conn, group)
    return network, group


def volume(conn: Any, server: Any) -> tuple[Any, str]:
    """A new 1 GB volume attached to running ``server``: (volume, its device)."""
    made = conn.create_volume(size=1, name=f"rb-{secrets.token_hex(3)}", wait=True)
    conn.attach_volume(server, made, wait=True, timeout=120)
    return made, conn.block_storage.get_volume(made.id).attachments[0]["device"]


def cloud_init_instance(key: Path, address: str) -> str:
    """The instance cloud-init of the guest's current boot found ('' while it has not)."""
    return ssh(key, address, f"sudo cat {CLOUD_INIT_INSTANCE}").stdout.strip()


def test_a_reboot_inside_the_guest_comes_back_without_the_gateway_with_its_volumes(
    cloud: ServedGateway, conn: Any, key_file: tuple[str, Path], place: tuple[Any, Any]
) -> None:
    key_name, key = key_file
    network, group = place
    server = boot(conn, "rebooter", network, group, key_name, userdata=None)
    address = floating_ip(conn, server)
    ssh_once_up(key, address, "true", "SSH to the server")
    kept, kept_device = volume(conn, server)  # attached hot: not in the first boot's bundle
    dropped, dropped_device = volume(conn, server)
    guest(
        key,
        address,
        f"echo on-the-disk > /root/kept; mkfs.ext4 -q {kept_device}; mkdir -p /srv/kept; "
        f'echo "{kept_device} /srv/kept ext4 defaults 0 2" >> /etc/fstab; '
        f"mount /srv/kept; echo on-the-volume > /srv/kept/mark; umount /srv/kept",
    )
    # the subnet's DNS servers change while it runs; the guest then replaces its resolv.conf
    # and drops cloud-init's settings: its next boot's are the backend's, as a DHCP client's
    subnet = next(conn.network.subnets(network_id=network.id))
    conn.network.update_subnet(subnet, dns_nameservers=[CHANGED_DNS])
    eventually(
        lambda: ssh(key, address, f"grep -q {CHANGED_DNS} /etc/resolv.conf").returncode,
        lambda code: code == 0,
        "the running guest's resolv.conf to name the subnet's new DNS server",
    )
    guest(key, address, f"echo nameserver 198.51.100.9 > /etc/resolv.conf; rm {SETTINGS}")
    first = up_for_two_seconds(key, address)

    # the gateway is frozen (stopping it would give up the host's networking to whatever test
    # runs beside): only the supervisor is left to boot the guest again
    assert cloud.process is not None
    cloud.process.send_signal(signal.SIGSTOP)
    try:
        ssh(key, address, "sudo reboot")  # the session may end with the guest: not asserted
        again = booted_again(key, address, READ_BACK, first, "a boot without the gateway")
        # cloud-init of that boot, with no metadata service to ask, knows the server from its
        # cache (what the gateway last served), not as a new instance of no datasource
        identity = eventually(
            lambda: cloud_init_instance(key, address),
            bool,
            "cloud-init's boot without the gateway to name its instance",
        )
    finally:
        cloud.process.send_signal(signal.SIGCONT)
    disk, on_volume, resolvers, settings, *devices = again.split()
    assert (disk, on_volume) == ("on-the-disk", "on-the-volume")
    assert (resolvers, settings) == (f"nameserver={CHANGED_DNS}", "settings")
    assert sorted(devices) == sorted([kept_device, dropped_device])
    assert identity == server.id

    shown = server_in(conn, server, "ACTIVE", wait=120)
    assert (shown.power_state, shown.task_state) == (1, None)
    console = conn.compute.get_server_console_output(server)["output"]
    assert "the guest rebooted itself: booting it again" in console

    # a volume detached since is not in the next boot; the gateway follows that one too
    conn.detach_volume(server, dropped, wait=True, timeout=120)
    second = up_for_two_seconds(key, address)
    ssh(key, address, "sudo reboot")
    after = booted_again(key, address, READ_BACK, second, "a boot with the gateway")
    assert after.split() == [
        "on-the-disk",
        "on-the-volume",
        f"nameserver={CHANGED_DNS}",
        "settings",
        kept_device,
    ]
    assert server_in(conn, server, "ACTIVE").task_state is None

    ssh(key, address, "sudo poweroff")  # the new boot's end is noticed: SHUTOFF, as before
    stopped = server_in(conn, server, "SHUTOFF", wait=60)
    assert (stopped.power_state, stopped.vm_state) == (4, "stopped")
    conn.detach_volume(server, kept, wait=True, timeout=120)
    for made in (kept, dropped):
        conn.delete_volume(made.id, wait=True)
    conn.compute.delete_server(server)


def test_a_reboot_inside_the_guest_that_the_supervisor_cannot_make_stops_the_server(
    cloud: ServedGateway, conn: Any, key_file: tuple[str, Path], place: tuple[Any, Any]
) -> None:
    """The supervisor alone boots a guest that rebooted itself: when it cannot (here its bundle
    is gone), the server is SHUTOFF with the reason on its console, as a VM whose own reboot
    failed, not booted again by the gateway behind it; a start (the gateway's boot, which writes
    the bundle anew) brings it back."""
    key_name, key = key_file
    network, group = place
    server = boot(conn, "unrebootable", network, group, key_name, userdata=None)
    address = floating_ip(conn, server)
    ssh_once_up(key, address, "true", "SSH to the server")
    instance_dir = cloud.data_dir / "backends" / REGION / "instances" / ref_for(server.id)
    (instance_dir / "bundle" / "config.json").unlink()

    ssh(key, address, "sudo reboot")  # the session may end with the guest: not asserted

    stopped = server_in(conn, server, "SHUTOFF", wait=60)
    assert (stopped.power_state, stopped.vm_state) == (4, "stopped")
    console = conn.compute.get_server_console_output(server)["output"]
    assert "the guest rebooted itself; booting it again failed" in console
    assert "booting it again failed here" in console  # the supervisor's own word on it
    conn.compute.start_server(server)
    server_in(conn, server, "ACTIVE", wait=120)
    ssh_once_up(key, address, "true", "SSH to the server after its start")
    conn.compute.delete_server(server)


def settled_task(conn: Any, server: Any) -> Any:
    """The server once no task runs on it (a bound, not a timing check: a start that waits for
    a guest that will not come up would hold its task for ten minutes)."""
    return eventually(
        lambda: conn.compute.get_server(server.id),
        lambda shown: shown.task_state is None,
        f"the task on {server.name} to end",
    )


def test_a_start_or_reboot_whose_guest_powers_off_while_it_boots_fails_at_once(
    conn: Any, key_file: tuple[str, Path], place: tuple[Any, Any]
) -> None:
    key_name, key = key_file
    network, group = place
    server = boot(conn, "early-off", network, group, key_name, POWERING_OFF_USER_DATA)
    address = floating_ip(conn, server)
    ssh_once_up(key, address, f"sudo touch {POWER_OFF_MARK}", "SSH to the server")
    conn.compute.stop_server(server)
    server_in(conn, server, "SHUTOFF", wait=120)
    settled_task(conn, server)

    conn.compute.start_server(server)
    started = settled_task(conn, server)

    assert (started.status, started.vm_state, started.power_state) == ("SHUTOFF", "stopped", 4)
    start = next(a for a in conn.compute.server_actions(server) if a.action == "start")
    assert "the guest powered off during its boot" in start.message
    console = conn.compute.get_server_console_output(server)["output"]
    assert "exited before the guest was up (a poweroff)" in console

    conn.compute.reboot_server(server, "HARD")
    rebooted = settled_task(conn, server)

    assert rebooted.status == "ERROR"
    assert "the guest powered off during its boot" in rebooted.fault["message"]
    conn.compute.delete_server(server)
