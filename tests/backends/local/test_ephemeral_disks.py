"""A flavor's ephemeral and swap disks on the local backend, as a user meets them: openstacksdk
and the ``openstack`` CLI against a served gateway, then ``ssh`` into the guests.

A flavor with ephemeral GB and swap MB gives its server a blank ext4 disk labelled ephemeral0
at ``/dev/vdb``, which cloud-init mounts at ``/mnt`` because the metadata service announces it
(EC2 ``block-device-mapping/ephemeral0``), and a swap-formatted ``/dev/vdc``; what is written
there stays across a stop and start and a gateway restart, and a rebuild makes the disks anew,
blank. The CLI's ``--ephemeral`` and
``--swap`` (blank local block device mappings) give disks of their own sizes and format
instead. Deleting the servers leaves neither their files nor their loop devices on the host.
"""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path
from typing import Any

from tests.backends.local.cloud import (
    REGION,
    allow_ssh,
    floating_ip,
    guest,
    routed_network,
    security_group,
    ssh,
    ssh_once_up,
)
from tests.support.compute import cli_json
from tests.support.gateway import ServedGateway
from tests.support.local import host_lock_wait
from tests.support.waiting import eventually

CLOUD = "interstack"
EPHEMERAL_GB = 1
SWAP_MB = 256
MiB = 1024 * 1024
#: what the metadata service tells the guest about its disks (EC2 format)
MAPPING = "http://169.254.169.254/latest/meta-data/block-device-mapping/"
READ_MAPPING = (
    'python3 -c "import sys, urllib.request as u; '
    'print(u.urlopen(sys.argv[1], timeout=10).read().decode())" '
    f"{MAPPING}"
)
#: the filesystem type at /mnt, and whether it is the filesystem of /dev/vdb (the host mounts
#: the disk's loop device: the mount's source names that, the device numbers are the same)
AT_MNT = (
    "findmnt -no FSTYPE /mnt && "
    "python3 -c \"import os; print(os.stat('/mnt').st_dev == os.stat('/dev/vdb').st_rdev)\""
)


def _disk(key: Path, address: str, device: str) -> tuple[int, str, str]:
    """(size in bytes, filesystem type, label) of a block device in the guest."""
    size = int(guest(key, address, f"blockdev --getsize64 {device}"))
    kind = guest(key, address, f"blkid -s TYPE -o value {device}")
    label = guest(key, address, f"blkid -s LABEL -o value {device} || true")
    return size, kind, label


def _mounted_at_mnt(key: Path, address: str) -> list[str]:
    """The filesystem type at /mnt and whether it is /dev/vdb's, once cloud-init (or the
    guest's boot) has mounted it."""
    done = eventually(
        lambda: ssh(key, address, AT_MNT),
        lambda d: d.returncode == 0 and d.stdout.strip() != "",
        "the ephemeral disk at /mnt",
        bound=120,
    )
    return done.stdout.split()


def _left_on_host(cloud: ServedGateway, server_id: str) -> list[str]:
    """The server's instance directory and the loop devices of files under it, if any."""
    instances = cloud.data_dir / "backends" / REGION / "instances"
    left = [str(p) for p in instances.glob(f"*{server_id}*")]
    loops = subprocess.run(["losetup", "-a"], capture_output=True, text=True, check=True)
    left += [line for line in loops.stdout.splitlines() if server_id in line]
    return left


def _power(conn: Any, server: Any, action: str, wanted: str) -> None:
    getattr(conn.compute, f"{action}_server")(server)
    conn.compute.wait_for_server(server, status=wanted, wait=300)


def _with_disks(admin: Any, name: str) -> Any:
    """A flavor with an ephemeral and a swap disk."""
    return admin.compute.create_flavor(
        name=name, vcpus=1, ram=512, disk=1, ephemeral=EPHEMERAL_GB, swap=SWAP_MB
    )


def _boot(conn: Any, name: str, flavor: Any, network: Any, group: Any, key_name: str) -> Any:
    """A ``debian-12`` server with a floating IP, once ACTIVE."""
    return conn.create_server(
        name=name,
        image="debian-12",
        flavor=flavor.id,
        network=network.id,
        security_groups=[group.name],
        key_name=key_name,
        auto_ip=True,
        wait=True,
        timeout=900,
    )


def test_a_flavors_ephemeral_and_swap_disks_are_the_guests_until_it_is_deleted(
    cloud: ServedGateway, conn: Any, key_file: tuple[str, Path]
) -> None:
    key_name, key = key_file
    admin = cloud.connect("interstack-admin")
    suffix = uuid.uuid4().hex[:6]
    flavor = _with_disks(admin, f"eph-{suffix}")
    network, _ = routed_network(conn, "10.74.0.0/24")
    group = security_group(conn, "eph")
    allow_ssh(conn, group)
    try:
        server = _boot(conn, f"eph-{suffix}", flavor, network, group, key_name)
        address = floating_ip(conn, server)
        ssh_once_up(key, address, "true", "SSH to the server", bound=180)

        assert _disk(key, address, "/dev/vdb") == (EPHEMERAL_GB * 1024 * MiB, "ext4", "ephemeral0")
        assert _disk(key, address, "/dev/vdc") == (SWAP_MB * MiB, "swap", "")
        names = guest(key, address, "lsblk -dno NAME").split()
        assert {"vda", "vdb", "vdc"} <= set(names), names
        assert guest(key, address, f"{READ_MAPPING}ephemeral0") == "/dev/vdb"
        assert guest(key, address, f"{READ_MAPPING}swap") == "/dev/vdc"
        # cloud-init's default mounts: ephemeral0 at /mnt, the swap disk in fstab
        assert _mounted_at_mnt(key, address) == ["ext4", "True"]
        assert "/dev/vdc" in guest(key, address, "grep swap /etc/fstab")
        guest(key, address, f"echo kept-{suffix} > /mnt/proof; sync")

        _power(conn, server, "stop", "SHUTOFF")
        _power(conn, server, "start", "ACTIVE")
        ssh_once_up(key, address, "true", "SSH after the start", bound=180)
        assert _mounted_at_mnt(key, address) == ["ext4", "True"]
        assert guest(key, address, "cat /mnt/proof") == f"kept-{suffix}"

        # the server keeps running, its disks with it (the start may wait for the host's
        # networking while a sibling checkout's gateway holds it)
        cloud.stop()
        cloud.start(timeout=120 + host_lock_wait())
        assert guest(key, address, "cat /mnt/proof") == f"kept-{suffix}"
        assert _disk(key, address, "/dev/vdc")[1] == "swap"

        # a rebuild makes the disks anew, blank and formatted, as Nova's libvirt driver does
        image_id = conn.image.find_image("debian-12", ignore_missing=False).id
        conn.compute.rebuild_server(server, image=image_id, admin_password=uuid.uuid4().hex)
        conn.compute.wait_for_server(conn.compute.get_server(server.id), status="ACTIVE", wait=300)
        ssh_once_up(key, address, "true", "SSH after the rebuild", bound=180)
        assert _mounted_at_mnt(key, address) == ["ext4", "True"]
        assert ssh(key, address, "test -e /mnt/proof").returncode == 1
        assert _disk(key, address, "/dev/vdc") == (SWAP_MB * MiB, "swap", "")

        # the CLI's own blank local mappings replace the flavor's disks
        made = cli_json(
            cloud, CLOUD, "server", "create", "--image", "debian-12", "--flavor", flavor.id,
            "--network", network.id, "--security-group", group.name, "--key-name", key_name,
            "--ephemeral", "size=1,format=ext3", "--swap", "128", "--wait", f"eph-cli-{suffix}",
        )  # fmt: skip
        other = conn.compute.get_server(made["id"])
        conn.add_auto_ip(other, wait=True, timeout=120)
        other_address = floating_ip(conn, conn.compute.get_server(other.id))
        ssh_once_up(key, other_address, "true", "SSH to the CLI's server", bound=180)
        assert _disk(key, other_address, "/dev/vdb") == (1024 * MiB, "ext3", "ephemeral0")
        assert _disk(key, other_address, "/dev/vdc") == (128 * MiB, "swap", "")

        for gone in (server, other):
            conn.delete_server(gone.id, wait=True, timeout=300)
            assert _left_on_host(cloud, gone.id) == []
    finally:
        for name in (f"eph-{suffix}", f"eph-cli-{suffix}"):
            conn.delete_server(name, wait=True, timeout=300)
        admin.compute.delete_flavor(flavor)


def test_a_seeded_guest_mounts_its_ephemeral_disk_at_mnt_too(
    cloud: ServedGateway, conn: Any, key_file: tuple[str, Path]
) -> None:
    """A server on a subnet without DHCP reaches no metadata service and is seeded through
    NoCloud, which announces no block devices: the seed's cloud-init settings name its disks
    (``device_aliases``), so cloud-init's default mounts put ephemeral0 at ``/mnt`` and the swap
    disk in fstab as for a guest of the metadata service. Before, /mnt stayed empty."""
    key_name, key = key_file
    admin = cloud.connect("interstack-admin")
    suffix = uuid.uuid4().hex[:6]
    flavor = _with_disks(admin, f"seeded-{suffix}")
    network, _ = routed_network(conn, "10.75.0.0/24")
    (subnet,) = conn.network.subnets(network_id=network.id)
    conn.network.update_subnet(subnet, enable_dhcp=False)
    group = security_group(conn, "seeded")
    allow_ssh(conn, group)
    try:
        server = _boot(conn, f"seeded-{suffix}", flavor, network, group, key_name)
        address = floating_ip(conn, server)
        ssh_once_up(key, address, "true", "SSH to the seeded server", bound=180)
        seeded = "test -s /var/lib/cloud/seed/nocloud/meta-data && echo seeded"
        assert guest(key, address, seeded) == "seeded"

        assert _mounted_at_mnt(key, address) == ["ext4", "True"]
        assert "/dev/vdc" in guest(key, address, "grep swap /etc/fstab")
    finally:
        conn.delete_server(f"seeded-{suffix}", wait=True, timeout=300)
        admin.compute.delete_flavor(flavor)
