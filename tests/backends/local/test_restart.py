"""State lives in the data dir: a restarted gateway finds its instances again."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from interstack.backends.contract import BackendContext, ServerStatus
from interstack.backends.local import LocalBackend, cpushare
from interstack.backends.local.cleanup import cleanup_host, stop_instances
from interstack.backends.local.host import CGROUP_PARENT, CGROUP_ROOT, cgroup_mode
from interstack.backends.local.supervisor import SupervisorClient
from tests.backends.local.helpers import boot, instance, settled, spec
from tests.support.local import host_lock_wait, local_settings


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


def _unused(group: Path) -> bool:
    """Whether cgroup ``group`` is there with no process and no cgroup in it."""
    if not group.is_dir():
        return False
    holds_cgroups = any(child.is_dir() for child in group.iterdir())
    return not holds_cgroups and not (group / "cgroup.procs").read_text().strip()


def test_cleanup_leaves_no_cgroup_of_its_own_behind(data_dir: Path) -> None:
    """The instances' parent and the gateways' cgroup go once nothing runs in them; this
    process (which started the backend, and so sits in the gateways') leaves it first. One
    still in use (a sibling checkout's gateway waiting for the host) stays with it."""
    first = build(data_dir)
    boot(first, spec("cgrouped"))
    first.close()
    gateway = cpushare.GATEWAY_GROUP

    cleanup_host([data_dir], lock_wait=host_lock_wait())

    assert cpushare.own_cgroup(cgroup_mode(), Path("/proc/self/cgroup").read_text()) != (
        f"/{gateway}"
    )
    made = [*CGROUP_ROOT.glob(CGROUP_PARENT), *CGROUP_ROOT.glob(f"*/{CGROUP_PARENT}")]
    made += [*CGROUP_ROOT.glob(gateway), *CGROUP_ROOT.glob(f"*/{gateway}")]
    assert not [group for group in made if _unused(group)]
