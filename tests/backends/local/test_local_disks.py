"""A server's ephemeral and swap disks on the host side of the local backend: sparse files in
the instance's directory, formatted at its first boot, on loop devices its bundle lists beside
the volumes' (a volume's hot attach and detach keep them there); ``interstack cleanup``'s loop
release frees them and keeps the files, which the next boot binds again; the deletion frees
them and takes the files with the directory. A filesystem a guest could not mount here is
refused before anything exists."""

from __future__ import annotations

import subprocess
import uuid

import pytest

from interstack.backends.contract import LocalDisk, PowerAction, ServerStatus, VolumeSpec
from interstack.backends.local import LocalBackend
from interstack.backends.local.cleanup import free_volume_loops
from interstack.backends.local.localdisks import disk_file
from interstack.backends.local.volumes import plug
from interstack.errors import BadRequest
from tests.backends.local.helpers import boot, instance, runc_root, settled, spec
from tests.support.local import exec_in
from tests.support.waiting import eventually

MiB = 1024 * 1024
DISKS = (
    LocalDisk(name="ephemeral0", device="/dev/vdb", size_mb=1024, guest_format="ext3"),
    LocalDisk(name="swap", device="/dev/vdc", size_mb=64, guest_format="swap"),
)


def _blkid(path: object, tag: str) -> str:
    done = subprocess.run(
        ["blkid", "-s", tag, "-o", "value", str(path)], capture_output=True, text=True, check=False
    )
    return done.stdout.strip()


def _inside(backend: LocalBackend, server: str, command: str) -> str:
    done = exec_in(runc_root(backend), server, command)
    assert done.returncode == 0, f"{command!r}: {done.stdout}{done.stderr}"
    return done.stdout.strip()


def test_local_disks_are_sparse_formatted_files_on_loops_until_the_server_goes(
    local_backend: LocalBackend,
) -> None:
    server = boot(local_backend, spec("local-disks", local_disks=DISKS))
    held = instance(local_backend, server.ref)
    ephemeral, swap = (disk_file(held.dir, d) for d in DISKS)
    size = ephemeral.stat()
    assert size.st_size == 1024 * MiB and size.st_blocks * 512 < 100 * MiB  # sparse
    assert (_blkid(ephemeral, "TYPE"), _blkid(ephemeral, "LABEL")) == ("ext3", "ephemeral0")
    assert _blkid(swap, "TYPE") == "swap"
    assert _inside(local_backend, server.ref, "blkid -s TYPE -o value /dev/vdb") == "ext3"
    assert _inside(local_backend, server.ref, "blockdev --getsize64 /dev/vdc") == str(64 * MiB)

    def listed() -> set[tuple[str, int, int]]:
        return {(d.path, d.major, d.minor) for d in held.block_devices()}

    loops = {
        (d.device, lp.major, lp.minor)
        for d, f in zip(DISKS, (ephemeral, swap), strict=True)
        for lp in plug.loops_of(f)
    }
    assert len(loops) == 2 and loops <= listed()

    if plug.hot_plug_supported():  # a volume's attach and detach rewrite the bundle's devices
        storage = local_backend.block_storage
        volume = storage.create_volume(
            VolumeSpec(gateway_id=str(uuid.uuid4()), name="v", project_id="p1", size_gb=1)
        ).ref
        eventually(lambda: storage.get_volume(volume).status.value, "available".__eq__, "vol")
        storage.attach_volume(volume, server.ref, "/dev/vdd")
        assert loops <= listed() and "/dev/vdd" in {path for path, _, _ in listed()}
        storage.detach_volume(volume, server.ref)
        assert listed() == loops
        storage.delete_volume(volume)

    local_backend.compute.power_action(server.ref, PowerAction.STOP)
    settled(local_backend, server.ref, ServerStatus.STOPPED)
    free_volume_loops(local_backend.context.data_dir)  # what interstack cleanup does
    assert plug.loops_of(ephemeral) == [] and plug.loops_of(swap) == []
    local_backend.compute.power_action(server.ref, PowerAction.START)
    assert settled(local_backend, server.ref, ServerStatus.ACTIVE).status is ServerStatus.ACTIVE
    assert _inside(local_backend, server.ref, "blkid -s LABEL -o value /dev/vdb") == "ephemeral0"

    local_backend.compute.delete_server(server.ref)
    assert not held.dir.exists()
    leftover = subprocess.run(["losetup", "-a"], capture_output=True, text=True, check=True)
    assert str(held.dir) not in leftover.stdout


def test_a_filesystem_a_guest_cannot_mount_is_refused_before_anything_exists(
    local_backend: LocalBackend,
) -> None:
    wanted = spec("xfs", local_disks=(LocalDisk("ephemeral0", "/dev/vdb", 1024, "xfs"),))
    with pytest.raises(BadRequest, match="xfs"):
        local_backend.compute.create_server(wanted)
    assert wanted.gateway_id not in {s.gateway_id for s in local_backend.compute.list_servers()}
