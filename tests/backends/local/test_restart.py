"""State lives in the data dir: a restarted gateway finds its instances again."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from interstack.backends.contract import BackendContext, ServerStatus
from interstack.backends.local import LocalBackend
from interstack.backends.local.cleanup import stop_instances
from interstack.backends.local.supervisor import SupervisorClient
from tests.backends.local.helpers import boot, instance, settled, spec
from tests.support.local import local_settings


def build(data: Path) -> LocalBackend:
    backend = LocalBackend(BackendContext(region="test", settings=local_settings(), data_dir=data))
    backend.start()
    return backend


@pytest.fixture
def data_dir(tmp_path: Path, default_image: Path) -> Iterator[Path]:
    data = tmp_path / "data"
    yield data
    cleaner = build(data)
    for server in cleaner.compute.list_servers():
        cleaner.compute.delete_server(server.ref)
    cleaner.close()


def test_running_instances_keep_running_across_a_gateway_restart(data_dir: Path) -> None:
    first = build(data_dir)
    server = boot(first, spec("survivor"))
    before = instance(first, server.ref).runtime_state()
    first.close()

    second = build(data_dir)
    try:
        assert [(s.ref, s.status) for s in second.compute.list_servers()] == [
            (server.ref, ServerStatus.ACTIVE)
        ]
        assert instance(second, server.ref).runtime_state() == before  # the same PID 1, untouched
    finally:
        second.close()


def test_instances_gone_from_the_host_are_started_again(data_dir: Path) -> None:
    first = build(data_dir)
    server = boot(first, spec("phoenix"))
    first.close()
    # what a host reboot leaves: no runc state, no mount, only the data dir
    instance(first, server.ref).teardown()

    second = build(data_dir)
    try:
        assert settled(second, server.ref, ServerStatus.ACTIVE).status is ServerStatus.ACTIVE
        assert "starting it again" in second.compute.console_output(server.ref)
    finally:
        second.close()


def test_cleanup_stops_the_instances_and_then_their_supervisor(data_dir: Path) -> None:
    first = build(data_dir)
    server = boot(first, spec("transient"))
    first.close()

    assert stop_instances(data_dir) == [server.ref]
    assert instance(first, server.ref).runtime_state() is None
    assert not SupervisorClient(data_dir).stop()  # none was left running to stop
