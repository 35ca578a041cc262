"""The boot record of an instance in its utmp and wtmp, so ``who -b`` and ``last reboot`` show
when the instance booted.

On a VM, systemd-update-utmp writes these records at boot. An instance runs no systemd (its init
is the backend's, :mod:`.guest`), and nothing else writes them: ``who -b`` printed nothing. So
the backend writes the records for each boot (the instance's boot instant, that of its own clocks,
:mod:`.clocks`) into the read-only directory the guest sees at ``/run/interstack``, and the guest
init copies them to ``/run/utmp`` and appends them to ``/var/log/wtmp``, as systemd would. Later
logins (sshd) then add their own records to the same files.

The format is glibc's ``struct utmp`` on 64-bit Linux: 384 bytes, little-endian on the hosts the
backend runs on, a 32-bit ``time_t`` in ``ut_tv`` (the ABI keeps it 32-bit for compatibility).
"""

from __future__ import annotations

import struct
from pathlib import Path

from interstack.backends.local.guest import write_file

#: the file the guest init copies (``/run/interstack/utmp``)
RECORD_NAME = "utmp"
BOOT_TIME = 2
RUN_LVL = 1
#: ut_type, ut_pid, ut_line, ut_id, ut_user, ut_host, ut_exit, ut_session, ut_tv, ut_addr_v6
_UTMP = struct.Struct("<hxxi32s4s32s256shhiii4i20x")
#: the multi-user run level a Debian server reports (``who -r``)
RUN_LEVEL = ord("3")


def _record(kind: int, pid: int, user: str, booted: float) -> bytes:
    seconds = int(booted)
    micros = int((booted - seconds) * 1_000_000)
    return _UTMP.pack(
        kind, pid, b"~", b"~~", user.encode(), b"", 0, 0, 0, seconds, micros, 0, 0, 0, 0
    )


def boot_records(booted: float) -> bytes:
    """The records of a boot at ``booted`` (seconds since the epoch): the boot itself and the run
    level entered, as systemd-update-utmp writes them."""
    return _record(BOOT_TIME, 0, "reboot", booted) + _record(
        RUN_LVL,
        RUN_LEVEL,
        "runlevel",
        booted,  # no previous level, as at a boot
    )


def write(boot_dir: Path, booted: float) -> None:
    """The records of this boot, in the directory the guest sees at ``/run/interstack``."""
    write_file(boot_dir / RECORD_NAME, boot_records(booted))
