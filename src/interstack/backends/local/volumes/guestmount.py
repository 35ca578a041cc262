"""How a guest mounts its volumes without ``CAP_SYS_ADMIN``: ``mount(8)`` hands the mount to the
host.

An instance runs as root in the host's user namespace with the default container capabilities:
no ``CAP_SYS_ADMIN``, so ``mount(2)`` fails inside, and granting that capability would let it
remount, unshare and more — as good as giving it the host. (A user namespace does not help:
ext4 cannot be mounted from one.) So the guest gets exactly its attached volumes' block devices
(:mod:`.plug`: read and write, which is all ``mkfs``, ``blkid``, ``dd`` and databases on raw
devices need), and *mounting* them is a request to the host:

- The guest init links ``/sbin/mount.ext4`` and ``/sbin/umount.ext4`` (ext3, ext2 too) to
  ``/run/interstack/mount-volume`` (:func:`guest_helper`, a Python 3 script: every image with
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
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from interstack.backends.local import hostlock
from interstack.backends.local.instances import Instance
from interstack.backends.local.volumes import plug
from interstack.errors import BackendError, BadRequest, Conflict, InterstackError

log = logging.getLogger(__name__)

HELPER_NAME = "mount-volume"
SOCKET_NAME = "volumes.sock"
#: how long a guest has to send its whole request (not each byte of it)
REQUEST_TIMEOUT_SECONDS = 10.0
#: the longest request a guest may send (a target path and options take a few KiB at most)
MAX_REQUEST_BYTES = 16 * 1024
#: one server's requests answered at once; a connection beyond them is closed unanswered
CONNECTIONS_PER_SERVER = 4
#: how long the service waits for a connection before it looks whether it is closing
SELECT_SECONDS = 0.1
#: how long the host's ``mount``/``umount`` of a guest's volume may run before it is killed
#: (a device that hangs), whoever answers: the supervisor or a gateway (:func:`run_here`)
MOUNT_TOOL_SECONDS = 60.0
#: what the guest's helper waits for its answer beyond :data:`MOUNT_TOOL_SECONDS` and
#: :data:`REQUEST_TIMEOUT_SECONDS`: the instance's lock (an attach or detach holds it a moment)
GUEST_WAIT_MARGIN_SECONDS = 30.0
#: how long an answer waits for the instance's lock (a boot, a stop or a snapshot of its root
#: volume may hold it for minutes) before it refuses the request: within
#: :data:`GUEST_WAIT_MARGIN_SECONDS`, so that the guest hears the refusal — a mount made after
#: its helper gave up would be one the guest was told had failed
LOCK_WAIT_SECONDS = 20.0

_GUEST_HELPER = r'''#!/usr/bin/python3
"""interstack: mount(8)/umount(8) helper for volumes; the host mounts them (no CAP_SYS_ADMIN
here). Installed as /sbin/mount.ext4, /sbin/umount.ext4 and the like by the guest init."""
import json
import os
import socket
import stat
import sys

SOCKET = "/run/interstack/volumes.sock"
WAIT_SECONDS = @WAIT_SECONDS@
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
            conn.settimeout(WAIT_SECONDS)
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


def guest_helper() -> str:
    """The helper's script. It waits for its answer longer than the host may take to make
    it, so a mount that fails on the host by its limit (:data:`MOUNT_TOOL_SECONDS`) is
    reported to the guest as that failure, not as a helper that gave up waiting."""
    wait = MOUNT_TOOL_SECONDS + REQUEST_TIMEOUT_SECONDS + GUEST_WAIT_MARGIN_SECONDS
    return _GUEST_HELPER.replace("@WAIT_SECONDS@", f"{wait:g}")


def install_helper(boot_dir: Path) -> None:
    """Put the helper in the instance's boot directory (``/run/interstack`` inside)."""
    boot_dir.mkdir(parents=True, exist_ok=True)
    target = boot_dir / HELPER_NAME
    tmp = boot_dir / f".{HELPER_NAME}.tmp"
    tmp.write_text(guest_helper())
    os.chmod(tmp, 0o755)  # noqa: S103 - run by the guest's root; read-only inside
    os.replace(tmp, target)


def answer(instance: Instance, request: dict[str, Any], run_tool: RunTool) -> None:
    """Make the mount or unmount the guest of ``instance`` asks for, of a device its bundle
    lists alone, with the instance's lock held (so no attach, detach or boot runs meanwhile,
    and one that holds it past :data:`LOCK_WAIT_SECONDS` refuses the request); raises with a
    message for the guest when it cannot."""
    major, minor = (int(number) for number in request["device"])
    operation = request["op"]
    if operation not in {"mount", "umount"}:
        raise BadRequest(f"unknown operation {operation}")
    target = str(request["target"])
    with ExitStack() as held:
        try:
            held.enter_context(hostlock.held(instance.dir, wait=LOCK_WAIT_SECONDS))
        except TimeoutError:
            raise Conflict(
                f"server {instance.ref} is busy with another change (a boot, a stop, an attach "
                f"or a snapshot) that held it for {LOCK_WAIT_SECONDS:g} s; try the mount again"
            ) from None
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
    """Run a host tool from the gateway (:data:`RunTool`), killed past
    :data:`MOUNT_TOOL_SECONDS` as the supervisor kills it."""
    limit = MOUNT_TOOL_SECONDS
    try:
        done = subprocess.run(  # noqa: S603
            argv, capture_output=True, check=False, timeout=limit
        )
    except subprocess.TimeoutExpired:
        return 1, f"{Path(argv[0]).name} did not finish within {limit:g} s and was killed"
    except OSError as exc:
        return 1, str(exc)
    return done.returncode, (done.stderr or done.stdout).decode(errors="replace")


def _identity(path: Path) -> tuple[int, int] | None:
    """(device, inode) of the file at ``path``, None when there is none."""
    try:
        found = os.stat(path, follow_symlinks=False)
    except OSError:
        return None
    return found.st_dev, found.st_ino


class MountService:
    """Every instance's socket, answered, each request on a thread of its own.

    The sockets are the guests', whose root may send anything: a request that never ends, one
    byte at a time, connections by the thousand, JSON nested until the parser gives up. None of
    that may keep another server's mounts waiting (the guest helper gives up after a minute: a
    boot's fstab would fail) or end the service (in the supervisor: every instance's mounts). So
    a request is read whole within :data:`REQUEST_TIMEOUT_SECONDS` and
    :data:`MAX_REQUEST_BYTES`, a server has at most :data:`CONNECTIONS_PER_SERVER` answered at
    once, and whatever a request raises is its own failed answer. Two requests of one server
    are made one at a time by the instance's lock, which :func:`answer` holds."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self._selector = selectors.DefaultSelector()
        self._sockets: dict[str, socket.socket] = {}
        #: server -> the file its socket is bound to (device, inode), as it was bound
        self._bound: dict[str, tuple[int, int] | None] = {}
        self._guard = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        #: server -> its connections being answered now
        self._answering: dict[str, int] = {}

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
        """Answer ``server`` on a socket in its boot directory (a fresh one after a restart,
        and after the directory was made anew: a rebuild deletes the instance and makes it
        again under the same name, faster than :meth:`forget` is told)."""
        with self._guard:
            if server in self._sockets:
                if self._bound.get(server) == _identity(boot_dir / SOCKET_NAME):
                    return
                self._drop(server)  # its socket file went with the old directory
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
            self._bound[server] = _identity(path)
            self._selector.register(listener, selectors.EVENT_READ, server)

    def forget(self, server: str) -> None:
        with self._guard:
            self._drop(server)

    def forget_deleted(self, server: str, instance_dir: Path) -> None:
        """Stop answering ``server`` if ``instance_dir`` is gone, looked at under the guard
        :meth:`listen` holds: a rebuild deletes the directory, makes it anew and listens again,
        and a look that saw it gone just before must not drop the socket bound since."""
        with self._guard:
            if not instance_dir.is_dir():
                self._drop(server)

    def servers(self) -> list[str]:
        """The servers answered now."""
        with self._guard:
            return list(self._sockets)

    def _drop(self, server: str) -> None:
        self._bound.pop(server, None)
        listener = self._sockets.pop(server, None)
        if listener is not None:
            self._selector.unregister(listener)
            listener.close()

    def _serve(self) -> None:
        while not self._stopping.is_set():
            # wait for a connection without the guard: epoll takes the sockets listen registers
            # meanwhile, and one dropped meanwhile fails its accept below; polling every 0.1 s
            # instead kept each mount (a boot's fstab entries before the guest is up) waiting
            # 50 ms on average
            ready = self._selector.select(timeout=SELECT_SECONDS)
            for key, _ in ready:
                try:
                    connection, _ = key.fileobj.accept()  # type: ignore[union-attr]
                except OSError:
                    continue
                server = str(key.data)
                if not self._take_turn(server):
                    log.warning(
                        "%s has %d mount requests open: one more refused",
                        server,
                        CONNECTIONS_PER_SERVER,
                    )
                    connection.close()
                    continue
                threading.Thread(
                    target=self._answer_then_leave,
                    args=(connection, server),
                    name=f"local-volume-mount-{server}",
                    daemon=True,
                ).start()

    def _take_turn(self, server: str) -> bool:
        """Count one more connection of ``server`` answered, unless it has its fill."""
        with self._guard:
            answering = self._answering.get(server, 0)
            if answering >= CONNECTIONS_PER_SERVER:
                return False
            self._answering[server] = answering + 1
            return True

    def _answer_then_leave(self, connection: socket.socket, server: str) -> None:
        try:
            with connection:
                self._answer(connection, server)
        finally:
            with self._guard:
                left = self._answering.pop(server) - 1
                if left:
                    self._answering[server] = left

    def _answer(self, connection: socket.socket, server: str) -> None:
        try:
            line = read_request(connection)
        except (OSError, ValueError) as exc:
            log.warning("a mount request of %s went unanswered: %s", server, exc)
            reply: dict[str, Any] = {"ok": False, "error": f"bad request: {exc}"}
        else:
            reply = self._reply(server, line)
        try:
            connection.sendall(json.dumps(reply).encode() + b"\n")
        except OSError as exc:
            log.warning("a mount request of %s went unanswered: %s", server, exc)

    def _reply(self, server: str, line: bytes) -> dict[str, Any]:
        """The answer to one request; nothing it raises goes further."""
        try:
            request = json.loads(line)
            if not isinstance(request, dict):
                raise TypeError("a request is a JSON object")
            self.handler(server, request)
        except InterstackError as exc:
            return {"ok": False, "error": exc.message}
        except (ValueError, KeyError, TypeError, RecursionError) as exc:
            return {"ok": False, "error": f"bad request: {exc}"}
        except Exception:  # the service answers the other servers on
            log.exception("a mount request of %s failed", server)
            return {"ok": False, "error": "the host failed to answer; see its log"}
        return {"ok": True}


def read_request(connection: socket.socket) -> bytes:
    """One request's line, read whole within :data:`REQUEST_TIMEOUT_SECONDS` and
    :data:`MAX_REQUEST_BYTES` (TimeoutError, ValueError) however the guest sends it."""
    deadline = time.monotonic() + REQUEST_TIMEOUT_SECONDS
    late = f"no whole request within {REQUEST_TIMEOUT_SECONDS:g} s"
    received = bytearray()
    while b"\n" not in received:
        if len(received) > MAX_REQUEST_BYTES:
            raise ValueError(f"a request is at most {MAX_REQUEST_BYTES} bytes")
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(late)
        connection.settimeout(left)
        try:
            chunk = connection.recv(4096)
        except TimeoutError:
            raise TimeoutError(late) from None
        if not chunk:
            break
        received += chunk
    line = bytes(received.partition(b"\n")[0])
    if len(line) > MAX_REQUEST_BYTES:
        raise ValueError(f"a request is at most {MAX_REQUEST_BYTES} bytes")
    return line
