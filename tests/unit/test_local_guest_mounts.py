"""A guest's volume mounts, answered by the supervisor (:func:`.guestmount.answer`): only of a
device its instance's bundle lists (the volumes attached to it), only while it runs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from interstack.backends.local.bundle import BlockDevice, with_devices
from interstack.backends.local.instances import Instance
from interstack.backends.local.volumes import guestmount
from interstack.errors import BadRequest, Conflict

REF = "ls-guest"


class Running(Instance):
    """An instance whose PID 1 runs (this process stands in for it)."""

    def init_pid(self) -> int | None:
        return 4242


def with_bundle(instance: Instance, devices: tuple[BlockDevice, ...]) -> Instance:
    instance.bundle.mkdir(parents=True)
    config: dict[str, Any] = {"linux": {"resources": {}, "devices": []}}
    (instance.bundle / "config.json").write_text(json.dumps(with_devices(config, devices)))
    return instance


def never(argv: list[str]) -> tuple[int, str]:
    raise AssertionError(f"no host tool may run: {argv}")


def mount_of(major: int, minor: int) -> dict[str, Any]:
    return {
        "op": "mount",
        "device": [major, minor],
        "target": "/srv/data",
        "fstype": "ext4",
        "options": "",
    }


def test_a_guest_may_mount_only_a_device_its_bundle_lists(tmp_path: Path) -> None:
    instance = with_bundle(
        Running(tmp_path / "instances", tmp_path / "runc", REF), (BlockDevice("/dev/vdb", 7, 3),)
    )
    for major, minor in ((7, 4), (8, 0), (7, 3 + 256)):  # another loop, the host's disk
        with pytest.raises(BadRequest, match="is not a volume attached to this server"):
            guestmount.answer(instance, mount_of(major, minor), never)


def test_a_guest_that_does_not_run_mounts_nothing(tmp_path: Path) -> None:
    instance = Instance(tmp_path / "instances", tmp_path / "runc", REF)
    with_bundle(instance, (BlockDevice("/dev/vdb", 7, 3),))
    with pytest.raises(Conflict, match="is not running"):
        guestmount.answer(instance, mount_of(7, 3), never)
