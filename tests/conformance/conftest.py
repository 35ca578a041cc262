"""The backends the conformance suite runs against, and how each is built for a module of
tests (one started backend each, which every test leaves as it found it).

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

from interstack.backends.contract import Backend, Capabilities, NativeRef, VolumeStatus
from interstack.backends.local.cleanup import cleanup_host
from interstack.backends.registry import load_backend
from interstack.errors import NotFound
from interstack.store import Database
from tests.support.local import (
    build_default_image,
    host_lock_wait,
    local_settings,
    local_unavailable,
)
from tests.support.moto import aws_settings, left_in_region
from tests.support.waiting import eventually


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
    #: what the cloud still holds of the region after a test and its cleanup, by kind (the
    #: cloud as its own API shows it, where the backend has one to look at)
    left_behind: Callable[[str], dict[str, list[str]]] = lambda _region: {}


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
    BackendUnderTest("aws", live_settings=aws_settings, left_behind=left_in_region),
]

#: the region name every conformance backend is built with
REGION = "conformance"
#: a volume's states in which it cannot be deleted yet
_BUSY = frozenset({VolumeStatus.CREATING, VolumeStatus.IN_USE, VolumeStatus.DELETING})
CAPABILITY_NAMES = frozenset(f.name for f in fields(Capabilities))


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "requires(*capabilities): skip unless the backend has these capabilities"
    )


@pytest.fixture(scope="module", params=CONFORMANCE_BACKENDS, ids=lambda b: b.type_name)
def under_test(request: pytest.FixtureRequest) -> BackendUnderTest:
    candidate: BackendUnderTest = request.param
    reason = candidate.unavailable()
    if reason is not None:
        pytest.skip(f"{candidate.type_name} cannot run here: {reason}")
    candidate.prepare()
    return candidate


@pytest.fixture(scope="module")
def module_backend(
    under_test: BackendUnderTest,
    tmp_path_factory: pytest.TempPathFactory,
    migrated_sqlite: Callable[[Path], Database],
) -> Iterator[Backend]:
    """One started backend for a module's tests on it (starting and closing a local backend
    costs seconds); each test leaves it as it found it (:func:`backend`)."""
    root = tmp_path_factory.mktemp(f"conformance-{under_test.type_name}")
    db = migrated_sqlite(root / "store.db")
    built = load_backend(
        under_test.type_name,
        REGION,
        {**under_test.settings, **under_test.live_settings()},
        data_dir=root / "data",
        db=db,
    )
    try:
        built.start()
        try:
            yield built
            delete_servers(built)  # real servers outlive the backend object
        finally:
            built.close()
    finally:
        under_test.tidy(root / "data")
        db.dispose()


@pytest.fixture
def backend(
    request: pytest.FixtureRequest,
    under_test: BackendUnderTest,
    module_backend: Backend,
) -> Iterator[Backend]:
    """The module's backend, skipped where it lacks what the test ``requires``; after the test
    its servers are deleted and the cloud must hold nothing else the test made."""
    for marker in request.node.iter_markers("requires"):
        unknown = set(marker.args) - CAPABILITY_NAMES
        assert not unknown, f"unknown capabilities in @requires: {sorted(unknown)}"
        missing = sorted(set(marker.args) - module_backend.capabilities.names())
        if missing:
            pytest.skip(f"backend lacks {', '.join(missing)}")
    yield module_backend
    delete_servers(module_backend)
    left = under_test.left_behind(REGION)
    assert not left, f"the test left {left} in the cloud"


def delete_servers(backend: Backend) -> None:
    """Delete every server of the backend and wait until none is listed (their ports and
    volumes are free only then)."""
    if "compute" not in backend.capabilities.names():
        return
    for server in backend.compute.list_servers():
        backend.compute.delete_server(server.ref)
    eventually(backend.compute.list_servers, lambda left: not left, "the servers to be deleted")


class Cleanup:
    """What a test made, deleted through the contract after it, passed or failed: first every
    server (waited for), then each registered deletion, the last registered first (so things
    go before what they are on: a port before its network). A deletion of what the test
    deleted already is a no-op or ``NotFound``; any other failure is raised once all ran."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self._steps: list[Callable[[], object]] = []

    def add(self, step: Callable[..., object], *args: Any) -> None:
        """Call ``step(*args)`` after the test."""
        self._steps.append(lambda: step(*args))

    def volume(self, ref: NativeRef) -> NativeRef:
        """Delete the volume after the test, once no server holds it any more."""

        def detached_then_deleted() -> None:
            storage = self.backend.block_storage
            eventually(
                lambda: storage.get_volume(ref).status,
                lambda status: status not in _BUSY,
                f"volume {ref} to be free for its deletion",
            )
            storage.delete_volume(ref)

        self._steps.append(detached_then_deleted)
        return ref

    def run(self) -> None:
        failures: list[Exception] = []
        for step in [lambda: delete_servers(self.backend), *reversed(self._steps)]:
            try:
                step()
            except NotFound:
                pass
            except Exception as exc:  # every step runs; the first failure is reported
                failures.append(exc)
        if failures:
            raise failures[0]


@pytest.fixture
def cleanup(backend: Backend) -> Iterator[Cleanup]:
    """Deletes after the test what it registered (and every server): a conformance test leaves
    its backend as it found it, on every backend, whether it passed or not."""
    undo = Cleanup(backend)
    yield undo
    undo.run()
