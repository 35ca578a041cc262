"""Volumes on real instances: hot attach at the requested device, data that follows the volume
from one server to another, mounts made by the host for the guest, attachments that survive a
stop and start, extension while attached, and isolation (only an attached volume's device is
usable, and only by its server). Two instances serve the whole module."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from interstack.backends.contract import (
    BootVolume,
    NativeRef,
    PowerAction,
    ServerStatus,
    VolumeSpec,
    VolumeStatus,
)
from interstack.backends.local import LocalBackend
from interstack.backends.local.volumes import plug
from interstack.errors import BackendError, BadRequest, Conflict
from tests.backends.local.helpers import instance, runc_root, settled, spec
from tests.support.local import exec_in
from tests.support.waiting import eventually

DEFAULT_IMAGE = NativeRef("builtin-debian-12")
GiB = 1024**3


@pytest.fixture(scope="module")
def servers(local_backend: LocalBackend) -> Iterator[tuple[NativeRef, NativeRef]]:
    """Two running instances the module's tests attach their volumes to."""
    if "volume_attach_hot" not in local_backend.capabilities.names():
        pytest.skip("this host cannot attach volumes to running instances (cgroup v2)")
    first = local_backend.compute.create_server(spec("vol-one"))
    second = local_backend.compute.create_server(spec("vol-two"))
    booted = (
        settled(local_backend, first.ref, ServerStatus.ACTIVE),
        settled(local_backend, second.ref, ServerStatus.ACTIVE),
    )
    assert all(s.status is ServerStatus.ACTIVE for s in booted), [s.fault for s in booted]
    yield first.ref, second.ref
    for server in (first, second):
        local_backend.compute.delete_server(server.ref)


NewVolume = Callable[..., NativeRef]


@pytest.fixture
def new_volume(local_backend: LocalBackend) -> Iterator[NewVolume]:
    """Makes available volumes (1 GB, or ``size_gb``; filled from ``image`` if given); the
    ones the test made are deleted after it, detached by then."""
    storage = local_backend.block_storage
    made: list[NativeRef] = []

    def make(size_gb: int = 1, image: NativeRef | None = None) -> NativeRef:
        created = storage.create_volume(
            VolumeSpec(
                gateway_id=str(uuid.uuid4()),
                name="root" if image else "data",
                project_id="p1",
                size_gb=size_gb,
                image=image,
            )
        )
        made.append(created.ref)
        ready = eventually(
            lambda: storage.get_volume(created.ref),
            lambda v: v.status is not VolumeStatus.CREATING,
            "the volume",
        )
        assert ready.status is VolumeStatus.AVAILABLE, ready.fault
        return created.ref

    yield make
    for ref in made:
        storage.delete_volume(ref)


def inside(backend: LocalBackend, server: NativeRef, command: str) -> tuple[int, str]:
    done = exec_in(runc_root(backend), server, command)
    return done.returncode, (done.stdout + done.stderr).strip()


def ok(backend: LocalBackend, server: NativeRef, command: str) -> str:
    status, output = inside(backend, server, command)
    assert status == 0, f"{command!r} failed in {server}: {output}"
    return output


def disk_of(backend: LocalBackend, volume: NativeRef) -> Path:
    return backend.context.data_dir / "volumes" / volume / "disk.raw"


def devices_list(backend: LocalBackend, server: NativeRef) -> str:
    cgroup = plug.DEVICES_CGROUP / instance(backend, server).cgroup_path.lstrip("/")
    return (cgroup / "devices.list").read_text()


def pid_of(backend: LocalBackend, server: NativeRef) -> int:
    state = instance(backend, server).runtime_state()
    assert state is not None
    return state[1]


def test_a_volume_carries_a_filesystem_from_one_server_to_another(
    local_backend: LocalBackend, servers: tuple[NativeRef, NativeRef], new_volume: NewVolume
) -> None:
    one, two = servers
    storage = local_backend.block_storage
    volume = new_volume()

    attached = storage.attach_volume(volume, one, "/dev/vdc")
    assert attached.device == "/dev/vdc"
    (loop,) = plug.loops_of(disk_of(local_backend, volume))
    assert f"b {loop.major}:{loop.minor} rw" in devices_list(local_backend, one)
    ok(local_backend, one, "test -b /dev/vdc")
    # the guest formats and mounts it itself, as the LAMP stack's database server does
    ok(local_backend, one, "mkfs.ext4 -q /dev/vdc && mkdir -p /srv/db && mount /dev/vdc /srv/db")
    ok(local_backend, one, "echo kept-on-the-volume > /srv/db/proof && sync")
    mounted = ok(local_backend, one, "grep ' /srv/db ' /proc/self/mounts")
    assert "nosuid" in mounted and "nodev" in mounted

    storage.detach_volume(volume, one)  # unmounts it in the guest first
    assert inside(local_backend, one, "test -e /dev/vdc")[0] != 0
    assert inside(local_backend, one, "grep -q ' /srv/db ' /proc/self/mounts")[0] != 0
    assert f"{loop.major}:{loop.minor}" not in devices_list(local_backend, one)
    assert plug.loops_of(disk_of(local_backend, volume)) == []

    storage.attach_volume(volume, two, "/dev/vdb")
    ok(local_backend, two, "mkdir -p /mnt/v && mount /dev/vdb /mnt/v")
    assert ok(local_backend, two, "cat /mnt/v/proof") == "kept-on-the-volume"
    ok(local_backend, two, "umount /mnt/v")
    assert inside(local_backend, two, "grep -q ' /mnt/v ' /proc/self/mounts")[0] != 0
    storage.detach_volume(volume, two)


def test_lsblk_in_the_guest_lists_its_root_disk_and_volumes_at_their_names_and_no_host_device(
    local_backend: LocalBackend, servers: tuple[NativeRef, NativeRef], new_volume: NewVolume
) -> None:
    one, two = servers
    storage = local_backend.block_storage
    volume = new_volume()
    storage.attach_volume(volume, one, "/dev/vdd")

    assert ok(local_backend, one, "ls /dev/vdd") == "/dev/vdd"
    assert ok(local_backend, one, "blockdev --getsize64 /dev/vdd") == str(GiB)
    listed = ok(local_backend, one, "lsblk -b -n -o NAME,SIZE,TYPE")
    # vda: the root disk a virtual machine of the flavor (1 GB) has; Tempest counts it too
    rows = sorted(line.split() for line in listed.splitlines())
    assert rows == [["vda", str(GiB), "disk"], ["vdd", str(GiB), "disk"]]
    assert ok(local_backend, one, "lsblk -lb --nodeps").splitlines()[0].split()[5] == "TYPE"
    assert ok(local_backend, one, "lsblk -n -o NAME /dev/vdd") == "vdd"
    # the host's disks and loop devices are not listed, nor another server's volume
    assert sorted(ok(local_backend, one, "ls /sys/block").split()) == ["vda", "vdd"]
    assert ok(local_backend, two, "lsblk -n -o NAME; ls /sys/block").split() == ["vda", "vda"]
    # an extension while attached shows through: the sizes are the device's own
    storage.extend_volume(volume, 2)
    assert ok(local_backend, one, "lsblk -b -n -o SIZE /dev/vdd") == str(2 * GiB)
    assert ok(local_backend, one, "blockdev --getsize64 /dev/vdd") == str(2 * GiB)

    storage.detach_volume(volume, one)
    assert ok(local_backend, one, "lsblk -n -o NAME; ls /sys/block").split() == ["vda", "vda"]


def test_a_server_reaches_no_device_but_its_own_volumes(
    local_backend: LocalBackend, servers: tuple[NativeRef, NativeRef], new_volume: NewVolume
) -> None:
    one, two = servers
    storage = local_backend.block_storage
    theirs = new_volume()
    storage.attach_volume(theirs, one, "/dev/vdb")
    (loop,) = plug.loops_of(disk_of(local_backend, theirs))

    status, output = inside(local_backend, two, f"mknod /tmp/stolen b {loop.major} {loop.minor}")
    assert status != 0 and "not permitted" in output
    # even a node the image brought along (made here by the host) opens nothing
    plug.add_node(pid_of(local_backend, two), "/dev/vdz", loop)
    status, output = inside(local_backend, two, "head -c 16 /dev/vdz")
    assert status != 0 and "not permitted" in output
    # nor can the guest ask the host to mount another server's volume
    status, output = inside(local_backend, two, "mkdir -p /mnt/x && mount -t ext4 /dev/vdz /mnt/x")
    assert status != 0 and "not a volume attached to this server" in output
    plug.remove_node(pid_of(local_backend, two), "/dev/vdz", loop)

    storage.detach_volume(theirs, one)


def test_a_detach_takes_the_device_off_the_bundle_before_it_frees_the_loop(
    local_backend: LocalBackend,
    servers: tuple[NativeRef, NativeRef],
    new_volume: NewVolume,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The bundle's devices are what the guest's mounts are checked against, and a freed
    loop's number goes to the next volume bound, another server's maybe: a detach that stops
    between the two leaves the loop bound to this volume and named by no bundle."""
    one, _ = servers
    storage = local_backend.block_storage
    volume = new_volume()
    storage.attach_volume(volume, one, "/dev/vdg")
    (loop,) = plug.loops_of(disk_of(local_backend, volume))

    def listed() -> list[tuple[int, int]]:
        return [(d.major, d.minor) for d in instance(local_backend, one).block_devices()]

    assert (loop.major, loop.minor) in listed()

    def refused(disk: Path) -> None:
        raise BackendError("losetup refused")

    with monkeypatch.context() as patched:
        patched.setattr(plug, "free_loops", refused)
        with pytest.raises(BackendError, match="losetup refused"):
            storage.detach_volume(volume, one)
    assert (loop.major, loop.minor) not in listed()
    assert plug.loops_of(disk_of(local_backend, volume)) == [loop]
    storage.detach_volume(volume, one)  # asked again, it finishes
    assert storage.get_volume(volume).status is VolumeStatus.AVAILABLE
    assert plug.loops_of(disk_of(local_backend, volume)) == []


#: in a guest, in the background: connections to the host's mount socket that send a byte a
#: second and never a whole request, as many as the host takes, made anew as it closes them
DRIP = r"""
import socket, time
SOCKET = "/run/interstack/volumes.sock"
def opened():
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    conn.connect(SOCKET)
    return conn
held = [opened() for _ in range(12)]
open("/tmp/drip.ready", "w").close()
while True:
    for at, conn in enumerate(held):
        try:
            conn.send(b" ")
        except OSError:
            conn.close()
            try:
                held[at] = opened()
            except OSError:
                pass
    time.sleep(1)
"""


def test_a_guest_dripping_requests_keeps_no_other_servers_mount_waiting(
    local_backend: LocalBackend, servers: tuple[NativeRef, NativeRef], new_volume: NewVolume
) -> None:
    """One service answers every instance's socket: a guest that holds requests open, a byte
    at a time, may not hold the mounts of another (its helper gives up after a minute)."""
    one, two = servers
    storage = local_backend.block_storage
    volume = new_volume()
    storage.attach_volume(volume, one, "/dev/vdf")
    ok(local_backend, one, "mkfs.ext4 -q /dev/vdf")
    ok(local_backend, two, f"cat > /tmp/drip.py <<'PY'\n{DRIP}\nPY")
    launch = "rm -f /tmp/drip.ready; setsid python3 /tmp/drip.py </dev/null >/dev/null 2>&1 &"
    ok(local_backend, two, f"{launch} echo $! > /tmp/drip.pid")
    try:
        eventually(
            lambda: inside(local_backend, two, "test -f /tmp/drip.ready")[0],
            lambda status: status == 0,
            "the guest's connections",
        )
        ok(local_backend, one, "mkdir -p /mnt/d && mount /dev/vdf /mnt/d && umount /mnt/d")
        # and a request past the bound is refused with why, the service answering on
        huge = "python3 -c 'import socket; c = socket.socket(socket.AF_UNIX); "
        huge += 'c.connect("/run/interstack/volumes.sock"); c.sendall(b"x" * 20000); '
        huge += "print(c.makefile().readline())'"
        assert "a request is at most" in ok(local_backend, one, huge)
        ok(local_backend, one, "mount /dev/vdf /mnt/d && umount /mnt/d")
    finally:
        inside(local_backend, two, "kill $(cat /tmp/drip.pid)")
        storage.detach_volume(volume, one)


def test_the_guests_mounts_are_answered_without_the_gateways_driver(
    local_backend: LocalBackend, servers: tuple[NativeRef, NativeRef], new_volume: NewVolume
) -> None:
    """The supervisor, the instances' parent, answers their mounts: a gateway that is down (its
    block storage driver closed here) takes none with it."""
    one, _ = servers
    storage = local_backend.block_storage
    volume = new_volume()
    storage.attach_volume(volume, one, "/dev/vde")
    ok(local_backend, one, "mkfs.ext4 -q /dev/vde")
    local_backend.local_block_storage.close()
    try:
        ok(local_backend, one, "mkdir -p /mnt/r && mount /dev/vde /mnt/r && umount /mnt/r")
    finally:
        local_backend.local_block_storage.start()
    storage.detach_volume(volume, one)


def test_attachments_survive_stop_and_start_and_grow_in_place(
    local_backend: LocalBackend, servers: tuple[NativeRef, NativeRef], new_volume: NewVolume
) -> None:
    _, two = servers
    storage, compute = local_backend.block_storage, local_backend.compute
    hot = new_volume()
    cold = new_volume()
    storage.attach_volume(hot, two, "/dev/vdb")
    ok(local_backend, two, "printf 'raw bytes' | dd of=/dev/vdb conv=notrunc status=none")

    compute.power_action(two, PowerAction.STOP)
    settled(local_backend, two, ServerStatus.STOPPED)
    assert storage.attach_volume(cold, two, "/dev/vdd").device == "/dev/vdd"  # while stopped
    compute.power_action(two, PowerAction.START)
    boot_done = settled(local_backend, two, ServerStatus.ACTIVE)
    assert boot_done.status is ServerStatus.ACTIVE, boot_done.fault

    assert ok(local_backend, two, "head -c 9 /dev/vdb") == "raw bytes"
    ok(local_backend, two, "test -b /dev/vdd")
    storage.extend_volume(hot, 2)
    assert ok(local_backend, two, "blockdev --getsize64 /dev/vdb") == str(2 * 1024**3)

    compute.delete_server(two)
    for volume in (hot, cold):
        assert storage.get_volume(volume).status is VolumeStatus.AVAILABLE
        assert plug.loops_of(disk_of(local_backend, volume)) == []


def test_a_volume_made_from_the_default_image_holds_its_root(
    local_backend: LocalBackend, default_image: Path, new_volume: NewVolume
) -> None:
    root = new_volume(image=DEFAULT_IMAGE)
    disk = disk_of(local_backend, root)
    found = subprocess.run(
        ["debugfs", "-R", "stat /sbin/init", str(disk)], capture_output=True, text=True, check=False
    )
    assert "Type: symlink" in found.stdout or "Type: regular" in found.stdout, found.stderr


def test_a_server_boots_from_a_volume_that_keeps_its_root(
    local_backend: LocalBackend, default_image: Path, new_volume: NewVolume
) -> None:
    storage, compute = local_backend.block_storage, local_backend.compute
    root = new_volume(image=DEFAULT_IMAGE)
    data = new_volume()
    server = compute.create_server(
        spec(
            "from-volume",
            root_volume=BootVolume(root, "/dev/vda"),
            volumes=(BootVolume(data, "/dev/vdb"),),
        )
    )
    booted = settled(local_backend, server.ref, ServerStatus.ACTIVE)
    assert booted.status is ServerStatus.ACTIVE, booted.fault
    ok(local_backend, server.ref, "test -b /dev/vdb && ! test -e /dev/vda")
    ok(local_backend, server.ref, "echo written-in-the-guest > /etc/on-the-volume && sync")
    with pytest.raises(Conflict):  # the root disk stays while the server exists
        storage.detach_volume(root, server.ref)

    compute.delete_server(server.ref)
    assert storage.get_volume(root).status is VolumeStatus.AVAILABLE
    found = subprocess.run(
        ["debugfs", "-R", "cat /etc/on-the-volume", str(disk_of(local_backend, root))],
        capture_output=True,
        text=True,
        check=False,
    )
    assert found.stdout.strip() == "written-in-the-guest", found.stderr


def test_beside_a_supervisor_from_before_the_gateway_answers_the_mounts(
    local_backend: LocalBackend,
    servers: tuple[NativeRef, NativeRef],
    new_volume: NewVolume,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A supervisor from before it answered mounts (still the parent of instances that kept
    running across an upgrade) answers none: the driver that starts beside it does, with the
    same checks. (Last in the module: the driver takes the guest's socket from the supervisor.)"""
    one, _ = servers
    storage = local_backend.block_storage
    driver = local_backend.local_block_storage
    volume = new_volume()
    storage.attach_volume(volume, one, "/dev/vdf")
    ok(local_backend, one, "mkfs.ext4 -q /dev/vdf && mkdir -p /mnt/o")
    # as beside a supervisor from before: nobody answers the guest's socket
    (instance(local_backend, one).boot_dir / "volumes.sock").unlink()
    assert inside(local_backend, one, "mount /dev/vdf /mnt/o")[0] != 0
    driver.close()
    monkeypatch.setattr(driver.instances, "supervisor_answers_mounts", lambda: False)
    driver.start()
    try:
        ok(local_backend, one, "mount /dev/vdf /mnt/o && umount /mnt/o")
    finally:
        driver.close()
        monkeypatch.undo()
        driver.start()
    storage.detach_volume(volume, one)


def test_a_server_whose_root_is_at_sda_takes_a_volume_at_vda(
    local_backend: LocalBackend, new_volume: NewVolume
) -> None:
    """The gateway's root device (an image's root_device_name ``/dev/sda``) is the one no
    volume takes: ``/dev/vda`` is free for one, and the guest lists its root disk as sda."""
    compute, storage = local_backend.compute, local_backend.block_storage
    data, other = new_volume(), new_volume()
    at_vda = (BootVolume(data, "/dev/vda"),)
    server = compute.create_server(spec("root-at-sda", root_device="/dev/sda", volumes=at_vda))
    try:
        booted = settled(local_backend, server.ref, ServerStatus.ACTIVE)
        assert booted.status is ServerStatus.ACTIVE, booted.fault
        size = ok(local_backend, server.ref, "test -b /dev/vda && blockdev --getsize64 /dev/vda")
        assert size == str(GiB)
        assert sorted(ok(local_backend, server.ref, "ls /sys/block").split()) == ["sda", "vda"]
        with pytest.raises(BadRequest, match="/dev/sda"):
            storage.attach_volume(other, server.ref, "/dev/sda")
    finally:
        compute.delete_server(server.ref)
