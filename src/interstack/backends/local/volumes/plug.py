"""The host side of a volume on a server: its loop device, its node inside the instance, and
the instance's device cgroup.

A volume's file is bound to a loop device while the volume is attached (across stops of the
server, so the major:minor the server was allowed stays the same). Inside a running instance the
device appears at the requested name (``/dev/vdb``): the host creates the node through
``/proc/<pid>/root/dev`` (the instance has no ``CAP_MKNOD``) and allows exactly that
major:minor, read and write, in the instance's v1 ``devices`` cgroup; detaching denies it
again, removes the node and frees the loop device. Nothing here runs a program of the guest's:
the nodes are made with ``mknod(2)`` through the instance's root, and mounts with
:mod:`.nsmount`, which enters the instance's mount namespace without executing anything in it.
"""

from __future__ import annotations

import os
import re
import stat
import sys
from dataclasses import dataclass
from pathlib import Path

from interstack.backends.local import sysblock
from interstack.backends.local.bundle import DISK_GID
from interstack.backends.local.host import CgroupMode, cgroup_mode, run
from interstack.errors import BackendError, BadRequest, Conflict

#: device names a volume may be attached at (``/dev/vdb``, ``/dev/sdc``, ``/dev/xvdf`` ...):
#: the names the guest's ``/sys/block`` can show (matched whole)
DEVICE_NAME = re.compile(f"/dev/{sysblock.NAME_PATTERN}")
DEVICES_CGROUP = Path("/sys/fs/cgroup/devices")
#: :mod:`.nsmount` run as a script (no package imports: it starts in a fresh interpreter)
NSMOUNT = (sys.executable, "-I", str(Path(__file__).with_name("nsmount.py")))


@dataclass(frozen=True)
class LoopDevice:
    path: str
    major: int
    minor: int


def device_name_refusal(device: str) -> str | None:
    """Why a guest cannot see a disk at ``device`` (its node and its ``/sys/block`` entry
    are made by the name, which must be one plain one); None where it can."""
    if DEVICE_NAME.fullmatch(device):
        return None
    return (
        f"{device} is not a name a disk can have on this region's servers: /dev/ then a "
        "lower-case letter and 1 to 15 lower-case letters or digits (such as /dev/vdb)."
    )


def check_root_device(device: str) -> str:
    """``device`` if the guest's root disk can be shown at it: the gateway asks
    :func:`device_name_refusal` first, and this backend makes its ``/sys/block`` entry by it."""
    if not DEVICE_NAME.fullmatch(device):
        raise BadRequest(f"{device} is not a device name a server's root disk can be at")
    return device


def check_device_name(device: str, root_device: str | None = None) -> str:
    """``device`` if it is a device name a disk can be given in a guest (no path of another
    kind: nodes are made by this name) and not ``root_device``, the guest's root disk's."""
    if device_name_refusal(device) is not None or device == root_device:
        raise BadRequest(f"{device} is not a device name a volume can be attached at")
    return device


def hot_plug_supported() -> bool:
    """Running instances get devices by writing their v1 ``devices`` cgroup; on v2 the allow-list
    is an eBPF program runc owns, so volumes attach there only while a server is stopped."""
    return cgroup_mode() is CgroupMode.V1 and DEVICES_CGROUP.is_dir()


# -- loop devices ------------------------------------------------------------------------------


def _loop(path: str) -> LoopDevice:
    rdev = os.stat(path).st_rdev
    return LoopDevice(path=path, major=os.major(rdev), minor=os.minor(rdev))


def loops_of(file: Path) -> list[LoopDevice]:
    """The loop devices backed by ``file`` (normally none or one)."""
    listing = run(["losetup", "--associated", str(file)], what="list loop devices")
    return [_loop(line.split(":", 1)[0]) for line in listing.splitlines() if ":" in line]


def bind_loop(file: Path) -> LoopDevice:
    """The loop device of ``file``, set up if it has none (idempotent)."""
    found = loops_of(file)
    if found:
        return found[0]
    path = run(["losetup", "--find", "--show", str(file)], what="set up a loop device").strip()
    return _loop(path)


def free_loops(file: Path) -> None:
    """Detach every loop device of ``file`` (one still open is freed when it is closed)."""
    for loop in loops_of(file):
        run(["losetup", "--detach", loop.path], what=f"free loop device {loop.path}")


def refresh_loop_size(file: Path) -> None:
    """Tell the loop devices of ``file`` that it grew (``losetup -c``)."""
    for loop in loops_of(file):
        run(["losetup", "--set-capacity", loop.path], what=f"resize loop device {loop.path}")


# -- inside a running instance -----------------------------------------------------------------


def _dev_dir(pid: int) -> int:
    try:
        return os.open(f"/proc/{pid}/root/dev", os.O_DIRECTORY | os.O_NOFOLLOW | os.O_RDONLY)
    except OSError as exc:
        raise BackendError(f"cannot reach the instance's /dev: {exc.strerror}") from exc


def add_node(pid: int, device: str, loop: LoopDevice) -> None:
    """Create ``device`` (``/dev/vdb``) in the instance, a block node of ``loop``, replacing a
    stale block node of that name; any other file there is a conflict."""
    name = check_device_name(device).removeprefix("/dev/")
    directory = _dev_dir(pid)
    try:
        try:
            found = os.stat(name, dir_fd=directory, follow_symlinks=False)
        except FileNotFoundError:
            pass
        else:
            if not stat.S_ISBLK(found.st_mode):
                raise Conflict(f"{device} already exists in the server and is not a disk")
            os.unlink(name, dir_fd=directory)
        mode = stat.S_IFBLK | 0o660
        os.mknod(name, mode, os.makedev(loop.major, loop.minor), dir_fd=directory)
        os.chown(name, 0, DISK_GID, dir_fd=directory, follow_symlinks=False)
    except OSError as exc:
        raise BackendError(f"cannot create {device} in the server: {exc.strerror}") from exc
    finally:
        os.close(directory)


def remove_node(pid: int, device: str, loop: LoopDevice) -> None:
    """Remove ``device`` from the instance if it is still the node of ``loop``."""
    name = check_device_name(device).removeprefix("/dev/")
    directory = _dev_dir(pid)
    try:
        found = os.stat(name, dir_fd=directory, follow_symlinks=False)
        if stat.S_ISBLK(found.st_mode) and found.st_rdev == os.makedev(loop.major, loop.minor):
            os.unlink(name, dir_fd=directory)
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise BackendError(f"cannot remove {device} from the server: {exc.strerror}") from exc
    finally:
        os.close(directory)


def _write_cgroup(cgroup_path: str, control: str, loop: LoopDevice, access: str) -> None:
    target = DEVICES_CGROUP / cgroup_path.lstrip("/") / control
    try:
        target.write_text(f"b {loop.major}:{loop.minor} {access}\n")
    except OSError as exc:
        raise BackendError(f"cannot write {target}: {exc.strerror}") from exc


def allow_device(cgroup_path: str, loop: LoopDevice) -> None:
    """Let the instance read and write ``loop`` (not create nodes: it has no CAP_MKNOD)."""
    _write_cgroup(cgroup_path, "devices.allow", loop, "rw")


def deny_device(cgroup_path: str, loop: LoopDevice) -> None:
    """Take ``loop`` off the instance's allow-list (a cgroup already gone has nothing to deny)."""
    if (DEVICES_CGROUP / cgroup_path.lstrip("/")).is_dir():
        _write_cgroup(cgroup_path, "devices.deny", loop, "rwm")


def guest_mounts_of(pid: int, loop: LoopDevice) -> list[str]:
    """Where the instance has the loop device mounted (paths as the instance sees them)."""
    wanted = f"{loop.major}:{loop.minor}"
    try:
        lines = Path(f"/proc/{pid}/mountinfo").read_text().splitlines()
    except OSError:
        return []
    found = []
    for line in lines:
        fields = line.split()
        if len(fields) > 4 and fields[2] == wanted:
            found.append(fields[4].encode().decode("unicode_escape"))
    return sorted(found, key=len, reverse=True)  # the deepest first


def mount_argv(pid: int, loop: LoopDevice, target: str, fstype: str, options: str) -> list[str]:
    """The command that mounts the filesystem on ``loop`` at ``target`` inside the instance
    (nosuid, nodev)."""
    return [*NSMOUNT, "mount", str(pid), loop.path, target, fstype, options]


def unmount_argv(pid: int, loop: LoopDevice, target: str) -> list[str]:
    """The command that detaches the mount of ``loop`` at ``target`` inside the instance
    (lazily: a busy one goes once it is no longer used)."""
    return [*NSMOUNT, "umount", str(pid), target, f"{loop.major}:{loop.minor}"]


def unmount_in_guest(pid: int, loop: LoopDevice, target: str) -> None:
    """Run :func:`unmount_argv` (the gateway, detaching a volume)."""
    run(unmount_argv(pid, loop, target), what=f"unmount {target}")


def loop_at(major: int, minor: int) -> LoopDevice:
    """The loop device numbered ``major:minor`` (BadRequest when none is)."""
    sysfs = Path(f"/sys/dev/block/{major}:{minor}")
    try:
        (sysfs / "loop" / "backing_file").stat()
        uevent = (sysfs / "uevent").read_text()
        name = next(ln.partition("=")[2] for ln in uevent.splitlines() if ln.startswith("DEVNAME="))
        found = _loop(f"/dev/{name}")
    except (OSError, StopIteration):
        raise BadRequest(f"device {major}:{minor} is not a volume's loop device") from None
    if (found.major, found.minor) != (major, minor):
        raise BadRequest(f"device {major}:{minor} is not a volume's loop device")
    return found
