"""Mount a volume into, and unmount it from, an instance's mount namespace; run as its own
short process (``setns`` into a mount namespace needs a single-threaded caller, which the
gateway is not).

``python nsmount.py mount PID LOOP TARGET FSTYPE OPTIONS`` creates the filesystem mount from the
host's loop device ``LOOP`` *before* entering the instance (``fsopen``/``fsmount``: the source
is never a path the guest could swap), then enters the instance's mount namespace and root and
attaches it at ``TARGET`` (``move_mount``), always ``nosuid,nodev``.

``python nsmount.py umount PID TARGET MAJOR:MINOR`` enters the instance, opens ``TARGET`` and
detaches the mount there only if it is the root of a filesystem on device ``MAJOR:MINOR``
(``umount2(".")`` from inside it: the path is resolved once, so the guest cannot redirect the
unmount to another of its mounts, such as the masks over ``/proc``).

Nothing from the instance's filesystem is executed (unlike ``nsenter mount``). Exit status 0,
or 1 with the error on stderr. The module imports nothing of interstack: it runs as a script.
"""

from __future__ import annotations

import ctypes
import os
import sys

CLONE_NEWNS = 0x00020000
MNT_DETACH = 2
AT_FDCWD = -100
#: syscall numbers of the mount API (the same on every architecture since Linux 5.2)
SYS_MOVE_MOUNT, SYS_FSOPEN, SYS_FSCONFIG, SYS_FSMOUNT = 429, 430, 431, 432
FSOPEN_CLOEXEC = FSMOUNT_CLOEXEC = 1
FSCONFIG_SET_FLAG, FSCONFIG_SET_STRING, FSCONFIG_CMD_CREATE = 0, 1, 6
MOVE_MOUNT_F_EMPTY_PATH = 0x4
MOUNT_ATTR_RDONLY, MOUNT_ATTR_NOSUID, MOUNT_ATTR_NODEV, MOUNT_ATTR_NOEXEC = 0x1, 0x2, 0x4, 0x8
MOUNT_ATTR_NOATIME = 0x10
EXT_ROOT_INODE = 2
#: the filesystems a guest may mount from its volumes
FILESYSTEMS = frozenset({"ext4", "ext3", "ext2"})
_ATTRIBUTES = {"noexec": MOUNT_ATTR_NOEXEC, "noatime": MOUNT_ATTR_NOATIME}
#: options that change nothing here (every volume mount is nosuid and nodev anyway);
#: ``nobootwait`` is what cloud-init's ``mounts`` writes for an ephemeral disk without systemd
_NEUTRAL = frozenset(
    {"rw", "defaults", "auto", "noauto", "nouser", "async", "relatime", "_netdev", "nosuid"}
    | {"nodev", "nofail", "nobootwait", "x-systemd.automount", "loop"}
)
_FLAGS = frozenset({"discard", "nodiscard"})


class Failure(Exception):
    pass


def _check(result: int, what: str) -> int:
    if result < 0:
        errno = ctypes.get_errno()
        raise Failure(f"{what}: {os.strerror(errno)}")
    return result


def parse_options(options: str) -> tuple[int, bool, list[str]]:
    """(mount attributes, read-only, filesystem flags) for a comma-separated option list."""
    attributes, readonly, flags = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, False, []
    for option in filter(None, options.split(",")):
        if option == "ro":
            readonly = True
        elif option in _ATTRIBUTES:
            attributes |= _ATTRIBUTES[option]
        elif option in _FLAGS:
            flags.append(option)
        elif option not in _NEUTRAL:
            raise Failure(f"mount option {option} is not supported for a volume")
    return attributes | (MOUNT_ATTR_RDONLY if readonly else 0), readonly, flags


def _enter(libc: ctypes.CDLL, pid: int) -> None:
    namespace = os.open(f"/proc/{pid}/ns/mnt", os.O_RDONLY)
    root = os.open(f"/proc/{pid}/root", os.O_RDONLY | os.O_DIRECTORY)
    _check(libc.setns(namespace, CLONE_NEWNS), "enter the instance's mount namespace")
    os.fchdir(root)
    os.chroot(".")
    os.chdir("/")


def mount(libc: ctypes.CDLL, pid: int, loop: str, target: str, fstype: str, options: str) -> None:
    if fstype not in FILESYSTEMS:
        raise Failure(f"{fstype} volumes cannot be mounted (only {', '.join(sorted(FILESYSTEMS))})")
    attributes, readonly, flags = parse_options(options)
    fs = _check(libc.syscall(SYS_FSOPEN, fstype.encode(), FSOPEN_CLOEXEC), f"open {fstype}")
    _check(
        libc.syscall(SYS_FSCONFIG, fs, FSCONFIG_SET_STRING, b"source", loop.encode(), 0),
        "use the volume",
    )
    for flag in [*flags, *(["ro"] if readonly else [])]:
        _check(libc.syscall(SYS_FSCONFIG, fs, FSCONFIG_SET_FLAG, flag.encode(), None, 0), flag)
    _check(
        libc.syscall(SYS_FSCONFIG, fs, FSCONFIG_CMD_CREATE, None, None, 0),
        f"read an {fstype} filesystem on the volume (is it formatted?)",
    )
    mounted = _check(libc.syscall(SYS_FSMOUNT, fs, FSMOUNT_CLOEXEC, attributes), "mount")
    _enter(libc, pid)
    _check(
        libc.syscall(
            SYS_MOVE_MOUNT, mounted, b"", AT_FDCWD, target.encode(), MOVE_MOUNT_F_EMPTY_PATH
        ),
        f"mount on {target}",
    )


def umount(libc: ctypes.CDLL, pid: int, target: str, device: str) -> None:
    major, _, minor = device.partition(":")
    _enter(libc, pid)
    try:
        handle = os.open(target, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError as exc:
        raise Failure(f"{target}: {exc.strerror}") from exc
    found = os.fstat(handle)
    if found.st_dev != os.makedev(int(major), int(minor)) or found.st_ino != EXT_ROOT_INODE:
        raise Failure(f"{target} is not where this volume is mounted")
    os.fchdir(handle)
    _check(libc.umount2(b".", MNT_DETACH), f"unmount {target}")


def main(argv: list[str]) -> int:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    try:
        if argv[:1] == ["mount"] and len(argv) == 6:
            mount(libc, int(argv[1]), argv[2], argv[3], argv[4], argv[5])
        elif argv[:1] == ["umount"] and len(argv) == 4:
            umount(libc, int(argv[1]), argv[2], argv[3])
        else:
            raise Failure(
                "usage: nsmount mount PID LOOP TARGET FSTYPE OPTIONS | umount PID TARGET MAJ:MIN"
            )
    except (Failure, OSError, ValueError) as exc:
        print(exc, file=sys.stderr)  # noqa: T201 - the caller reads stderr
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
