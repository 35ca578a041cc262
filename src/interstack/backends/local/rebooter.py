"""The supervisor boots again a guest that rebooted itself (``reboot`` inside), as a VM's
hypervisor does: whether the gateway runs or not, and without it.

PID 1 exits with the guest init's reboot code (:data:`.guest.REBOOT_EXIT_CODE`); the supervisor,
its parent, learns it first. It records the reboot as pending (:mod:`.exitrecord`), waits its
turn (:mod:`.guestreboots`: a guest rebooting at every boot is paced), then, holding the
instance's lock (:mod:`.hostlock`) and only if the gateway still has the instance running or
booting, removes the ended container from runc and starts it again from its bundle: same root
mount, same network namespace with its ports, the devices of the volumes attached now (the
gateway rewrites the bundle's device list at each attach and detach), fresh clocks and boot
records, and what the guest reads as it boots written again as a boot by the gateway writes it
(:mod:`.guestfiles`: the config drive, cloud-init's seed and settings, resolv.conf, from the
record and the network facts the gateway last wrote). The new PID 1 is the supervisor's child,
like the first, and the record names it; the gateway, told of the exit, watches the new boot
come up. Until the guest marks itself up the instance weighs what a booting one weighs among
the instances, as a boot the gateway starts does (:mod:`.cpushare`); the supervisor sees to
that itself (:func:`boost_until_up`), so a guest it boots again while the gateway is down, or
before the gateway notices, is not left at an up instance's weight behind the others' work (runc
makes its cgroup anew, at the kernel's default weight). A reboot that fails is recorded so,
with why; the gateway then shows the server stopped, as a VM whose own reboot failed, and a
start boots it again.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from interstack.backends.local import clocks, cpushare, exitrecord, hostlock
from interstack.backends.local.exitrecord import ExitRecord, Reboot
from interstack.backends.local.guest import REBOOT_EXIT_CODE
from interstack.backends.local.guestfiles import load_network, write_guest_files
from interstack.backends.local.guestreboots import GuestReboots
from interstack.backends.local.host import is_mounted
from interstack.backends.local.instance_record import InstanceRecord, Phase
from interstack.backends.local.instances import Instance, marked_up
from interstack.errors import BackendError

#: the phases of the gateway's record in which a guest's own reboot boots it again here (in
#: any other, the gateway is stopping, rebooting or changing the instance itself)
REBOOTS_IN = frozenset({Phase.ACTIVE, Phase.BOOTING})

#: runs a command as the supervisor's child, its output appended to a log; its exit code
Run = Callable[[list[str], Path], int]
#: starts an instance from a run request (:func:`.supervisor.start_instance`): its reply
Start = Callable[[dict[str, Any]], dict[str, Any]]
#: calls an action with the exit code of an inherited pid once it is reaped
OnExit = Callable[[int, Callable[[int], None]], None]
#: told of an instance booted again and its new PID 1 (:func:`boost_until_up`)
Booted = Callable[[Instance, int], object]

#: how long a guest booted again weighs as a booting one at most without marking itself up (a
#: guest that never does must not keep the weight)
BOOST_BOUND_SECONDS = 120.0
#: how often its ready marker is looked at meanwhile (a stat: cheap)
BOOST_LOOK_SECONDS = 0.02


def boost_until_up(
    instance: Instance,
    pid: int,
    bound: float = BOOST_BOUND_SECONDS,
    look: float = BOOST_LOOK_SECONDS,
) -> threading.Thread:
    """Weigh ``instance``, just booted again with PID 1 ``pid``, as a booting instance until
    its guest marks itself up (or ``bound`` seconds pass), then as one that is up; on a thread
    of its own, returned. A PID 1 that ends first leaves the weight alone: the cgroup is then
    the next boot's, weighed by whoever starts it."""
    cpushare.started(instance.cgroup_path)

    def watch() -> None:
        deadline = time.monotonic() + bound
        while not marked_up(pid) and time.monotonic() < deadline:
            if not os.path.exists(f"/proc/{pid}"):
                return
            time.sleep(look)
        cpushare.weigh_instance(instance.cgroup_path, booting=False)

    thread = threading.Thread(target=watch, daemon=True, name=f"boost {instance.ref}")
    thread.start()
    return thread


class Rebooter:
    """Watches the PID 1 of the instances the supervisor starts and acts on how each ends."""

    def __init__(
        self,
        run: Run,
        start: Start,
        on_exit: OnExit,
        pacing: GuestReboots | None = None,
        booted: Booted = boost_until_up,
    ) -> None:
        self._run = run
        self._start = start
        self._on_exit = on_exit
        self._pacing = pacing or GuestReboots()
        self._booted = booted
        self._pending = 0
        self._guard = threading.Lock()

    @property
    def pending(self) -> bool:
        """Whether a reboot waits or runs (the supervisor must not exit as idle meanwhile)."""
        with self._guard:
            return self._pending > 0

    def watch(self, request: dict[str, Any], pid: int) -> None:
        """Act on the end of PID 1 ``pid`` of the instance ``request`` started."""
        self._on_exit(pid, lambda code: self.ended(request, pid, code))

    def ended(self, request: dict[str, Any], pid: int, code: int) -> None:
        """PID 1 ``pid`` ended with ``code`` (called as it is reaped: quick, never blocks)."""
        instance = _instance(request)
        if code != REBOOT_EXIT_CODE:
            _record(instance, ExitRecord(pid, code))
            return
        supervisor = os.getpid()
        _record(
            instance,
            ExitRecord(
                pid,
                code,
                Reboot.PENDING,
                supervisor=supervisor,
                supervisor_start=exitrecord.process_start(supervisor),
            ),
        )
        with self._guard:
            self._pending += 1
        delay = self._pacing.delay(instance.ref, time.monotonic())
        if delay > 0:
            _say(instance, f"the guest rebooted again soon: its boot waits {delay:.0f} s")
        timer = threading.Timer(delay, self._reboot, (request, pid, code))
        timer.daemon = True
        try:
            timer.start()
        except RuntimeError as exc:  # no thread to wait on: nobody would make the reboot
            with self._guard:
                self._pending -= 1
            _record(instance, self._failed(instance, pid, code, f"{type(exc).__name__}: {exc}"))

    def _reboot(self, request: dict[str, Any], pid: int, code: int) -> None:
        instance = _instance(request)
        try:
            with hostlock.held(instance.dir):
                try:
                    outcome = self._boot_again(instance, request, pid, code)
                except Exception as exc:  # the record must not stay pending
                    outcome = self._failed(instance, pid, code, f"{type(exc).__name__}: {exc}")
                _record(instance, outcome)
                if outcome.next_pid is not None:  # watched once the record names it
                    self.watch(request, outcome.next_pid)
        finally:
            with self._guard:
                self._pending -= 1

    def _boot_again(
        self, instance: Instance, request: dict[str, Any], pid: int, code: int
    ) -> ExitRecord:
        try:
            record = instance.load()
        except (OSError, ValueError, TypeError, KeyError):
            record = None
        if record is None or record.phase not in REBOOTS_IN:
            self._pacing.forget(instance.ref)
            return ExitRecord(pid, code, Reboot.SKIPPED)
        _say(instance, "the guest rebooted itself: booting it again")
        deleted = self._run(
            clocks.runc_argv(instance.runc_root, instance.ref, "delete", "--force", instance.ref),
            instance.console,
        )
        if deleted != 0:
            return self._failed(instance, pid, code, f"runc delete exited with {deleted}")
        try:
            _rewrite_guest_files(instance, record)
        except (BackendError, OSError) as exc:
            error = exc.message if isinstance(exc, BackendError) else str(exc)
            return self._failed(instance, pid, code, f"its boot files: {error}")
        instance.boot_records()  # a new boot: clocks from zero, its boot records
        reply = self._start(request)
        if not reply.get("ok") or reply.get("pid") is None:
            return self._failed(instance, pid, code, str(reply.get("error") or "no PID 1"))
        next_pid = int(reply["pid"])
        try:
            self._booted(instance, next_pid)
        except (OSError, RuntimeError) as exc:  # its weight only: the reboot is made
            _say(instance, f"its boot keeps an up instance's CPU weight: {exc}")
        return ExitRecord(pid, code, Reboot.DONE, next_pid=next_pid)

    def _failed(self, instance: Instance, pid: int, code: int, error: str) -> ExitRecord:
        _say(instance, f"booting it again failed here: {error}")
        return ExitRecord(pid, code, Reboot.FAILED, error=error)


def _rewrite_guest_files(instance: Instance, record: InstanceRecord) -> None:
    """What the guest reads as it boots, into its mounted root (the overlay, or its root
    volume, stays mounted across this reboot) from the network facts the gateway last wrote;
    an instance booted by a gateway from before them keeps its files as they are."""
    network = load_network(instance)
    if network is None:
        return
    if not is_mounted(instance.rootfs):
        raise BackendError("its root is not mounted")
    write_guest_files(instance, record, network, instance.rootfs)


def _instance(request: dict[str, Any]) -> Instance:
    """The instance a run request names (its bundle is ``<instances>/<ref>/bundle``)."""
    bundle = Path(request["bundle"])
    return Instance(bundle.parent.parent, Path(request["runc_root"]), request["id"])


def _record(instance: Instance, record: ExitRecord) -> None:
    try:
        exitrecord.write(instance.dir, record)
    except OSError as exc:
        _say(instance, f"cannot record how PID 1 ended: {exc}")


def _say(instance: Instance, line: str) -> None:
    """A line on the instance's console, if it can be written (a full disk must not keep a
    reboot from being made or recorded)."""
    with contextlib.suppress(OSError):
        instance.log(line)
