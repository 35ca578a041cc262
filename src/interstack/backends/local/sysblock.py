"""The block devices an instance sees in ``/sys``: its attached volumes, at their names.

``lsblk`` and friends list ``/sys/block`` and read each device through ``/sys/dev/block/M:m``.
An instance's ``/sys`` is the host's sysfs (read-only), so those would list the host's disks and
loop devices, and an attached volume only as the loop device it is bound to (``loop5``), not
at the name it was attached at (``vdb``). So the backend mounts, read-only, two directories of
its own over them: ``block/<name>/`` whose entries are symlinks to the attributes of the volume's
real device (its size stays live: ``blockdev``, an extension, show through), and
``dev-block/<major>:<minor>`` -> ``../../block/<name>``. They hold exactly the instance's
volumes; a hot attach or detach changes them while the instance runs.

Left out of each device's entries: the loop driver's own (``loop/``, which names the host file)
and the links that lead back into the host's device tree.

A server booted from an image has no block device under its root (a directory on the host), yet
a virtual machine has its root disk: ``vda`` (or where the server's root device is, ``sda``) is
shown with the flavor's disk size (the attributes
``lsblk`` reads, at a device number of its own), so that a guest counts its disks as on Nova
(Tempest's volume attach test lists them before and after).
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterable
from pathlib import Path

from interstack.errors import BackendError

SYS_DEV_BLOCK = Path("/sys/dev/block")
#: in an instance's directory
VIEW_DIR = "sys"
#: a device's entries not shown to the guest
HIDDEN = frozenset({"loop", "subsystem", "device", "bdi", "power", "uevent", "trace"})
#: the root disk of a server without a root volume: its name unless the server's root device is
#: another, and its device number (virtio-blk's)
ROOT_DISK = ("vda", 253, 0)
SECTOR_BYTES = 512
#: the root disk's size for a flavor of disk 0 (Nova sizes it by the image; the guest sees 1 GiB)
ROOT_DISK_FALLBACK = 1024**3


def block_dir(instance_dir: Path) -> Path:
    """What the instance sees at ``/sys/block``."""
    return instance_dir / VIEW_DIR / "block"


def devno_dir(instance_dir: Path) -> Path:
    """What the instance sees at ``/sys/dev/block``."""
    return instance_dir / VIEW_DIR / "dev-block"


#: a device's name under ``/sys/block``: one path component (entries are made and removed by
#: it), and so the names a disk can have in a guest (:func:`.volumes.plug.device_name_refusal`);
#: matched whole (``fullmatch``: ``$`` alone would take a name ending in a newline)
NAME_PATTERN = "[a-z][a-z0-9]{1,15}"
_NAME = re.compile(NAME_PATTERN)


def _name(device: str) -> str:
    """``vdb`` of ``/dev/vdb``; anything but a plain name (``/dev/../x``) would lead out of the
    instance's view, so it is refused."""
    name = device.removeprefix("/dev/")
    if not _NAME.fullmatch(name):
        raise BackendError(f"{device} is not a device name the guest's /sys/block can show")
    return name


def add(instance_dir: Path, device: str, major: int, minor: int) -> None:
    """Show the device ``major:minor`` at ``device`` (``/dev/vdb``); idempotent."""
    real = (SYS_DEV_BLOCK / f"{major}:{minor}").resolve()
    entry = block_dir(instance_dir) / _name(device)
    shutil.rmtree(entry, ignore_errors=True)
    entry.mkdir(parents=True)
    for attribute in sorted(os.listdir(real)):
        if attribute not in HIDDEN:
            (entry / attribute).symlink_to(real / attribute)
    link = devno_dir(instance_dir) / f"{major}:{minor}"
    link.parent.mkdir(parents=True, exist_ok=True)
    link.unlink(missing_ok=True)
    link.symlink_to(f"../../block/{_name(device)}")


def remove(instance_dir: Path, device: str, major: int, minor: int) -> None:
    (devno_dir(instance_dir) / f"{major}:{minor}").unlink(missing_ok=True)
    shutil.rmtree(block_dir(instance_dir) / _name(device), ignore_errors=True)


def _add_root_disk(instance_dir: Path, name: str, size_bytes: int) -> None:
    _, major, minor = ROOT_DISK
    entry = block_dir(instance_dir) / name
    entry.mkdir(parents=True)
    attributes = {
        "size": str(size_bytes // SECTOR_BYTES),
        "dev": f"{major}:{minor}",
        "ro": "0",
        "removable": "0",
    }
    for attribute, value in attributes.items():
        (entry / attribute).write_text(value + "\n")
    (devno_dir(instance_dir) / f"{major}:{minor}").symlink_to(f"../../block/{name}")


def reset(
    instance_dir: Path,
    devices: Iterable[tuple[str, int, int]],
    root_disk_bytes: int = 0,
    root_device: str = "/dev/vda",
) -> None:
    """The view at boot: exactly ``devices`` (node path, major, minor), and a root disk of
    ``root_disk_bytes`` at ``root_device`` when none of them is there and the size is not 0."""
    shutil.rmtree(instance_dir / VIEW_DIR, ignore_errors=True)
    block_dir(instance_dir).mkdir(parents=True)
    devno_dir(instance_dir).mkdir(parents=True)
    names: set[str] = set()
    for device, major, minor in devices:
        add(instance_dir, device, major, minor)
        names.add(_name(device))
    if root_disk_bytes > 0 and _name(root_device) not in names:
        _add_root_disk(instance_dir, _name(root_device), root_disk_bytes)
