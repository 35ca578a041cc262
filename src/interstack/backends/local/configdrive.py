"""Config drives of local instances: a directory of the drive's files, seen by cloud-init.

An instance has no block devices but its volumes, so the drive is the directory cloud-init's
ConfigDrive datasource reads before it looks for a device labelled ``config-2``: the gateway's
files are kept beside the instance (they survive stop/start and gateway restarts) and copied
into ``/var/lib/cloud/seed/config_drive`` of its disk layer before each boot.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from pathlib import Path, PurePosixPath

from interstack.backends.local.diskfiles import copy_into, remove_from
from interstack.errors import BackendError

#: where cloud-init's ConfigDrive datasource looks for an unpacked drive, in the guest
SEED_DIR = "var/lib/cloud/seed/config_drive"


def store(directory: Path, files: Mapping[str, bytes]) -> None:
    """Keep ``files`` (drive path -> contents) in ``directory``, replacing what was there."""
    staging = directory.with_name(f".{directory.name}.new")
    shutil.rmtree(staging, ignore_errors=True)
    for name, body in files.items():
        relative = PurePosixPath(name)
        if relative.is_absolute() or ".." in relative.parts or not relative.parts:
            raise BackendError(f"config drive path {name!r} is not a plain relative path")
        target = staging.joinpath(*relative.parts)
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        target.write_bytes(body)
        os.chmod(target, 0o600)
    staging.mkdir(parents=True, exist_ok=True, mode=0o700)
    shutil.rmtree(directory, ignore_errors=True)
    os.replace(staging, directory)


def install(directory: Path, disk: Path) -> bool:
    """Copy a stored drive into the disk layer ``disk``; False (and any copy of an earlier
    boot removed) when the instance has none."""
    remove_from(disk, SEED_DIR)
    if not directory.is_dir():
        return False
    copy_into(directory, disk, SEED_DIR)
    return True
