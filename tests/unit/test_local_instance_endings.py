"""How a local instance's PID 1 ended, as the supervisor learns it by reaping it: the exit
codes the guest init gives (a poweroff, a reboot) and those of a crash, and the supervisor's
record of an exit that came before anyone watched for it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from interstack.backends.local.guest import GUEST_INIT, GUEST_POWER, REBOOT_EXIT_CODE
from interstack.backends.local.guestreboots import GuestReboots
from interstack.backends.local.instances import Ending
from interstack.backends.local.reaper import Reaper


@pytest.mark.parametrize(
    ("code", "ending"),
    [
        (0, Ending.POWERED_OFF),
        (REBOOT_EXIT_CODE, Ending.REBOOT),
        (137, Ending.CRASHED),  # tini's code for an init killed by SIGKILL
        (-9, Ending.CRASHED),  # tini itself killed
        (1, Ending.CRASHED),
    ],
)
def test_an_exit_code_says_how_the_instance_ended(code: int, ending: Ending) -> None:
    assert Ending.of(code) is ending


def test_the_guest_init_exits_with_the_reboot_code_on_sighup_and_zero_on_sigterm(
    tmp_path: Path,
) -> None:
    """The init's traps, run as a script of their own (the traps and the loop that waits; the
    sshd it stops is none of the host's)."""
    head = GUEST_INIT.split("mkdir -p /run/lock", 1)[0]
    head = head.replace("/run/sshd.pid", str(tmp_path / "sshd.pid"))
    script = tmp_path / "init"
    script.write_text(f"{head}\necho ready\nwhile :; do sleep 3600 & wait $!; done\n")
    for signal, code in (("HUP", REBOOT_EXIT_CODE), ("TERM", 0), ("INT", 0)):
        init = subprocess.Popen(["/bin/sh", str(script)], stdout=subprocess.PIPE, text=True)
        assert init.stdout is not None and init.stdout.readline() == "ready\n"  # traps set
        subprocess.run(["kill", f"-{signal}", str(init.pid)], check=True)
        assert init.wait(timeout=30) == code
        init.stdout.close()


#: run in a process of its own: a reaper reaps every child of its process
REAPED_BEFORE_WATCHED = """
import os, subprocess, threading
from interstack.backends.local.reaper import Reaper
reaper = Reaper()
threading.Thread(target=reaper.run_forever, daemon=True).start()
child = subprocess.Popen(["sh", "-c", "exit 6"])
child.returncode = 0  # the reaper reaps it, not Popen
while os.path.exists(f"/proc/{child.pid}"):  # gone once reaped
    threading.Event().wait(0.01)
seen = []
reaper.on_exit(child.pid, seen.append)
print(seen)
"""


def test_the_reaper_acts_on_an_exit_reaped_before_it_was_watched() -> None:
    """The supervisor watches an instance's PID 1 once runc has returned: one that exited
    already is acted on at once, with its code."""
    done = subprocess.run(
        [sys.executable, "-c", REAPED_BEFORE_WATCHED],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.stdout.strip() == "[6]", done.stderr


def test_a_guest_that_reboots_again_and_again_is_paced() -> None:
    """Its first reboot goes at once; later ones wait until an interval after the one before,
    each instance on its own, and a deleted instance starts afresh."""
    reboots = GuestReboots(interval=10.0)
    assert reboots.delay("ls-a", 100.0) == 0
    assert reboots.delay("ls-b", 101.0) == 0  # another instance is not held back
    assert reboots.delay("ls-a", 103.0) == 7.0
    assert reboots.delay("ls-a", 104.0) == 16.0  # queued behind the one due at 110
    assert reboots.delay("ls-a", 200.0) == 0  # long after: at once again
    reboots.forget("ls-a")
    assert reboots.delay("ls-a", 201.0) == 0


def test_the_reaper_does_not_hand_an_earlier_processs_exit_to_one_that_got_its_pid() -> None:
    """A kept exit whose pid names a live process again (pids are given out anew) is not the
    watched process's: its end is still to come."""
    reaper = Reaper()
    reaper._unclaimed[os.getpid()] = 6  # an earlier holder of this pid, reaped unwatched
    seen: list[int] = []
    reaper.on_exit(os.getpid(), seen.append)
    assert seen == []


@pytest.mark.parametrize(
    ("command", "signal"),
    [
        ("poweroff", "TERM"),
        ("halt", "TERM"),
        ("shutdown -h now", "TERM"),
        ("reboot", "HUP"),
        ("shutdown -r now", "HUP"),
        ("halt --reboot", "HUP"),
        ("poweroff --reboot", "HUP"),
        ("reboot -p", "TERM"),
        ("reboot --poweroff", "TERM"),
        ("shutdown -c", None),
    ],
)
def test_the_guest_power_tool_signals_a_reboot_or_a_poweroff_as_asked(
    command: str, signal: str | None
) -> None:
    """The guest's ``poweroff``/``halt``/``shutdown``/``reboot`` (one script, told apart by its
    name and options) signals PID 1 with SIGHUP for a reboot and SIGTERM for a poweroff; run
    here with ``kill`` and ``id`` replaced by functions that say what they were asked."""
    stand_ins = 'kill() { echo "$1"; }\nid() { echo 0; }\n'
    body = GUEST_POWER.split("\n", 1)[1].replace(">>/proc/1/fd/1", ">/dev/null")
    name, *options = command.split()
    done = subprocess.run(["/bin/sh", "-c", stand_ins + body, name, *options],
                          capture_output=True, text=True, timeout=30, check=True)  # fmt: skip
    assert done.stdout.strip() == (f"-{signal}" if signal else "")
