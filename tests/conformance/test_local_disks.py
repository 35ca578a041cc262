"""A server's ephemeral and swap disks (``ServerSpec.local_disks``) in the backend contract, on
every backend in CONFORMANCE_BACKENDS that declares ``ephemeral_disks``. Skipped by capability,
never by backend name: the gateway refuses such disks for a backend without it before its
driver is asked (tests/api/volume/test_boot_mapping_checks.py proves that refusal on sim)."""

from __future__ import annotations

import pytest

from interstack.backends.contract import (
    Backend,
    LocalDisk,
    PowerAction,
    ServerSpec,
    ServerStatus,
)
from interstack.errors import NotFound
from tests.support.contract import TINY, gid, server_settled
from tests.support.waiting import eventually

DISKS = (
    LocalDisk(name="ephemeral0", device="/dev/vdb", size_mb=1024),
    LocalDisk(name="swap", device="/dev/vdc", size_mb=128, guest_format="swap"),
)


def _gone(backend: Backend, spec: ServerSpec) -> bool:
    return spec.gateway_id not in {s.gateway_id for s in backend.compute.list_servers()}


@pytest.mark.requires("compute", "ephemeral_disks")
def test_a_server_keeps_its_local_disks_across_a_stop_and_goes_with_them(
    backend: Backend,
) -> None:
    spec = ServerSpec(
        gateway_id=gid(), name="local-disks", project_id="p1", flavor=TINY, local_disks=DISKS
    )
    server = backend.compute.create_server(spec)
    server_settled(backend, server.ref, ServerStatus.ACTIVE, "the server with local disks")
    assert backend.compute.create_server(spec).ref == server.ref  # idempotent, disks and all

    for action, expected in (
        (PowerAction.STOP, ServerStatus.STOPPED),
        (PowerAction.START, ServerStatus.ACTIVE),
    ):
        backend.compute.power_action(server.ref, action)
        server_settled(backend, server.ref, expected, f"{action} to end in {expected}")

    backend.compute.delete_server(server.ref)
    eventually(lambda: _gone(backend, spec), bool, "the server and its disks to be deleted")
    with pytest.raises(NotFound):
        backend.compute.get_server(server.ref)
