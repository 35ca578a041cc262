"""Booting and waiting, shared by the local backend's tests."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

from interstack.backends.contract import FlavorSpec, NativeRef, ServerInfo, ServerSpec, ServerStatus
from interstack.backends.local import LocalBackend
from interstack.backends.local.instances import Instance
from tests.support.waiting import eventually

SMALL = FlavorSpec(vcpus=1, ram_mb=256, disk_gb=1)


def spec(name: str, **changes: object) -> ServerSpec:
    fields: dict[str, object] = {
        "gateway_id": str(uuid.uuid4()),
        "name": name,
        "project_id": "p1",
        "flavor": SMALL,
    }
    fields.update(changes)
    return ServerSpec(**fields)  # type: ignore[arg-type]


def settled(backend: LocalBackend, ref: NativeRef, status: ServerStatus) -> ServerInfo:
    return eventually(
        lambda: backend.compute.get_server(ref),
        lambda s: s.status is status or s.status is ServerStatus.ERROR,
        f"the server to be {status}",
    )


def boot(backend: LocalBackend, server: ServerSpec) -> ServerInfo:
    created = backend.compute.create_server(server)
    active = settled(backend, created.ref, ServerStatus.ACTIVE)
    assert active.status is ServerStatus.ACTIVE, active.fault
    return active


def instance(backend: LocalBackend, ref: NativeRef) -> Instance:
    data = backend.context.data_dir
    return Instance(data / "instances", data / "runc", ref)


def runc_root(backend: LocalBackend) -> Path:
    return backend.context.data_dir / "runc"


def boot_minutes(instant: float, slack: int = 2) -> set[str]:
    """How ``who -b`` (``LC_ALL=C``, ``TZ=UTC``) may print a boot at ``instant`` give or take
    ``slack`` seconds: ``Nov 26 02:07``."""
    return {
        " ".join(time.strftime("%b %e %H:%M", time.gmtime(instant + d)).split())
        for d in range(-slack, slack + 1)
    }
