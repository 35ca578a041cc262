"""One local backend per test module on a data dir of its own; the image cache is shared.

Skipped, with the reason, only where the host cannot run runc instances (not root, tools
missing); the CI machine can, so these tests run there.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from interstack.backends.contract import BackendContext
from interstack.backends.local import LocalBackend
from tests.support.local import build_default_image, image_cache_dir, local_unavailable


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
    backend = LocalBackend(
        BackendContext(
            region="test", settings={"image_cache_dir": str(image_cache_dir())}, data_dir=data
        )
    )
    backend.start()
    yield backend
    for server in backend.compute.list_servers():
        backend.compute.delete_server(server.ref)
    backend.close()
