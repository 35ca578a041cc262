"""A volume or snapshot task looks at a backend that is still changing as often as the backend
declares (``Backend.polling``: a cloud that is slow and throttles is asked seldom), and looks at
once in the step that asked for the change, so a backend that makes it at once is done in that
step."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from interstack.backends.contract import Polling
from interstack.services.container import Services
from interstack.services.tasks import RetryAfter, Task, TaskStatus
from interstack.services.volume.state import SnapshotStatus, VolumeStatus
from interstack.services.volume.volumes import NewVolume
from interstack.store.models import Volume as VolumeRow
from interstack.store.models import VolumeSnapshot as SnapshotRow
from tests.support.compute import declare_polling, waits_of
from tests.support.image import REGION, caller, started_services

PROJECT = "alice"


@pytest.fixture
def slow(tmp_path: Path) -> Iterator[Services]:
    """The sim's volumes take longer than the test looks."""
    with started_services(tmp_path / "data", {"volume_delay_seconds": 600}) as started:
        yield started


@pytest.fixture
def instant(tmp_path: Path) -> Iterator[Services]:
    settings = {"volume_delay_seconds": 0, "snapshot_delay_seconds": 0}
    with started_services(tmp_path / "data", settings) as started:
        yield started


def pending_task(services: Services, resource_id: str) -> Task:
    """The resource's one pending task, as a worker holds it when it runs a step."""
    (task,) = [t for t in services.tasks.for_resource(resource_id) if t.status == "pending"]
    return replace(task, status=TaskStatus.RUNNING)


def step(services: Services, task: Task) -> RetryAfter | None:
    return services.volume.tasks.handlers()[task.kind].run(task)


def test_a_volume_being_created_is_looked_at_as_its_backend_declares(
    slow: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    declared = Polling(first_seconds=0.1, ceiling_seconds=3.0)
    declare_polling(monkeypatch, slow.regions.backend(REGION), declared)
    volume = slow.volume.volumes.create(caller(PROJECT), REGION, NewVolume(size=1, name="v"))
    waits = waits_of(lambda task: step(slow, task), pending_task(slow, volume.id), 8)
    # the step that asks for the volume has looked once already
    assert waits == [0.1, 0.2, 0.4, 0.8, 1.6, 3.0, 3.0, 3.0]


def test_a_backend_that_makes_a_volume_and_a_snapshot_at_once_is_done_in_the_first_step(
    instant: Services,
) -> None:
    ctx = caller(PROJECT)
    volume = instant.volume.volumes.create(ctx, REGION, NewVolume(size=1, name="v"))
    assert step(instant, pending_task(instant, volume.id)) is None
    snapshot = instant.volume.snapshots.create(
        ctx, REGION, volume.id, name="s", description=None, metadata={}, force=False
    )
    assert step(instant, pending_task(instant, snapshot.id)) is None
    with instant.db.session() as session:
        made = session.get(VolumeRow, volume.id)
        snapped = session.get(SnapshotRow, snapshot.id)
        assert made is not None and made.status == VolumeStatus.AVAILABLE
        assert snapped is not None and snapped.status == SnapshotStatus.AVAILABLE
