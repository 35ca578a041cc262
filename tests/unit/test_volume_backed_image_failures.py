"""createImage of a volume-backed server that fails once its volumes' snapshots are taken (the
image is deleted meanwhile, or the store refuses the write): nothing it made is left, neither the
image nor a snapshot, whether the backend had made the snapshot yet or not.

The failure is forced inside the service (the image's registration raises), and the snapshot
tasks are stepped by hand at the moment each order needs, so both orders run every time."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select, update

from interstack.backends.contract import NativeRef, SnapshotInfo
from interstack.backends.contract import VolumeStatus as Native
from interstack.errors import Conflict, NotFound
from interstack.services.container import Services
from interstack.services.tasks import TaskStatus
from interstack.services.volume.common import new_attachment
from interstack.services.volume.state import AttachStatus, SnapshotStatus, VolumeStatus
from interstack.services.volume.volumes import NewVolume
from interstack.store.models import Image, Server
from interstack.store.models import Task as TaskRow
from interstack.store.models import Volume as VolumeRow
from interstack.store.models import VolumeSnapshot as SnapshotRow
from tests.support.compute import add_server
from tests.support.image import REGION, caller, started_services

PROJECT = "alice"
#: the sim's volumes and snapshots settle at once, so hand-stepped tasks need no waits
INSTANT = {"volume_delay_seconds": 0, "snapshot_delay_seconds": 0}
#: far more steps than a sim volume or snapshot task needs
STEP_BOUND = 50


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    with started_services(tmp_path / "data", INSTANT) as started:
        yield started


def run_tasks(services: Services, resource_id: str, *, steps: int = STEP_BOUND) -> None:
    """Step the resource's pending tasks by hand, up to ``steps`` steps each, as the runner
    would: a task not done yet keeps its next payload, a done one is marked succeeded."""
    handlers = {**services.volume.tasks.handlers(), **services.volume.server_volumes.handlers()}
    for task in services.tasks.for_resource(resource_id):
        if task.status != TaskStatus.PENDING:
            continue
        current = dataclasses.replace(task, status=TaskStatus.RUNNING)
        done = False
        for _ in range(steps):
            answer = handlers[task.kind].run(current)
            done = answer is None
            if answer is None:
                break
            if answer.payload is not None:
                current = dataclasses.replace(current, payload=dict(answer.payload))
        with services.db.session() as session:
            session.execute(
                update(TaskRow)
                .where(TaskRow.id == task.id)
                .values(
                    payload=dict(current.payload),
                    status=TaskStatus.SUCCEEDED if done else TaskStatus.PENDING,
                )
            )


def volume_backed_server(services: Services) -> tuple[str, str]:
    """(server id, root volume id): an active server with a volume attached at /dev/vda."""
    ctx = caller(PROJECT)
    server_id = add_server(services.db, PROJECT, 1, 512, "active")
    volume = services.volume.volumes.create(ctx, REGION, NewVolume(size=1, name="root"))
    run_tasks(services, volume.id)
    with services.db.session() as session:
        session.execute(update(Server).where(Server.id == server_id).values(native_ref="sim-1"))
        row = session.get(VolumeRow, volume.id)
        assert row is not None and row.native_ref is not None
        row.status = VolumeStatus.IN_USE
        session.add(
            new_attachment(
                REGION,
                row,
                server_id,
                mountpoint="/dev/vda",
                mode="rw",
                status=AttachStatus.ATTACHED,
                boot_index=0,
            )
        )
    return server_id, volume.id


def snapshots_of(services: Services, volume_id: str) -> list[SnapshotRow]:
    with services.db.session() as session:
        rows = list(session.scalars(select(SnapshotRow).where(SnapshotRow.volume_id == volume_id)))
        session.expunge_all()
        return rows


def still_creating(services: Services, backend: pytest.MonkeyPatch) -> None:
    """The sim's snapshots are reported still being created (its own settle at once)."""
    storage = services.regions.backend(REGION).block_storage
    real = storage.get_snapshot

    def creating(ref: NativeRef) -> SnapshotInfo:
        return dataclasses.replace(real(ref), status=Native.CREATING)

    backend.setattr(storage, "get_snapshot", creating)


#: how far the snapshot's create task got before the failure: not started; the backend asked
#: (the snapshot still ``creating``); the snapshot ``available``
PROGRESS = {"before": 0, "while": 1, "after": STEP_BOUND}


@pytest.mark.parametrize("progress", PROGRESS.values(), ids=PROGRESS.keys())
def test_a_failed_registration_leaves_neither_image_nor_snapshots(
    services: Services, monkeypatch: pytest.MonkeyPatch, progress: int
) -> None:
    server_id, volume_id = volume_backed_server(services)
    made: list[NativeRef] = []

    def refused(region: str, image_id: str, properties: object) -> None:
        [snapshot] = snapshots_of(services, volume_id)
        if progress:  # the task runner got to the snapshot first
            with monkeypatch.context() as backend:
                if progress < STEP_BOUND:  # the step's own look sees the snapshot unfinished
                    still_creating(services, backend)
                run_tasks(services, snapshot.id, steps=progress)
            [snapshot] = snapshots_of(services, volume_id)
            assert snapshot.native_ref is not None
            made.append(NativeRef(snapshot.native_ref))
        raise Conflict(f"Image {image_id} was deleted before its snapshot was registered.")

    monkeypatch.setattr(services.compute_images, "finish_volume_backed", refused)

    with pytest.raises(Conflict, match="was deleted"):
        services.compute.server_actions.create_image(
            caller(PROJECT), REGION, server_id, "backup", {}
        )

    with services.db.session() as session:
        assert session.scalars(select(Image)).all() == []
    [snapshot] = snapshots_of(services, volume_id)
    assert snapshot.status == SnapshotStatus.DELETING
    run_tasks(services, snapshot.id)
    assert snapshots_of(services, volume_id) == []
    assert len(made) == (1 if progress else 0)
    for ref in made:
        with pytest.raises(NotFound):
            services.regions.backend(REGION).block_storage.get_snapshot(ref)
