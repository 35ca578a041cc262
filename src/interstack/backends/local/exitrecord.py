"""How an instance's PID 1 ended, and what the supervisor does about it: ``exit.json`` beside
the instance, written by the supervisor, which reaps PID 1 (:mod:`.supervisor`).

A guest that rebooted itself is booted again by the supervisor (:mod:`.rebooter`), with the
gateway running or not; the record then says so: ``pending`` while it waits and boots (with the
supervisor's pid and start: one that no longer runs makes it no more, :func:`outlived`), ``done``
with the new PID 1, or ``failed`` with why, or ``skipped`` when the instance was no longer to
run (the gateway stopped, rebooted or deleted it meanwhile); the gateway stops an instance whose
reboot failed or was skipped. Only a record naming no reboot at all, a supervisor's from
before it made reboots, has the gateway boot the guest again itself.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, replace
from enum import StrEnum
from pathlib import Path

from interstack.backends.local.cpusys import HOST_BOOT_ID

#: the supervisor's module, which its command line names (``python -m``)
SUPERVISOR_MODULE = "interstack.backends.local.supervisor"
#: in an instance's directory: how its last boot's PID 1 ended (:class:`ExitRecord`)
EXIT_RECORD = "exit.json"
#: the field of ``/proc/PID/stat`` that says when the process started (proc(5), from 1)
STARTTIME_FIELD = 22


class Reboot(StrEnum):
    """Where the supervisor is with booting again a guest that rebooted itself."""

    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class ExitRecord:
    #: the host pid of the PID 1 that ended
    pid: int
    #: its exit code; negative: the signal that killed it
    exit_code: int
    #: what the supervisor does about a reboot asked for inside; None: nothing (not a reboot,
    #: or a supervisor from before it did reboots)
    reboot: Reboot | None = None
    #: the host pid of the next boot's PID 1, once the reboot is done
    next_pid: int | None = None
    #: why the reboot failed
    error: str | None = None
    #: the pid of the supervisor making the reboot while it is pending
    supervisor: int | None = None
    #: that supervisor's start (:func:`process_start`): its pid alone may name another process
    #: once it has ended (pids are given out anew, and after a host reboot from the start)
    supervisor_start: str | None = None

    @property
    def rebooting(self) -> bool:
        """Whether the supervisor boots the instance again (or has)."""
        return self.reboot in {Reboot.PENDING, Reboot.DONE}


def write(instance_dir: Path, record: ExitRecord) -> None:
    """Replace the record atomically; an instance deleted meanwhile is left alone (OSError
    for any other failure)."""
    if not instance_dir.is_dir():
        return
    target = instance_dir / EXIT_RECORD
    tmp = target.with_name(f".{EXIT_RECORD}.tmp")
    tmp.write_text(json.dumps({k: v for k, v in asdict(record).items() if v is not None}))
    os.replace(tmp, target)


def read(instance_dir: Path) -> ExitRecord | None:
    """The record, or None when there is none (or none whole)."""
    try:
        raw = json.loads((instance_dir / EXIT_RECORD).read_text())
        reboot = raw.get("reboot")
        next_pid = raw.get("next_pid")
        return ExitRecord(
            pid=int(raw["pid"]),
            exit_code=int(raw["exit_code"]),
            reboot=Reboot(reboot) if reboot is not None else None,
            next_pid=int(next_pid) if next_pid is not None else None,
            error=raw.get("error"),
            supervisor=int(raw["supervisor"]) if raw.get("supervisor") is not None else None,
            supervisor_start=_text(raw.get("supervisor_start")),
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def _text(value: object) -> str | None:
    if value is not None and not isinstance(value, str):
        raise TypeError("not a text")
    return value


def clear(instance_dir: Path) -> None:
    """Forget the last boot's end (a new boot starts)."""
    (instance_dir / EXIT_RECORD).unlink(missing_ok=True)


def outlived(record: ExitRecord) -> ExitRecord:
    """``record``, or, for a reboot still pending whose supervisor no longer runs (killed, or
    the host rebooted meanwhile), that reboot failed: nobody makes it any more, and a record
    left pending would have the gateway wait for a boot that never comes."""
    if record.reboot is not Reboot.PENDING or record.supervisor is None:
        return record
    if _supervisor_runs(record.supervisor, record.supervisor_start):
        return record
    ended = "the supervisor booting it again ended before it could"
    return replace(
        record, reboot=Reboot.FAILED, error=ended, supervisor=None, supervisor_start=None
    )


def process_start(pid: int) -> str | None:
    """When the process ``pid`` started, as a text no other process of any boot of the host
    has: the host's boot id and the start time (``/proc/PID/stat``'s 22nd field, in clock
    ticks since boot). None if it does not run (gone, or a zombie)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        boot_id = HOST_BOOT_ID.read_text().strip()
    except OSError:
        return None
    fields = stat.rpartition(")")[2].split()  # the name, in parentheses, may hold spaces
    if len(fields) < STARTTIME_FIELD - 2 or fields[0] in {"Z", "X"}:
        return None
    return f"{boot_id}:{fields[STARTTIME_FIELD - 3]}"


def _supervisor_runs(pid: int, start: str | None) -> bool:
    """Whether ``pid`` is the supervisor that started at ``start`` and runs; a record
    without its start (a supervisor from before it kept it) by its command line alone."""
    if start is not None:
        return process_start(pid) == start
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return SUPERVISOR_MODULE.encode() in argv  # a zombie's command line is empty
