"""An instance that is up waits with its cloud-init while other instances of the host boot.

A guest marks itself up once sshd runs; cloud-init's work comes after (see :mod:`.guest`), and
on a small host twenty instances booted at once ran twenty cloud-inits (~0.4 CPU s each, and the
gateway's metadata answers for their crawls) beside the boots and first logins still on their
way: the last login waited for CPU behind the others' cloud-init. Each boot the gateway starts
is held: a file in the instance's boot directory (``/run/interstack`` in the guest,
:data:`HOLD`) tells its cloud-init to wait, and the file goes once no boot the gateway started
is still on its way (:meth:`CloudInitHold.settled`): a server booted alone waits for nothing.
Held ones then go on as many at a time as the gateway may use CPUs
(:func:`.cpushare.usable_cpus`), the next as one finishes (twenty
at once on two CPUs took as long to finish, and the logins still on their way to them waited
behind all twenty).
The guest waits only where nothing of the user's runs under cloud-init (the guest init lowered
its niceness: no user-data, no boot scripts or commands), the host holds none with an ephemeral
or swap disk (a login would find /mnt empty and no swap until cloud-init ran), and at most
:data:`.cloudinitstages.HOLD_SECONDS`, so a hold nobody lifts (a gateway killed meanwhile,
boots that never end) costs a few seconds, never the boot; a gateway that stops lifts its holds
(:meth:`CloudInitHold.release_all`); a reboot the supervisor makes is not held
(:func:`.guest.write_boot_options` removes a file left from before).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from pathlib import Path

from interstack.backends.local import cpushare
from interstack.backends.local.cloudinitstages import HELD, HOLD, HOLD_SECONDS, RESULT
from interstack.backends.local.diskfiles import holds_file
from interstack.backends.local.instances import Instance

#: how often held cloud-inits are looked at while some wait for others to finish
LOOK_SECONDS = 0.05


def cloud_init_finished(instance: Instance) -> bool:
    """Whether the cloud-init of ``instance``, let go, has finished: it wrote its result, or it
    never waited (an image without it, something of the user's under it), or the instance is
    gone."""
    pid = instance.init_pid()
    if pid is None:
        return True
    guest = Path(f"/proc/{pid}/root")
    return not holds_file(guest, HELD) or holds_file(guest, RESULT)


class CloudInitHold:
    """The boots of one backend on their way, and the boot directories whose cloud-init waits
    for them; ``finished(ref)`` says whether the cloud-init of ``ref`` let go has finished (or
    the instance is gone)."""

    def __init__(
        self,
        finished: Callable[[str], bool] = lambda ref: True,
        bound_seconds: float = HOLD_SECONDS,
        at_once: int | None = None,
    ) -> None:
        self._finished = finished
        #: a boot longer on its way than this no longer holds the others, nor a cloud-init let
        #: go longer ago a place among those running (the guest stopped waiting by then anyway):
        #: an end never told leaks nothing
        self.bound_seconds = bound_seconds
        #: cloud-inits let go to run at a time once no boot is on its way
        self.at_once = at_once or cpushare.usable_cpus()
        self._guard = threading.Lock()
        self._booting: dict[str, float] = {}
        self._held: dict[str, Path] = {}  # in the order held
        self._running: dict[str, float] = {}
        self._lifter: threading.Thread | None = None

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
            self._held.pop(ref, None)
            self._held[ref] = boot_dir

    def settled(self, ref: str) -> None:
        """The boot of ``ref`` ended (up, failed, stopped): once no boot is on its way, held
        cloud-inits go on (:meth:`_lift`)."""
        with self._guard:
            self._booting.pop(ref, None)
            oldest = time.monotonic() - self.bound_seconds
            self._booting = {r: t for r, t in self._booting.items() if t > oldest}
            if self._booting:
                return
        self._lift()

    def release_all(self) -> None:
        """Let every held cloud-init go on at once: the gateway stops, and no boot it would see
        end is left to lift them (each would wait out its bound instead)."""
        with self._guard:
            self._booting.clear()
            lifted, self._held = list(self._held.values()), {}
        for boot_dir in lifted:
            with contextlib.suppress(OSError):
                (boot_dir / HOLD).unlink(missing_ok=True)

    def _lift(self) -> None:
        """Let held cloud-inits go on, no more than :attr:`at_once` running at a time; while
        some stay held, a thread lets the next go as one finishes."""
        with self._guard:
            if self._booting:  # a boot came meanwhile: they wait for it
                return
            now = time.monotonic()
            self._running = {
                r: t
                for r, t in self._running.items()
                if t > now - self.bound_seconds and not self._finished(r)
            }
            lifted: list[Path] = []
            while self._held and len(self._running) < self.at_once:
                ref = next(iter(self._held))
                lifted.append(self._held.pop(ref))
                self._running[ref] = now
            lifter = None
            if self._held and self._lifter is None:
                lifter = self._lifter = threading.Thread(
                    target=self._keep_lifting, name="cloud-init hold", daemon=True
                )
        for boot_dir in lifted:
            with contextlib.suppress(OSError):  # the instance gone meanwhile
                (boot_dir / HOLD).unlink(missing_ok=True)
        if lifter is not None:
            lifter.start()

    def _keep_lifting(self) -> None:
        while True:
            time.sleep(LOOK_SECONDS)
            with self._guard:
                if not self._held or self._booting:  # done, or a new boot holds them again
                    self._lifter = None
                    return
            self._lift()
