"""Regions are built from the config through the registry and served with a task runner."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from interstack.app import create_app
from interstack.backends.registry import BackendLoadError
from interstack.config import RegionConfig, Settings
from interstack.errors import NotFound, NotSupported
from interstack.services.container import Services
from interstack.services.tasks import TaskStatus


def settings(tmp_path: Path, *regions: RegionConfig) -> Settings:
    """Settings with these regions (one sim ``RegionOne`` if none are given)."""
    chosen = list(regions) or [RegionConfig(name="RegionOne", backend="sim")]
    return Settings(data_dir=tmp_path / "data", regions=chosen)


def test_each_region_gets_its_configured_backend(tmp_path: Path) -> None:
    app = create_app(
        settings(
            tmp_path,
            RegionConfig(name="east", backend="sim"),
            RegionConfig(name="west", backend="sim", settings={"without": ["pause"]}),
        )
    )
    services: Services = app.state.services
    assert services.regions.names == ["east", "west"]
    assert services.regions.capabilities("east").pause
    assert not services.regions.capabilities("west").pause
    with pytest.raises(NotSupported, match="region west does not support pause"):
        services.regions.require("west", "pause")
    with pytest.raises(NotFound):
        services.regions.backend("north")


def test_an_unknown_backend_stops_the_gateway_from_starting(tmp_path: Path) -> None:
    with pytest.raises(BackendLoadError, match="region west: unknown backend 'nimbus'"):
        create_app(settings(tmp_path, RegionConfig(name="west", backend="nimbus")))


def test_the_app_lifespan_runs_the_task_runner(tmp_path: Path) -> None:
    app = create_app(settings(tmp_path))
    services: Services = app.state.services

    async def serve_until_the_task_ran() -> str:
        async with app.router.lifespan_context(app):
            assert app.state.task_runner.live_workers == services.settings.task_workers
            task_id = services.tasks.enqueue("no-such-kind", "RegionOne", "r1")
            deadline = time.monotonic() + 60
            while services.tasks.get(task_id).status is TaskStatus.PENDING:
                assert time.monotonic() < deadline, "the runner never claimed the task"
                await asyncio.sleep(0.05)
            return task_id

    task_id = asyncio.run(serve_until_the_task_ran())
    assert app.state.task_runner.live_workers == 0
    task = services.tasks.get(task_id)
    assert task.status is TaskStatus.FAILED
    assert task.error is not None and "no-such-kind" in task.error
