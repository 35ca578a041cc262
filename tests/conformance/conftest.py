"""The backends the conformance suite runs against, and how each is built for a test.

Add a backend by appending a :class:`BackendUnderTest` to :data:`CONFORMANCE_BACKENDS`; the suite
never names a backend. Tests declare what they need with ``@pytest.mark.requires("pause")`` and
are skipped on backends whose capabilities lack it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import pytest

from interstack.backends.contract import Backend, Capabilities
from interstack.backends.local.cleanup import cleanup_host
from interstack.backends.registry import load_backend
from interstack.store import Database
from tests.support.local import (
    build_default_image,
    host_lock_wait,
    local_settings,
    local_unavailable,
)
from tests.support.moto import aws_settings


@dataclass(frozen=True)
class BackendUnderTest:
    type_name: str
    settings: dict[str, Any] = field(default_factory=dict)
    #: a server name whose boot this configuration makes fail; None if it cannot inject faults
    failing_server_name: str | None = None
    #: why the backend cannot run on this host, or None if it can
    unavailable: Callable[[], str | None] = lambda: None
    #: makes what the backend's tests share (a built image), once per session
    prepare: Callable[[], object] = lambda: None
    #: settings known only when a test runs (an emulator's address), merged over ``settings``
    live_settings: Callable[[], dict[str, Any]] = dict
    #: takes off the host what a closed backend leaves there on purpose (its data directory)
    tidy: Callable[[Path], object] = lambda _data_dir: None


CONFORMANCE_BACKENDS = [
    BackendUnderTest(
        "sim",
        settings={
            "boot_delay_seconds": 0.3,
            "volume_delay_seconds": 0.2,
            "snapshot_delay_seconds": 0.2,
            "fail_on": {"create_server": {"name": "fail-*", "message": "No valid host was found."}},
        },
        failing_server_name="fail-boot",
    ),
    BackendUnderTest(
        "local",
        settings=local_settings(stop_timeout_seconds=5),
        unavailable=local_unavailable,
        prepare=build_default_image,
        # bridges, namespaces, dnsmasqs and metadata proxies outlive close() for the next start
        tidy=lambda data_dir: cleanup_host([data_dir], lock_wait=host_lock_wait()),
    ),
    BackendUnderTest("aws", live_settings=aws_settings),
]

CAPABILITY_NAMES = frozenset(f.name for f in fields(Capabilities))


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "requires(*capabilities): skip unless the backend has these capabilities"
    )


@pytest.fixture(params=CONFORMANCE_BACKENDS, ids=lambda b: b.type_name)
def under_test(request: pytest.FixtureRequest) -> BackendUnderTest:
    candidate: BackendUnderTest = request.param
    reason = candidate.unavailable()
    if reason is not None:
        pytest.skip(f"{candidate.type_name} cannot run here: {reason}")
    candidate.prepare()
    return candidate


@pytest.fixture
def backend(
    request: pytest.FixtureRequest, under_test: BackendUnderTest, tmp_path: Path
) -> Iterator[Backend]:
    db = Database(f"sqlite:///{tmp_path / 'store.db'}")
    db.migrate()
    built = load_backend(
        under_test.type_name,
        "conformance",
        {**under_test.settings, **under_test.live_settings()},
        data_dir=tmp_path / "data",
        db=db,
    )
    for marker in request.node.iter_markers("requires"):
        unknown = set(marker.args) - CAPABILITY_NAMES
        assert not unknown, f"unknown capabilities in @requires: {sorted(unknown)}"
        missing = sorted(set(marker.args) - built.capabilities.names())
        if missing:
            db.dispose()
            pytest.skip(f"backend lacks {', '.join(missing)}")
    built.start()
    yield built
    if "compute" in built.capabilities.names():  # real servers outlive the backend object
        for server in built.compute.list_servers():
            built.compute.delete_server(server.ref)
    built.close()
    under_test.tidy(tmp_path / "data")
    db.dispose()
