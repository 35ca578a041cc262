"""How a guest mounts its volumes without ``CAP_SYS_ADMIN``: ``mount(8)`` hands the mount to the
host.

An instance runs as root in the host's user namespace with the default container capabilities:
no ``CAP_SYS_ADMIN``, so ``mount(2)`` fails inside, and granting that capability would let it
remount, unshare and more — as good as giving it the host. (A user namespace does not help:
ext4 cannot be mounted from one.) So the guest gets exactly its attached volumes' block devices
(:mod:`.plug`: read and write, which is all ``mkfs``, ``blkid``, ``dd`` and databases on raw
devices need), and *mounting* them is a request to the host:

- The guest init links ``/sbin/mount.ext4`` and ``/sbin/umount.ext4`` (ext3, ext2 too) to
  ``/run/interstack/mount-volume`` (:data:`GUEST_HELPER`, a Python 3 script: every image with
  cloud-init has Python). ``mount(8)`` and ``umount(8)`` run such helpers for the filesystem
  type (given with ``-t`` or found by blkid), so ``mount /dev/vdb /var/lib/mysql``, fstab
  entries, ``mount -a`` and Ansible's ``mount`` module work unchanged.
- The helper sends the device's major:minor, the target and the options over
  ``/run/interstack/volumes.sock``, a socket of the host that is the instance's own: the socket
  it arrives on says which server asks.
- The supervisor, the instances' parent (:mod:`..supervisor`), answers every instance's socket
  (:class:`MountService`, :func:`answer`), the gateway running or not: a guest that reboots
  itself while the gateway is down mounts its fstab's volumes as it boots. It accepts only a
  device its instance's bundle lists, which are exactly the volumes attached to it (the gateway
  rewrites that list at each attach and detach, holding the instance's lock, which the answer
  holds too), and mounts the loop device (never a path the guest names) into the instance's
  mount namespace, always ``nosuid,nodev``; unmounting detaches only a mount of that volume
  (:mod:`.nsmount`). Detaching the volume unmounts it first (the gateway does).

What does not work: mounting other filesystem types (only ext2/3/4), ``mount`` without the
helper (an image without Python 3, or ``mount -i``), and a guest that calls ``mount(2)``
directly. A supervisor from before it answered mounts, still the parent of instances that kept
running across an upgrade, answers none: a gateway that starts beside such a supervisor answers
the mounts itself, with the same :func:`answer`, while it runs (the old supervisor exits once
it has no instances, and the next boot starts the new one).
The host kernel parses a filesystem the guest wrote: as with any host-side mount, a kernel
bug in ext4 is reachable from the guest.
"""

from __future__ import annotations

import json
import logging
import os
import selectors
import socket
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from interstack.backends.local import hostlock
from interstack.backends.local.instances import Instance
from interstack.backends.local.volumes import plug
from interstack.errors import BackendError, BadRequest, Conflict, InterstackError

log = logging.getLogger(__name__)

HELPER_NAME = "mount-volume"
SOCKET_NAME = "volumes.sock"
REQUEST_TIMEOUT_SECONDS = 10.0

GUEST_HELPER = r'''#!/usr/bin/python3
"""interstack: mount(8)/umount(8) helper for volumes; the host mounts them (no CAP_SYS_ADMIN
here). Installed as /sbin/mount.ext4, /sbin/umount.ext4 and the like by the guest init."""
import json
import os
import socket
import stat
import sys

SOCKET = "/run/interstack/volumes.sock"
WITH_VALUE = {"-o", "-t", "-N"}


def main():
    name = os.path.basename(sys.argv[0])
    tool, _, fstype = name.partition(".")
    options, positional, args = "", [], iter(sys.argv[1:])
    for arg in args:
        if arg in WITH_VALUE:
            value = next(args, "")
            if arg == "-o":
                options = value
            elif arg == "-t":
                fstype = value.split(".")[0]
        elif not arg.startswith("-"):
            positional.append(arg)
    try:
        if tool == "umount":
            target = os.path.realpath(positional[0])
            device = os.stat(target).st_dev
            request = {"op": "umount", "target": target}
        else:
            source, target = positional[0], os.path.realpath(positional[1])
            found = os.stat(source)
            if not stat.S_ISBLK(found.st_mode):
                raise OSError(f"{source} is not a block device")
            device = found.st_rdev
            request = {"op": "mount", "target": target, "fstype": fstype, "options": options}
        request["device"] = [os.major(device), os.minor(device)]
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(60)
            conn.connect(SOCKET)
            conn.sendall(json.dumps(request).encode() + b"\n")
            reply = json.loads(conn.makefile().readline() or "{}")
    except (IndexError, OSError, ValueError) as exc:
        print(f"{tool}: {exc or 'usage: SOURCE TARGET'}", file=sys.stderr)
        return 32
    if reply.get("ok"):
        return 0
    print(f"{tool}: {reply.get('error', 'the host did not answer')}", file=sys.stderr)
    return 32


sys.exit(main())
'''

#: a request from a server: (server ref, the request) -> None, or raises with a message
Handler = Callable[[str, dict[str, Any]], None]
#: runs a host tool (an argument list) to completion: its exit code and its output
RunTool = Callable[[list[str]], tuple[int, str]]


def install_helper(boot_dir: Path) -> None:
    """Put the helper in the instance's boot directory (``/run/interstack`` inside)."""
    boot_dir.mkdir(parents=True, exist_ok=True)
    target = boot_dir / HELPER_NAME
    tmp = boot_dir / f".{HELPER_NAME}.tmp"
    tmp.write_text(GUEST_HELPER)
    os.chmod(tmp, 0o755)  # noqa: S103 - run by the guest's root; read-only inside
    os.replace(tmp, target)


def answer(instance: Instance, request: dict[str, Any], run_tool: RunTool) -> None:
    """Make the mount or unmount the guest of ``instance`` asks for, of a device its bundle
    lists alone, with the instance's lock held (so no attach, detach or boot runs meanwhile);
    raises with a message for the guest when it cannot."""
    major, minor = (int(number) for number in request["device"])
    operation = request["op"]
    if operation not in {"mount", "umount"}:
        raise BadRequest(f"unknown operation {operation}")
    target = str(request["target"])
    with hostlock.held(instance.dir):
        pid = instance.init_pid()
        if pid is None:
            raise Conflict(f"server {instance.ref} is not running")
        if not any((d.major, d.minor) == (major, minor) for d in instance.block_devices()):
            raise BadRequest(f"device {major}:{minor} is not a volume attached to this server")
        loop = plug.loop_at(major, minor)
        if operation == "mount":
            fstype, options = str(request["fstype"]), str(request["options"])
            argv = plug.mount_argv(pid, loop, target, fstype, options)
        else:
            argv = plug.unmount_argv(pid, loop, target)
        code, output = run_tool(argv)
    if code != 0:
        detail = output.strip().splitlines()[-1:] or [f"exit status {code}"]
        raise BackendError(f"{operation}: {detail[0]}")


def run_here(argv: list[str]) -> tuple[int, str]:
    """Run a host tool from the gateway (:data:`RunTool`)."""
    try:
        done = subprocess.run(argv, capture_output=True, check=False, timeout=300)  # noqa: S603
    except (OSError, subprocess.TimeoutExpired) as exc:
        return 1, str(exc)
    return done.returncode, (done.stderr or done.stdout).decode(errors="replace")


class MountService:
    """One thread answering every instance's socket, one request at a time."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self._selector = selectors.DefaultSelector()
        self._sockets: dict[str, socket.socket] = {}
        self._guard = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()

    def start(self) -> None:
        self._stopping.clear()
        self._thread = threading.Thread(target=self._serve, name="local-volume-mounts", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        with self._guard:
            for server in list(self._sockets):
                self._drop(server)

    def listen(self, server: str, boot_dir: Path) -> None:
        """Answer ``server`` on a socket in its boot directory (a fresh one after a restart)."""
        with self._guard:
            if server in self._sockets:
                return
            path = boot_dir / SOCKET_NAME
            path.unlink(missing_ok=True)
            boot_dir.mkdir(parents=True, exist_ok=True)
            listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            directory = os.open(boot_dir, os.O_PATH | os.O_DIRECTORY)
            try:  # through the directory's fd: a data dir's path may exceed sun_path's 108 bytes
                listener.bind(f"/proc/self/fd/{directory}/{SOCKET_NAME}")
            except OSError:
                listener.close()
                raise
            finally:
                os.close(directory)
            os.chmod(path, 0o600)  # only the guest's root (and the host) may ask
            listener.listen(8)
            listener.setblocking(False)
            self._sockets[server] = listener
            self._selector.register(listener, selectors.EVENT_READ, server)

    def forget(self, server: str) -> None:
        with self._guard:
            self._drop(server)

    def servers(self) -> list[str]:
        """The servers answered now."""
        with self._guard:
            return list(self._sockets)

    def _drop(self, server: str) -> None:
        listener = self._sockets.pop(server, None)
        if listener is not None:
            self._selector.unregister(listener)
            listener.close()

    def _serve(self) -> None:
        while not self._stopping.is_set():
            with self._guard:
                ready = self._selector.select(timeout=0) if self._sockets else []
            if not ready:
                self._stopping.wait(0.1)
                continue
            for key, _ in ready:
                try:
                    connection, _ = key.fileobj.accept()  # type: ignore[union-attr]
                except OSError:
                    continue
                with connection:
                    self._answer(connection, str(key.data))

    def _answer(self, connection: socket.socket, server: str) -> None:
        connection.setblocking(True)
        connection.settimeout(REQUEST_TIMEOUT_SECONDS)
        try:
            with connection.makefile("rwb") as stream:
                try:
                    request = json.loads(stream.readline())
                    self.handler(server, request)
                    reply: dict[str, Any] = {"ok": True}
                except InterstackError as exc:
                    reply = {"ok": False, "error": exc.message}
                except (ValueError, KeyError, TypeError) as exc:
                    reply = {"ok": False, "error": f"bad request: {exc}"}
                stream.write(json.dumps(reply).encode() + b"\n")
                stream.flush()
        except OSError as exc:
            log.warning("a mount request of %s went unanswered: %s", server, exc)
