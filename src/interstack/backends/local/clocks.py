"""A boot time of the instance's own: its clocks start at zero on every boot, as a VM's do.

Without this a guest sees the host's boot time (``uptime -s``, ``/proc/uptime``, the ``btime``
of ``/proc/stat``) and a hard reboot changes nothing in it. runc 1.1 has no OCI ``time``
namespace, so the backend starts runc under ``unshare --time`` with the boot and monotonic
clocks shifted back by the host's readings at boot (whole seconds: a guest's uptime starts
below one second); runc and everything it starts (the instance) are then in that namespace.

runc records its init's start time as it reads it in ``/proc``, which a time namespace
shifts, and every later runc call compares against it: a call from the host's namespace would
take the instance for dead. So the offsets are kept beside the instance (``clocks``) and every
runc call on it runs in a namespace with the same offsets (:func:`runc_argv`); ``runc exec``
thereby also gives the process the guest's clocks.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path

#: where the kernel has time namespaces (5.6 and later)
TIME_NAMESPACE = Path("/proc/self/ns/time")
#: the instance's clock offsets, in its directory
CLOCKS_FILE = "clocks.json"


#: whole seconds from one boot of an instance to its next, at least: a guest reads its boot
#: instant in whole seconds (``btime``, ``uptime -s``, or now less whole seconds of uptime, a
#: second coarse either way), and a reboot must change what it reads, as a VM's takes seconds
BOOT_SPACING = 2


def next_boot_second(previous: int | None, now: float) -> int:
    """The host's boot-clock second the next boot counts from: the current one, or the
    previous boot's plus :data:`BOOT_SPACING` when that is later (a reboot right after a boot);
    a previous boot ahead of the clock was counted before the host itself rebooted."""
    current = int(now)
    if previous is None or previous > current:
        return current
    return max(current, previous + BOOT_SPACING)


def fresh(instance_dir: Path, sleep: Callable[[float], None] = time.sleep) -> None:
    """New offsets that make the next boot's clocks start at zero (none without time
    namespaces: the guest then sees the host's clocks); a boot within :data:`BOOT_SPACING`
    seconds of the last waits out the rest, so the guest's boot instant moves on."""
    target = instance_dir / CLOCKS_FILE
    if not TIME_NAMESPACE.exists():
        target.unlink(missing_ok=True)
        return
    previous = _offsets(instance_dir)
    now = time.clock_gettime(time.CLOCK_BOOTTIME)
    second = next_boot_second(None if previous is None else -int(previous["boottime"]), now)
    if second > now:
        sleep(second - now)
    offsets = {
        "boottime": -second,
        "monotonic": -int(time.clock_gettime(time.CLOCK_MONOTONIC)),
    }
    tmp = target.with_name(f".{CLOCKS_FILE}.tmp")
    tmp.write_text(json.dumps(offsets))
    os.replace(tmp, target)


def _offsets(instance_dir: Path) -> dict[str, float] | None:
    try:
        offsets: dict[str, float] = json.loads((instance_dir / CLOCKS_FILE).read_text())
    except (FileNotFoundError, ValueError):
        return None
    return offsets


def booted_at(instance_dir: Path) -> float:
    """The instant the instance's clocks count from (seconds since the epoch): its boot time as
    the guest sees it (``btime``, ``uptime -s``); the host's without offsets."""
    host_booted = time.time() - time.clock_gettime(time.CLOCK_BOOTTIME)
    try:
        offsets = json.loads((instance_dir / CLOCKS_FILE).read_text())
    except FileNotFoundError:
        return host_booted
    return host_booted - float(offsets["boottime"])


def prefix(instance_dir: Path) -> list[str]:
    """The ``unshare`` prefix that runs a command with the instance's clocks, or nothing."""
    try:
        offsets = json.loads((instance_dir / CLOCKS_FILE).read_text())
    except FileNotFoundError:
        return []
    return [
        "unshare",
        "--time",
        f"--boottime={int(offsets['boottime'])}",
        f"--monotonic={int(offsets['monotonic'])}",
    ]


def runc_argv(runc_root: Path, ref: str, *args: str) -> list[str]:
    """A runc command on instance ``ref`` (whose directory is ``<data>/instances/<ref>`` beside
    ``<data>/runc``), in the instance's clocks."""
    instance_dir = runc_root.parent / "instances" / ref
    return [*prefix(instance_dir), "runc", "--root", str(runc_root), *args]
