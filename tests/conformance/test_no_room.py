"""A server or a volume the backend has no room for, in the backend contract: refused before
anything of it exists, with the words OpenStack's schedulers use (the server then goes to
``ERROR`` with Nova's fault, the volume to ``error``, as the services layer's tasks record a
create that raised). On every backend in CONFORMANCE_BACKENDS that declares settings leaving
it no room (``no_room_settings``), built with them for this module alone."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from interstack.backends.contract import (
    NO_VALID_BACKEND,
    NO_VALID_HOST,
    Backend,
    ServerSpec,
    VolumeSpec,
)
from interstack.errors import BackendError
from interstack.store import Database
from tests.conformance.conftest import BackendUnderTest, ModuleBackend, module_backend_of
from tests.support.contract import gid, sized


@pytest.fixture(scope="module")
def module_backend(
    under_test: BackendUnderTest,
    tmp_path_factory: pytest.TempPathFactory,
    migrated_sqlite: Callable[[Path], Database],
) -> Iterator[ModuleBackend]:
    """The module's backend, built with its settings that leave it no room."""
    if under_test.no_room_settings is None:
        pytest.skip(f"{under_test.type_name} has no settings that leave it no room")
    full = replace(under_test, settings={**under_test.settings, **under_test.no_room_settings})
    yield from module_backend_of(full, tmp_path_factory, migrated_sqlite)


@pytest.mark.requires("compute")
def test_a_server_no_host_has_room_for_is_refused_in_novas_words(backend: Backend) -> None:
    spec = ServerSpec(gateway_id=gid(), name="no-room", project_id="p1", flavor=sized(backend))

    with pytest.raises(BackendError) as refused:
        backend.compute.create_server(spec)

    assert refused.value.message == NO_VALID_HOST
    assert spec.gateway_id not in {s.gateway_id for s in backend.compute.list_servers()}


@pytest.mark.requires("volumes")
def test_a_volume_no_backend_has_room_for_is_refused_in_cinders_words(backend: Backend) -> None:
    spec = VolumeSpec(gateway_id=gid(), name="no-room", project_id="p1", size_gb=1)

    with pytest.raises(BackendError) as refused:
        backend.block_storage.create_volume(spec)

    assert refused.value.message == NO_VALID_BACKEND  # and nothing held: the fixture looks
