"""The backends the conformance suite runs against, and how each is built for a module of
tests (one started backend each, which every test leaves as it found it; a test that fails
may not, so the next test gets a backend built anew, on a cloud tidied or reset).

Add a backend by appending a :class:`BackendUnderTest` to :data:`CONFORMANCE_BACKENDS`; the suite
never names a backend. Tests declare what they need with ``@pytest.mark.requires("pause")`` and
are skipped on backends whose capabilities lack it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import pytest

from interstack.backends.contract import Backend, Capabilities, NativeRef, VolumeStatus
from interstack.backends.local.cleanup import cleanup_host
from interstack.backends.registry import load_backend
from interstack.errors import NotFound
from interstack.services.context import RequestContext
from interstack.services.listing import Page
from interstack.services.network.service import NetworkServices
from interstack.services.regions import Regions
from interstack.store import Database
from tests.support.holdings import (
    Holdings,
    local_group_mentions,
    local_holdings,
    new_since,
    sim_group_mentions,
    sim_holdings,
)
from tests.support.image import caller
from tests.support.local import (
    build_default_image,
    host_lock_wait,
    local_settings,
    local_unavailable,
)
from tests.support.moto import aws_settings, group_mentions, left_in_region
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
    #: what the backend holds now, by kind, as it records it: what is new after a test and
    #: its cleanup was left behind
    holdings: Callable[[Backend], Holdings] = lambda _backend: {}
    #: where the cloud still names a security group (its native ref): the group, another
    #: group's rule naming it, as the cloud shows them (none known: a spec that first looks
    #: for a group it made finds nothing, and fails)
    group_mentions: Callable[[Backend, str], list[str]] = lambda _backend, _ref: []
    #: settings merged over ``settings`` under which the backend has no room for any server's
    #: disk or any volume (test_no_room.py); None where no setting says so
    no_room_settings: dict[str, Any] | None = None


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
        holdings=sim_holdings,
        group_mentions=sim_group_mentions,
    ),
    BackendUnderTest(
        "local",
        settings=local_settings(stop_timeout_seconds=5),
        unavailable=local_unavailable,
        prepare=build_default_image,
        # bridges, namespaces, dnsmasqs and metadata proxies outlive close() for the next start
        tidy=lambda data_dir: cleanup_host([data_dir], lock_wait=host_lock_wait()),
        holdings=local_holdings,
        # its data dir's file system times these ratios holds less than a byte
        no_room_settings={"disk_allocation_ratio": 1e-12, "max_over_subscription_ratio": 1e-12},
        group_mentions=local_group_mentions,
    ),
    BackendUnderTest(
        "aws",
        live_settings=aws_settings,
        left_behind=left_in_region,
        group_mentions=lambda _backend, ref: group_mentions(ref),
    ),
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


#: set on a test's node when its set-up, call or clean-up failed: what it made may be left
FAILED = pytest.StashKey[bool]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.failed:
        item.stash[FAILED] = True
    return report


class ModuleBackend:
    """The started backend a module's tests share (starting and closing a local backend costs
    seconds), built on first use and built anew after a test that failed: what such a test
    left (a server, a network, the aws emulator's resources, which only a new backend's
    settings reset) must not fail the next test too."""

    def __init__(
        self,
        under_test: BackendUnderTest,
        root: Path,
        migrated_sqlite: Callable[[Path], Database],
    ) -> None:
        self.under_test = under_test
        self._root = root
        self._migrated_sqlite = migrated_sqlite
        self._built: tuple[Backend, Database, Path] | None = None
        self._builds = 0

    def get(self) -> Backend:
        if self._built is None:
            self._builds += 1
            root = self._root / f"build-{self._builds}"
            db = self._migrated_sqlite(root / "store.db")
            settings = {**self.under_test.settings, **self.under_test.live_settings()}
            backend = load_backend(
                self.under_test.type_name, REGION, settings, data_dir=root / "data", db=db
            )
            try:
                backend.start()
            except BaseException:
                self._tidy(root / "data", db)
                raise
            self._built = (backend, db, root / "data")
        return self._built[0]

    def discard(self) -> None:
        """Delete the backend's servers (real ones outlive the backend object), close it and
        tidy the host; the next :meth:`get` builds another."""
        if self._built is None:
            return
        (backend, db, data_dir), self._built = self._built, None
        try:
            try:
                delete_servers(backend)
            finally:
                backend.close()
        finally:
            self._tidy(data_dir, db)

    def _tidy(self, data_dir: Path, db: Database) -> None:
        try:
            self.under_test.tidy(data_dir)
        finally:
            db.dispose()


@pytest.fixture(scope="module")
def module_backend(
    under_test: BackendUnderTest,
    tmp_path_factory: pytest.TempPathFactory,
    migrated_sqlite: Callable[[Path], Database],
) -> Iterator[ModuleBackend]:
    """The module's backend of this kind, closed and tidied after its last test."""
    yield from module_backend_of(under_test, tmp_path_factory, migrated_sqlite)


def module_backend_of(
    under_test: BackendUnderTest,
    tmp_path_factory: pytest.TempPathFactory,
    migrated_sqlite: Callable[[Path], Database],
) -> Iterator[ModuleBackend]:
    """:func:`module_backend` of ``under_test`` (a module's fixture of its own settings)."""
    shared = ModuleBackend(
        under_test, tmp_path_factory.mktemp(f"conformance-{under_test.type_name}"), migrated_sqlite
    )
    try:
        yield shared
    finally:
        shared.discard()


@pytest.fixture
def backend(
    request: pytest.FixtureRequest,
    under_test: BackendUnderTest,
    module_backend: ModuleBackend,
) -> Iterator[Backend]:
    """The module's backend, skipped where it lacks what the test ``requires``; after the test
    its servers are deleted and the cloud must hold nothing else the test made. After a test
    that failed (or left something) the next one gets a backend built anew."""
    built = module_backend.get()
    for marker in request.node.iter_markers("requires"):
        unknown = set(marker.args) - CAPABILITY_NAMES
        assert not unknown, f"unknown capabilities in @requires: {sorted(unknown)}"
        missing = sorted(set(marker.args) - built.capabilities.names())
        if missing:
            pytest.skip(f"backend lacks {', '.join(missing)}")
    before = under_test.holdings(built)
    yield built
    try:
        delete_servers(built)
        left = {**under_test.left_behind(REGION), **new_since(before, under_test.holdings(built))}
        assert not left, f"the test left {left} in the cloud"
    except BaseException:
        module_backend.discard()
        raise
    if request.node.stash.get(FAILED, False):
        module_backend.discard()


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
def cleanup(request: pytest.FixtureRequest, backend: Backend) -> Iterator[Cleanup]:
    """Deletes after the test what it registered (and every server): a conformance test leaves
    its backend as it found it, on every backend, whether it passed or not (where a deletion
    fails, the next test gets a backend built anew)."""
    undo = Cleanup(backend)
    yield undo
    try:
        undo.run()
    except BaseException:
        request.node.stash[FAILED] = True
        raise


@pytest.fixture
def services(backend: Backend) -> NetworkServices:
    """The network services over the test's backend, its only region :data:`REGION`."""
    assert backend.context.db is not None
    return NetworkServices.build(backend.context.db, Regions({REGION: backend}))


@pytest.fixture
def project(services: NetworkServices) -> Iterator[Callable[..., RequestContext]]:
    """A new project's context per call (member and reader, or the roles given); after the test
    each project's network resources are deleted through the network API, passed or failed."""
    made: list[str] = []

    def new(*roles: str) -> RequestContext:
        ctx = caller(uuid.uuid4().hex, *roles)
        assert ctx.project_id is not None
        made.append(ctx.project_id)
        return ctx

    yield new
    for project_id in reversed(made):
        _purge(services, project_id)


def _purge(services: NetworkServices, project_id: str) -> None:
    """Delete a project's floating IPs, routers (their interfaces first), ports, networks (their
    subnets with them) and security groups (its default group too, as an admin may)."""
    admin = caller(project_id, "admin", "member", "reader")

    def mine(listed: list[Any]) -> list[Any]:
        return [item for item in listed if item.project_id == project_id]

    for fip in mine(services.floating_ips.list_page(admin, REGION, {}, Page())):
        services.floating_ips.delete(admin, REGION, fip.id)
    ports = mine(services.ports.list_page(admin, REGION, {}, Page()))
    for router in mine(services.routers.list_page(admin, REGION, {}, Page())):
        for port in ports:
            if port.device_id == router.id and port.device_owner == "network:router_interface":
                services.router_interfaces.remove(admin, REGION, router.id, None, port.id)
        services.routers.delete(admin, REGION, router.id)
    for port in ports:
        if not port.device_owner.startswith("network:"):
            services.ports.delete(admin, REGION, port.id)
    for network in mine(services.networks.list_page(admin, REGION, {}, Page())):
        services.networks.delete(admin, REGION, network.id)
    for group in mine(services.security_groups.list_page(admin, REGION, {}, Page())):
        services.security_groups.delete(admin, REGION, group.id)
