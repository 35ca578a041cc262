"""Holding an instance still while its disk is copied (a capture, a snapshot of its root
volume): its processes frozen (the freezer cgroup, through runc), and a root filesystem the host
mounts flushed and frozen (``fsfreeze``), so the copy holds every write made before it, none
half-made. A running instance is always thawed again, whether the copy worked or not; a paused
or suspended one stays so.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from interstack.backends.local.host import is_mounted, run
from interstack.backends.local.instances import Instance
from interstack.errors import BackendError

log = logging.getLogger(__name__)

#: runc gives up freezing a cgroup whose processes keep forking (a guest still booting on a
#: loaded host); the freeze is tried again this many times in all
FREEZE_ATTEMPTS = 3
FREEZE_RETRY_SECONDS = 0.5


@contextmanager
def frozen(instance: Instance) -> Iterator[bool]:
    """Hold a running instance's processes still (yields whether it runs); thaw it afterwards
    whatever happened, unless it was paused or suspended before."""
    state = instance.runtime_state()
    running = state is not None and state[0] == "running"
    if running:
        _pause(instance)
    try:
        yield running or (state is not None and state[0] == "paused")
    finally:
        if running:
            instance.resume()


def _pause(instance: Instance) -> None:
    for attempt in range(1, FREEZE_ATTEMPTS + 1):
        try:
            instance.pause()
            return
        except BackendError as exc:
            if attempt == FREEZE_ATTEMPTS:
                raise
            log.warning("capture of %s: %s; trying again", instance.ref, exc.message)
            time.sleep(FREEZE_RETRY_SECONDS)


@contextmanager
def held_still(instance: Instance) -> Iterator[None]:
    """A volume-backed instance frozen, and its root filesystem flushed and frozen if it runs."""
    with frozen(instance) as live:
        if live and is_mounted(instance.rootfs):
            with frozen_filesystem(instance.rootfs):
                yield
        else:
            yield


@contextmanager
def frozen_filesystem(mountpoint: Path) -> Iterator[None]:
    """Flush the filesystem at ``mountpoint`` and block writes to it until the block ends."""
    run(["fsfreeze", "--freeze", str(mountpoint)], what="freeze the root volume's filesystem")
    try:
        yield
    finally:
        run(["fsfreeze", "--unfreeze", str(mountpoint)], what="thaw the root volume's filesystem")
