"""The supervisor: the process that starts instances and is their parent.

runc, run detached, leaves the instance's PID 1 (tini) orphaned; the kernel hands an orphan to
the nearest *child subreaper* among its ancestors, or to the machine's PID 1, which reaps slowly
on these hosts. So the backend starts instances from a process of its own that is a child
subreaper and reaps whatever it inherits (:mod:`.reaper`). It runs in its own session, apart
from the gateway: instances keep running across gateway restarts, and a restarted gateway finds
the supervisor again by its socket (an abstract unix socket named from the backend's data
directory). It exits by itself once it has had no children for a while; the client starts it
again when needed.
While it runs, it also keeps its instances' console logs below their cap (:mod:`.console`).
Each instance starts with clocks of its own (:mod:`.clocks`): a new boot time on every boot;
its ``/proc/meminfo`` and ``/proc/stat`` are rewritten every few seconds (:mod:`.meminfo`,
:mod:`.procstat`). Being the parent of every instance's PID 1, it alone learns how each ended:
it writes PID 1's exit status beside the instance (:mod:`.exitrecord`), which tells the
backend a poweroff from a reboot asked for inside the guest and from a crash
(:meth:`.instances.Instance.exit_record`), and it boots again a guest that rebooted itself
(:mod:`.rebooter`), the gateway running or not; it does not exit as idle while such a reboot
waits. For the same reason it answers the guests' volume mounts (:mod:`.volumes.guestmount`):
a guest it boots again while the gateway is down mounts its fstab's volumes.

Protocol: one JSON request per connection, one JSON reply. ``{"op": "ping"}`` (its pid, and
``"mounts": true``: it answers mounts) and
``{"op": "run", "runc_root", "bundle", "id", "log"}`` (runc's and then the instance's output are
appended to ``log``).
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from interstack.backends.local import clocks, console, exitrecord, meminfo, procstat
from interstack.backends.local.host import last_line
from interstack.backends.local.instances import Instance, state_pid
from interstack.backends.local.reaper import (
    HELPER_TIMEOUT_SECONDS,
    KILLED_WAIT_SECONDS,
    HelperTimeout,
    Reaper,
    run_logged,
    run_output,
)
from interstack.backends.local.rebooter import Rebooter
from interstack.backends.local.volumes import guestmount
from interstack.errors import BackendError, BackendUnavailable

PR_SET_CHILD_SUBREAPER = 36
IDLE_EXIT_SECONDS = 5.0
START_TIMEOUT_SECONDS = 10.0
#: how long the gateway waits for the supervisor's answer to a ping, and to a run (runc's
#: start, which the supervisor bounds, and slack for a loaded host)
PING_ANSWER_SECONDS = 30.0
RUN_ANSWER_SECONDS = HELPER_TIMEOUT_SECONDS + KILLED_WAIT_SECONDS + 30.0
#: how often the supervisor trims its instances' console logs to their cap
TRIM_INTERVAL_SECONDS = 2.0
#: SO_PEERCRED's struct ucred: pid, uid, gid
PEER_CREDENTIALS = struct.calcsize("3i")


def socket_address(state_dir: Path) -> str:
    digest = hashlib.sha256(str(state_dir.resolve()).encode()).hexdigest()[:24]
    return f"\0interstack-local-{digest}"


def _runc_message(line: str) -> str:
    """The message of a runc log line (``time=... level=error msg="..."``), else the line."""
    _, found, message = line.partition('msg="')
    return message.rstrip('"').replace('\\"', '"') if found else line


def _tail(log: Path) -> str:
    try:
        with log.open("rb") as handle:
            handle.seek(max(0, log.stat().st_size - 4096))
            return _runc_message(last_line(handle.read().decode(errors="replace")))
    except OSError:
        return ""


class Instances:
    """The instances of the backend whose data directory is ``state_dir``: started here, and
    their guests' mounts answered (from before each boot: the guest's init mounts its fstab's
    volumes as soon as it runs)."""

    def __init__(self, state_dir: Path, reaper: Reaper) -> None:
        self.instances_dir = state_dir / "instances"
        self.runc_root = state_dir / "runc"
        self.reaper = reaper
        self.mounts = guestmount.MountService(self._mount)

    def _mount(self, server: str, request: dict[str, Any]) -> None:
        instance = Instance(self.instances_dir, self.runc_root, server)
        guestmount.answer(
            instance,
            request,
            lambda argv: run_output(self.reaper, argv, guestmount.MOUNT_TOOL_SECONDS),
        )

    def start(self, request: dict[str, Any]) -> dict[str, Any]:
        """:func:`start_instance`, with the instance's mounts answered."""
        boot_dir = Path(request["bundle"]).parent / "boot"
        if (boot_dir / guestmount.HELPER_NAME).is_file():
            try:
                self.mounts.listen(str(request["id"]), boot_dir)
            except OSError as exc:  # the boot goes on; the guest's mounts fail with a message
                message = f"supervisor: {request['id']}: its mounts unanswered: {exc}"
                print(message, file=sys.stderr, flush=True)  # noqa: T201
        return start_instance(self.reaper, request)

    def prune(self) -> None:
        """Stop answering the mounts of instances deleted since."""
        for server in self.mounts.servers():
            self.mounts.forget_deleted(server, self.instances_dir / server)


def start_instance(reaper: Reaper, request: dict[str, Any]) -> dict[str, Any]:
    """Start the instance of a run request under runc: ``{"ok": True, "pid": PID 1}`` (the
    pid None if runc's state does not say), or ``{"ok": False, "error": runc's complaint}``."""
    log = Path(request["log"])
    # the instance's own clocks (:mod:`.clocks`), kept beside its bundle
    argv = [*clocks.prefix(Path(request["bundle"]).parent)]
    argv += ["runc", "--root", request["runc_root"], "run", "--detach"]
    argv += ["--bundle", request["bundle"], request["id"]]
    try:
        status = run_logged(reaper, argv, log)
    except HelperTimeout as exc:
        return {"ok": False, "error": exc.message}
    if status != 0:
        return {"ok": False, "error": _tail(log) or f"runc exited with {status}"}
    # the PID 1 runc left is this process's now
    return {"ok": True, "pid": state_pid(Path(request["runc_root"]), request["id"])}


def from_own_user(connection: socket.socket) -> bool:
    """Whether the peer of ``connection`` runs as the supervisor's own user. Its socket is
    abstract, so no file mode guards it: any process of the host's network namespace may
    connect, whatever its user, and a run request has root start the bundle it names. (The
    instances, in network namespaces of their own, cannot reach it at all.)"""
    credentials = connection.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, PEER_CREDENTIALS)
    _, uid, _ = struct.unpack("3i", credentials)
    return bool(uid == os.geteuid())


def _serve_one(
    connection: socket.socket, instances: Instances, rebooter: Rebooter, busy: list[int]
) -> None:
    busy.append(1)
    try:
        with connection, connection.makefile("rwb") as stream:
            request = json.loads(stream.readline())
            if request.get("op") == "run":
                reply = instances.start(request)
                if reply.get("pid") is not None:  # its end is recorded and acted on
                    rebooter.watch(request, int(reply["pid"]))
            else:
                reply = {"ok": True, "pid": os.getpid(), "mounts": True}
            stream.write(json.dumps(reply).encode() + b"\n")
            stream.flush()
    except (OSError, ValueError, KeyError) as exc:
        print(f"supervisor: bad request: {exc}", file=sys.stderr, flush=True)  # noqa: T201
    finally:
        busy.pop()


def _trim_consoles(state_dir: Path, max_bytes: int, started: Instances) -> None:
    """Keep the instances' console logs bounded and their ``/proc/meminfo`` and ``/proc/stat``
    current while they run, gateway or not; forget the mounts of deleted ones."""
    while True:
        try:
            started.prune()
            instances = state_dir / "instances"
            console.trim_all(instances, max_bytes)
            host_stat = procstat.HOST_STAT.read_text()
            for instance_dir in instances.glob("*/"):  # those that run: their cgroups say
                meminfo.refresh(instance_dir)
                procstat.refresh(instance_dir, host_stat=host_stat)
        except OSError as exc:
            print(f"supervisor: instance files: {exc}", file=sys.stderr, flush=True)  # noqa: T201
        time.sleep(TRIM_INTERVAL_SECONDS)


def serve(state_dir: Path, console_max_bytes: int = console.DEFAULT_MAX_BYTES) -> None:
    """Run the supervisor for the backend whose data directory is ``state_dir``."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")
    reaper = Reaper()
    instances = Instances(state_dir, reaper)
    rebooter = Rebooter(
        lambda argv, log: run_logged(reaper, argv, log), instances.start, reaper.on_exit
    )
    threading.Thread(target=reaper.run_forever, daemon=True, name="reaper").start()
    instances.mounts.start()
    threading.Thread(
        target=_trim_consoles,
        args=(state_dir, console_max_bytes, instances),
        daemon=True,
        name="trim",
    ).start()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(socket_address(state_dir))
    listener.listen(64)
    listener.settimeout(1.0)
    busy: list[int] = []
    while True:
        idle_since = reaper.childless_since
        if (
            not busy
            and not rebooter.pending
            and idle_since is not None
            and time.monotonic() - idle_since > IDLE_EXIT_SECONDS
        ):
            listener.close()
            return
        try:
            connection, _ = listener.accept()
        except TimeoutError:
            continue
        if not from_own_user(connection):
            connection.close()
            continue
        connection.settimeout(None)
        threading.Thread(
            target=_serve_one, args=(connection, instances, rebooter, busy), daemon=True
        ).start()


class SupervisorSilent(BackendUnavailable):
    """The supervisor listens but does not answer."""


class SupervisorClient:
    """The backend's side: starts the supervisor when it is not running and asks it to run."""

    def __init__(self, state_dir: Path, console_max_bytes: int = console.DEFAULT_MAX_BYTES) -> None:
        self.state_dir = state_dir
        self.console_max_bytes = console_max_bytes
        self.address = socket_address(state_dir)
        self._process: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()

    def _call(self, request: dict[str, Any]) -> dict[str, Any]:
        """The supervisor's reply; ``OSError`` when none listens, :class:`SupervisorSilent`
        when one listens but does not answer in time (stopped, or hung: waiting on would hang
        the gateway's boot or clean-up with it)."""
        timeout = RUN_ANSWER_SECONDS if request.get("op") == "run" else PING_ANSWER_SECONDS
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            try:
                sock.connect(self.address)
                with sock.makefile("rwb") as stream:
                    stream.write(json.dumps(request).encode() + b"\n")
                    stream.flush()
                    line = stream.readline()
            except TimeoutError:
                raise SupervisorSilent(
                    f"the local backend's supervisor did not answer within {timeout:g} s"
                ) from None
        if not line:
            raise ConnectionResetError("the supervisor closed the connection")
        reply: dict[str, Any] = json.loads(line)
        return reply

    def _start(self) -> None:
        with self._lock:
            if self._process is not None:
                self._process.poll()  # reap one that exited while idle
            try:
                self._call({"op": "ping"})
                return
            except OSError:
                pass
            log = (self.state_dir / "supervisor.log").open("ab")
            with log, open(os.devnull, "rb") as stdin:
                self._process = subprocess.Popen(  # noqa: S603 - argument list, no shell
                    [
                        sys.executable,
                        "-m",
                        exitrecord.SUPERVISOR_MODULE,
                        str(self.state_dir),
                        str(self.console_max_bytes),
                    ],
                    stdin=stdin,
                    stdout=log,
                    stderr=log,
                    start_new_session=True,
                )
            deadline = time.monotonic() + START_TIMEOUT_SECONDS
            while time.monotonic() < deadline:
                try:
                    self._call({"op": "ping"})
                    return
                except OSError:
                    time.sleep(0.02)
            raise BackendUnavailable("the local backend's supervisor did not start")

    def warm(self) -> None:
        """Start the supervisor in the background unless it runs, so that a boot's :meth:`run`
        finds it listening: starting it (a Python process that imports part of the backend)
        takes a quarter of a second and more, which the boot's other steps overlap. A failure
        is left to :meth:`run`, which starts it again and reports."""

        def start() -> None:
            with contextlib.suppress(OSError, BackendUnavailable):
                self._start()

        threading.Thread(target=start, name="supervisor-start", daemon=True).start()

    def run(self, runc_root: Path, bundle: Path, container_id: str, log: Path) -> None:
        """Start the container; raises ``BackendError`` with runc's complaint if it fails."""
        request = {
            "op": "run",
            "runc_root": str(runc_root),
            "bundle": str(bundle),
            "id": container_id,
            "log": str(log),
        }
        for attempt in range(2):
            try:
                reply = self._call(request)
                break
            except OSError:  # not running, or exiting as idle: start it and ask once more
                if attempt:
                    raise
                self._start()
        if not reply.get("ok"):
            raise BackendError(f"the instance did not start: {reply.get('error')}")

    def answers_mounts(self) -> bool:
        """Whether the supervisor answers the guests' volume mounts: one from before it did
        (still the parent of instances that kept running across an upgrade) does not; with
        none running, the one the next boot starts does."""
        try:
            return bool(self._call({"op": "ping"}).get("mounts"))
        except OSError:
            return True

    def pid(self) -> int | None:
        """The running supervisor's pid, or ``None`` when none answers."""
        try:
            return int(self._call({"op": "ping"})["pid"])
        except (OSError, ValueError, KeyError):
            return None

    def stop(self, timeout: float = START_TIMEOUT_SECONDS) -> bool:
        """Stop a running supervisor (``interstack cleanup``, once its instances are gone);
        whether one was running. One that does not answer (stopped, or hung) would not act on
        SIGTERM either: it is found by its command line and killed."""
        try:
            pid = self.pid()
            pids, signum = ([] if pid is None else [pid]), signal.SIGTERM
        except SupervisorSilent:
            pids, signum = self._processes(), signal.SIGKILL
        if not pids:
            return False
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signum)
        deadline = time.monotonic() + timeout
        while any(Path(f"/proc/{pid}").exists() for pid in pids) and time.monotonic() < deadline:
            if self._process is not None and self._process.pid in pids:
                self._process.poll()  # our own child: reap it
            time.sleep(0.02)
        return True

    def _processes(self) -> list[int]:
        """The pids of this user's processes whose command line runs the supervisor of this
        state directory (``-m <module> <state_dir>``, the directory however spelled, a relative
        one from the process's own working directory). Another user's process, one that only
        names the module (an editor, a grep), or another directory's supervisor is not one."""
        module, state_dir = exitrecord.SUPERVISOR_MODULE.encode(), self.state_dir.resolve()
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                if entry.stat().st_uid != os.geteuid():
                    continue
                argv = (entry / "cmdline").read_bytes().split(b"\0")
                at = argv.index(module)
                if at < 1 or argv[at - 1] != b"-m":
                    continue
                named = (entry / "cwd").readlink() / os.fsdecode(argv[at + 1])
                if named.resolve() == state_dir:
                    found.append(int(entry.name))
            except (OSError, ValueError, IndexError):
                continue
        return found

    def close(self) -> None:
        if self._process is not None:
            self._process.poll()


if __name__ == "__main__":
    serve(Path(sys.argv[1]), *(int(a) for a in sys.argv[2:3]))
