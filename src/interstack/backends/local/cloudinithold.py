"""An instance that is up waits with its cloud-init while other instances of the host boot.

A guest marks itself up once sshd runs; cloud-init's work comes after (see :mod:`.guest`), and
on a small host twenty instances booted at once ran twenty cloud-inits (~0.4 CPU s each, and the
gateway's metadata answers for their crawls) beside the boots and first logins still on their
way: the last login waited for CPU behind the others' cloud-init. Each boot the gateway starts
is held: a file in the instance's boot directory (``/run/interstack`` in the guest,
:data:`HOLD`) tells its cloud-init to wait, and the file goes once no boot the gateway started
is still on its way (:meth:`CloudInitHold.settled`): a server booted alone waits for nothing.
The guest waits only where nothing of the user's runs under cloud-init (the guest init lowered
its niceness: no user-data, no boot scripts or commands) and at most
:data:`.cloudinitstages.HOLD_SECONDS`, so a hold nobody lifts (a gateway stopped meanwhile,
boots that never end) costs a few seconds, never the boot; a reboot the supervisor makes is not
held (:func:`.guest.write_boot_options` removes a file left from before).
"""

from __future__ import annotations

import contextlib
import threading
import time
from pathlib import Path

from interstack.backends.local.cloudinitstages import HOLD, HOLD_SECONDS


class CloudInitHold:
    """The boots of one backend on their way, and the boot directories whose cloud-init waits
    for them."""

    def __init__(self, bound_seconds: float = HOLD_SECONDS) -> None:
        #: a boot longer on its way than this no longer holds the others (the guest stopped
        #: waiting by then anyway): a boot whose end is never reported leaks nothing
        self.bound_seconds = bound_seconds
        self._guard = threading.Lock()
        self._booting: dict[str, float] = {}
        self._held: dict[str, Path] = {}

    def booting(self, ref: str) -> None:
        """A boot of ``ref`` is about to start (its job is queued)."""
        with self._guard:
            self._booting[ref] = time.monotonic()

    def hold(self, ref: str, boot_dir: Path) -> None:
        """Hold the cloud-init of the boot of ``ref`` about to start from ``boot_dir`` (on its
        way from now, a reboot's boot too)."""
        with self._guard:
            self._booting[ref] = time.monotonic()
            (boot_dir / HOLD).write_bytes(b"")
            self._held[ref] = boot_dir

    def settled(self, ref: str) -> None:
        """The boot of ``ref`` ended (up, failed, stopped): once no boot is on its way, every
        held cloud-init goes on."""
        with self._guard:
            self._booting.pop(ref, None)
            oldest = time.monotonic() - self.bound_seconds
            self._booting = {r: t for r, t in self._booting.items() if t > oldest}
            if self._booting:
                return
            held, self._held = self._held, {}
        for boot_dir in held.values():
            with contextlib.suppress(OSError):  # the instance gone meanwhile
                (boot_dir / HOLD).unlink(missing_ok=True)
