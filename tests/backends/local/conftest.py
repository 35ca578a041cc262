"""One local backend per test module on a data dir of its own, one served gateway on it for
consecutive modules (:mod:`.shared_cloud`); the image cache is shared.

Skipped, with the reason, only where the host cannot run runc instances (not root, tools
missing); the CI machine can, so these tests run there.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from interstack.backends.contract import BackendContext
from interstack.backends.local import LocalBackend
from interstack.backends.local.cleanup import cleanup_host, stop_instances
from interstack.backends.local.network import LocalNetwork, cleanup
from tests.backends.local.cloud import REGION
from tests.backends.local.lab import EXTERNAL, Lab
from tests.backends.local.shared_cloud import (
    SharedCloud,
    run_together,
    settings_of,
    uses_shared_cloud,
)
from tests.backends.local.stand_ins import StandIn
from tests.support.gateway import ServedGateway
from tests.support.local import (
    build_default_image,
    host_lock_wait,
    local_settings,
    local_unavailable,
)


@pytest.fixture(scope="session")
def default_image() -> Path:
    reason = local_unavailable()
    if reason is not None:
        pytest.skip(f"the local backend cannot run here: {reason}")
    return build_default_image()


@pytest.fixture(scope="module")
def local_backend(
    tmp_path_factory: pytest.TempPathFactory, default_image: Path
) -> Iterator[LocalBackend]:
    data = tmp_path_factory.mktemp("local") / "data"
    backend = LocalBackend(BackendContext(region="test", settings=local_settings(), data_dir=data))
    backend.start()
    yield backend
    for server in backend.compute.list_servers():
        backend.compute.delete_server(server.ref)
    backend.close()


@pytest.fixture(scope="module")
def cloud_settings() -> dict[str, Any]:
    """Local backend settings of the module's served gateway (a module may override it)."""
    return {}


@pytest.fixture(scope="module")
def gateway_settings() -> dict[str, Any]:
    """Gateway settings of the module's served gateway beside its region (a module may
    override it: a short ``reconcile_interval_seconds``)."""
    return {}


#: the served local gateway kept from one module on ``cloud`` to the next (:mod:`.shared_cloud`)
SHARED = SharedCloud()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    run_together(items)


def pytest_runtest_setup(item: pytest.Item) -> None:
    """A test not on the shared gateway gets the host's networking: the gateway stops (if a
    module on it was skipped, the one before kept it up for nothing)."""
    if not uses_shared_cloud(item):
        SHARED.release()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    """Tell the shared gateway what the next test asks for before the module's fixtures end."""
    SHARED.next_config = config_of(nextitem)
    return (yield)


def config_of(item: pytest.Item | None) -> dict[str, Any] | None:
    """The configuration of the shared gateway ``item`` runs on; None if it is not on it (or
    its settings are known only once its fixtures run)."""
    if item is None or not uses_shared_cloud(item):
        return None
    settings = settings_of(item)
    return None if settings is None else cloud_config(**settings)


def pytest_sessionfinish() -> None:
    SHARED.release()


def start_cloud(
    tmp_path_factory: pytest.TempPathFactory, config: dict[str, Any]
) -> tuple[ServedGateway, Callable[[], None]]:
    """A served gateway of ``config``, and what stops it and cleans the host after it."""
    data = tmp_path_factory.mktemp("e2e") / "data"
    # starting waits for the host's networking while a sibling checkout's gateway holds it
    served = ServedGateway(data, config=config).start(timeout=120 + host_lock_wait())

    def stop_and_clean() -> None:
        served.stop()
        region_dir = data / "backends" / REGION
        try:
            cleanup_host([region_dir], lock_wait=host_lock_wait())
        finally:  # the instances go even while a sibling's gateway holds the host's networking
            stop_instances(region_dir)

    return served, stop_and_clean


def cloud_config(
    cloud_settings: dict[str, Any], gateway_settings: dict[str, Any]
) -> dict[str, Any]:
    """The configuration of a served gateway whose one region is the local backend."""
    return {
        **gateway_settings,
        "regions": [
            {"name": REGION, "backend": "local", "settings": local_settings(**cloud_settings)}
        ],
    }


@pytest.fixture(scope="module")
def cloud(
    tmp_path_factory: pytest.TempPathFactory,
    default_image: Path,
    cloud_settings: dict[str, Any],
    gateway_settings: dict[str, Any],
) -> Iterator[ServedGateway]:
    """A gateway whose one region is the local backend (skipped where the host cannot run it:
    ``default_image`` says why), shared with the next module on it of the same settings."""
    config = cloud_config(cloud_settings, gateway_settings)
    yield SHARED.take(config, lambda wanted: start_cloud(tmp_path_factory, wanted))
    SHARED.module_done()


@pytest.fixture(scope="module")
def conn(cloud: ServedGateway) -> Any:
    return cloud.connect("interstack")


@pytest.fixture(scope="module")
def key_file(conn: Any, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    keypair = conn.compute.create_keypair(name=f"e2e-{uuid.uuid4().hex[:6]}")
    path = tmp_path_factory.mktemp("keys") / "id"
    path.write_text(keypair.private_key)
    path.chmod(0o600)
    return keypair.name, path


@pytest.fixture(scope="module")
def driver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalNetwork]:
    """A network driver for a module of lab tests (:mod:`.lab`), on a host cleaned of
    interstack networking before and after."""
    data = tmp_path_factory.mktemp("network")
    cleanup(lock_wait=max(300, host_lock_wait()))
    network = LocalNetwork(data, external_cidr=EXTERNAL, lock_wait=max(300, host_lock_wait()))
    network.start()
    yield network
    network.close()
    cleanup(data)


@pytest.fixture
def stand_ins() -> Iterator[dict[str, StandIn]]:
    made: dict[str, StandIn] = {}
    yield made
    for stand_in in made.values():
        stand_in.close()


@pytest.fixture
def lab(driver: LocalNetwork, stand_ins: dict[str, StandIn]) -> Lab:
    return Lab(driver, stand_ins)
