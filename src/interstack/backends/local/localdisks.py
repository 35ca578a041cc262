"""A server's ephemeral and swap disks (Nova's blank local disks, ``ServerSpec.local_disks``):
sparse files in the instance's own directory, on loop devices while the instance exists, block
devices inside it at the names Nova gives them::

    instances/<ref>/disks/ephemeral0.raw    ext4 (or the mapping's ext2/ext3), labelled ephemeral0
    instances/<ref>/disks/swap.raw          mkswap'd

Each file is made and formatted at the instance's first boot (a boot job, never the create
request; an instance without such disks does nothing here), as Nova's libvirt driver makes
them: ``mkfs -t <guest_format> -F -L <name>`` for an ephemeral disk, ``mkswap`` for swap; a
crash half-way leaves only a temporary file, which the next boot makes again. Every boot binds
the files to loop devices (again after a host reboot) and the bundle lists their devices with
the volumes' (:meth:`.instances.Instance.write_bundle`), so they survive stops, reboots inside
the guest (the supervisor boots from the bundle) and gateway restarts. Deleting the server
frees the loops, then its directory goes with the files; ``interstack cleanup`` frees the loops
and keeps the files (they are the server's disks, as its root layer is).

What the guest sees: each device at its name (``/dev/vdb``), in ``/sys/block`` with its size
(``lsblk``), formatted (``blkid``: ``LABEL="ephemeral0" TYPE="ext4"``, ``TYPE="swap"``), and
announced by the metadata service (EC2 ``block-device-mapping/ephemeral0``, ``swap``), so
cloud-init's default ``mounts`` puts ephemeral0 at ``/mnt`` (the mount goes through the host:
:mod:`.volumes.guestmount`) and lists the swap disk in ``/etc/fstab``. The swap disk is not in
use: ``swapon`` needs ``CAP_SYS_ADMIN``, which an instance never has (it would let it remount
and unshare as the host), so ``free`` shows no swap and the flavor's memory limit is the whole
of the guest's memory; the disk is there, formatted, for a guest that reads or moves it.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Sequence
from pathlib import Path

from interstack.backends.contract import LocalDisk
from interstack.backends.local.bundle import BlockDevice
from interstack.backends.local.host import run
from interstack.backends.local.volumes import plug
from interstack.errors import BackendError, BadRequest

#: in an instance's directory
DISKS_DIR = "disks"
SUFFIX = ".raw"
#: the filesystems an ephemeral disk can be made with: those a guest can mount here
#: (:mod:`.volumes.guestmount` mounts ext2/3/4 only)
FILESYSTEMS = frozenset({"ext2", "ext3", "ext4"})
_NAME = re.compile(r"^(ephemeral(0|[1-9][0-9]{0,2})|swap)$")
MiB = 1024 * 1024


def check(disks: Sequence[LocalDisk], root_device: str) -> None:
    """Refuse, before anything exists, disks this backend cannot make: a filesystem a guest
    could not mount here, a name or device that is not one of Nova's (or is the root disk's,
    ``root_device``), a size of nothing."""
    for disk in disks:
        if not _NAME.match(disk.name):
            raise BadRequest(f"{disk.name!r} is not the name of an ephemeral or swap disk")
        plug.check_device_name(disk.device, root_device)
        if disk.size_mb <= 0:
            raise BadRequest(f"the local disk {disk.name} has no size")
        if not disk.swap and disk.guest_format not in FILESYSTEMS:
            raise BadRequest(
                f"guest_format {disk.guest_format!r} of {disk.name} is not a filesystem this "
                f"cloud makes ephemeral disks with ({', '.join(sorted(FILESYSTEMS))} or swap)"
            )


def disk_file(instance_dir: Path, disk: LocalDisk) -> Path:
    return instance_dir / DISKS_DIR / f"{disk.name}{SUFFIX}"


def _make(path: Path, disk: LocalDisk) -> None:
    """A new sparse file of the disk's size, formatted as Nova formats it, renamed into place
    only once it is whole; whatever fails leaves no file behind and is a ``BackendError``
    naming the disk (the server's fault), a host that cannot hold the file too (``EFBIG``
    for a flavor's disk larger than its filesystem takes, ``ENOSPC``)."""
    partial = path.with_name(f".{path.name}.partial")
    try:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with partial.open("wb") as out:
                out.truncate(disk.size_mb * MiB)
        except OSError as exc:
            raise BackendError(f"cannot make the disk {disk.device}: {exc.strerror}") from exc
        if disk.swap:
            run(["mkswap", "-q", str(partial)], what=f"format the swap disk {disk.device}")
        else:
            run(
                [f"mkfs.{disk.guest_format}", "-q", "-F", "-L", disk.name, str(partial)],
                what=f"format the ephemeral disk {disk.device}",
            )
    except BaseException:
        with contextlib.suppress(OSError):
            partial.unlink(missing_ok=True)
        raise
    partial.replace(path)


def prepare(instance_dir: Path, disks: Sequence[LocalDisk]) -> list[BlockDevice]:
    """The disks' devices for the instance's bundle: each file made at the first boot, then
    bound to its loop device (again after a host reboot). Called with the instance's lock
    held; nothing at all for an instance without local disks."""
    devices: list[BlockDevice] = []
    for disk in disks:
        path = disk_file(instance_dir, disk)
        if not path.exists():
            _make(path, disk)
        loop = plug.bind_loop(path)
        devices.append(BlockDevice(disk.device, loop.major, loop.minor))
    return devices


def release(instance_dir: Path) -> None:
    """Free the loop devices of every local disk of the instance (the files stay)."""
    directory = instance_dir / DISKS_DIR
    with contextlib.suppress(FileNotFoundError):
        for path in sorted(directory.iterdir()):
            if path.suffix == SUFFIX and not path.name.startswith("."):
                plug.free_loops(path)
