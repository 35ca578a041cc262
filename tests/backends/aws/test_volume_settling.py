"""EC2's describes are eventually consistent: right after ``CreateVolume`` / ``CreateSnapshot``,
``DescribeVolumes`` / ``DescribeSnapshots`` by id may answer ``InvalidVolume.NotFound`` /
``InvalidSnapshot.NotFound``. A volume or snapshot made here moments ago is then still being
created, not gone (the task runner looks at a new one at once); one EC2 still does not describe
after the settling window, or one not made here, is gone, with EC2's code in the message.
moto describes at once; botocore hooks make it answer as EC2 may."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from interstack.backends.aws import volumes as aws_volumes
from interstack.backends.aws.client import AWS_POLLING
from interstack.backends.aws.native_ids import unwrapped
from interstack.backends.aws.settings import AwsSettings
from interstack.backends.aws.volumes import AwsVolumes
from interstack.backends.contract import NativeRef, SnapshotSpec, VolumeSpec, VolumeStatus
from interstack.errors import BackendUnavailable, BadRequest, NotFound
from interstack.services.container import Services
from interstack.services.tasks import Task, TaskStatus, utcnow
from interstack.services.volume.volumes import NewVolume
from interstack.store.models import Task as TaskRow
from interstack.store.models import Volume as VolumeRow
from tests.backends.aws.support import (
    PROJECT,
    REGION,
    Calls,
    EmulatorEc2,
    aws_region_services,
    new_id,
    refusal,
    refuse_once,
)
from tests.support.image import caller
from tests.support.moto import aws_settings, ec2


class NotDescribedYet:
    """EC2 as it may answer moments after a create: ``DescribeVolumes`` / ``DescribeSnapshots``
    by id answer not found for the volumes and snapshots in :attr:`unseen` (each one made
    joins it; ``looks`` limits how many describes are so answered, None: all of them)."""

    def __init__(self, client: Any, looks: int | None = None) -> None:
        self.unseen: set[str] = set()
        self.looks = looks
        self.refused: list[str] = []
        events = client.meta.events
        events.register("after-call.ec2.CreateVolume", self._made("VolumeId"))
        events.register("after-call.ec2.CreateSnapshot", self._made("SnapshotId"))
        events.register("before-call.ec2.DescribeVolumes", self._describe("VolumeIds", "Volume"))
        events.register(
            "before-call.ec2.DescribeSnapshots", self._describe("SnapshotIds", "Snapshot")
        )

    def _made(self, key: str) -> Any:
        def made(parsed: dict[str, Any], **_kwargs: Any) -> None:
            if key in parsed:
                self.unseen.add(str(parsed[key]))

        return made

    def _describe(self, ids: str, kind: str) -> Any:
        def describe(params: dict[str, Any], **_kwargs: Any) -> Any:
            asked = {v for k, v in params["body"].items() if k.startswith(f"{ids[:-1]}.")}
            lagging = asked & self.unseen
            if not lagging or self.looks == 0:
                return None
            if self.looks is not None:
                self.looks -= 1
            self.refused.extend(sorted(lagging))
            message = f"The {kind.lower()} '{sorted(lagging)[0]}' does not exist."
            return refusal(f"Invalid{kind}.NotFound", message)

        return describe


@pytest.fixture
def ebs() -> Iterator[tuple[AwsVolumes, NotDescribedYet]]:
    client = ec2()
    driver = AwsVolumes(client, REGION, AwsSettings.parse(REGION, aws_settings()))
    yield driver, NotDescribedYet(client)
    client.close()


def volume_spec(**source: NativeRef) -> VolumeSpec:
    return VolumeSpec(gateway_id=new_id(), name="v", project_id=PROJECT, size_gb=1, **source)


def described_volume(driver: AwsVolumes, lag: NotDescribedYet) -> NativeRef:
    """A volume EC2 describes already (it caught up with its create)."""
    made = driver.create_volume(volume_spec()).ref
    lag.unseen.discard(made)
    return made


def test_a_volume_ec2_does_not_describe_yet_after_its_create_is_being_created(
    ebs: tuple[AwsVolumes, NotDescribedYet],
) -> None:
    driver, lag = ebs
    spec = volume_spec()
    made = driver.create_volume(spec)
    seen = driver.get_volume(made.ref)
    assert lag.refused == [made.ref]  # EC2 did answer not found
    assert (seen.status, seen.gateway_id, seen.size_gb) == (
        VolumeStatus.CREATING,
        spec.gateway_id,
        1,
    )
    assert driver.create_volume(spec).ref == made.ref  # a create step run again: the same one
    lag.unseen.clear()  # EC2 caught up
    assert driver.get_volume(made.ref).status is VolumeStatus.AVAILABLE


def test_a_snapshot_ec2_does_not_describe_yet_after_its_create_is_being_created(
    ebs: tuple[AwsVolumes, NotDescribedYet],
) -> None:
    driver, lag = ebs
    volume = described_volume(driver, lag)
    spec = SnapshotSpec(gateway_id=new_id(), name="s", volume=volume)
    made = driver.create_snapshot(spec)
    seen = driver.get_snapshot(made.ref)
    assert lag.refused == [made.ref]
    assert (seen.status, seen.gateway_id) == (VolumeStatus.CREATING, spec.gateway_id)
    lag.unseen.clear()
    assert driver.get_snapshot(made.ref).status is VolumeStatus.AVAILABLE
    driver.delete_snapshot(made.ref)


def test_one_ec2_still_does_not_describe_after_the_window_is_gone_with_ec2s_code(
    ebs: tuple[AwsVolumes, NotDescribedYet], monkeypatch: pytest.MonkeyPatch
) -> None:
    driver, _lag = ebs
    made = driver.create_volume(volume_spec())
    monkeypatch.setattr(aws_volumes, "_SETTLING_SECONDS", 0.0)  # the window has passed
    with pytest.raises(NotFound) as gone:
        driver.get_volume(made.ref)
    assert "InvalidVolume.NotFound" in gone.value.message


def test_one_not_made_here_that_ec2_does_not_describe_is_gone_with_ec2s_code(
    ebs: tuple[AwsVolumes, NotDescribedYet],
) -> None:
    driver, _lag = ebs
    with pytest.raises(NotFound) as gone:
        driver.get_snapshot(NativeRef("snap-0123456789abcdef0"))
    assert "InvalidSnapshot.NotFound" in gone.value.message


def test_a_volume_ec2_does_not_describe_yet_is_deleted_later_not_taken_for_gone(
    ebs: tuple[AwsVolumes, NotDescribedYet],
) -> None:
    driver, lag = ebs
    made = driver.create_volume(volume_spec())
    with pytest.raises(BackendUnavailable):  # the task runner tries again
        driver.delete_volume(made.ref)
    lag.unseen.clear()
    driver.delete_volume(made.ref)
    assert ec2().describe_volumes(Filters=[{"Name": "volume-id", "Values": [made.ref]}])[
        "Volumes"
    ] in ([], [{"State": "deleted"}])
    with pytest.raises(NotFound):
        driver.get_volume(made.ref)


def test_a_copy_is_made_from_a_snapshot_ec2_does_not_describe_yet(
    ebs: tuple[AwsVolumes, NotDescribedYet],
) -> None:
    driver, lag = ebs
    source = described_volume(driver, lag)
    spec = volume_spec(source_volume=source)
    with pytest.raises(BadRequest):
        driver.create_volume(spec)  # not before its snapshot is ready
    prepared = driver.prepare_volume(spec)
    assert prepared is not None and prepared.startswith("snap-")
    assert driver.prepare_volume(spec) == prepared  # a step run again: the same snapshot
    lag.looks = 1  # the copy's snapshot: not found at the first look only
    assert driver.preparation_ready(prepared) is False  # still being made
    assert lag.refused == [prepared]
    assert driver.preparation_ready(prepared) is True
    copy = driver.create_volume(replace(spec, prepared=prepared))
    assert copy.status in {VolumeStatus.CREATING, VolumeStatus.AVAILABLE}
    left = ec2().describe_snapshots(OwnerIds=["self"])["Snapshots"]
    assert [s["SnapshotId"] for s in left if s.get("VolumeId") == source] == []


def test_a_copy_step_run_again_after_its_snapshot_could_not_go_lets_it_go(
    ebs: tuple[AwsVolumes, NotDescribedYet],
) -> None:
    """A copy's step makes the volume, then EC2 throttles the snapshot's deletion: run again,
    the step answers the volume made and lets the snapshot go."""
    driver, lag = ebs
    source = described_volume(driver, lag)
    lag.looks = 0  # EC2 describes at once
    spec = volume_spec(source_volume=source)
    prepared = driver.prepare_volume(spec)
    assert prepared is not None and driver.preparation_ready(prepared)
    spec = replace(spec, prepared=prepared)
    refuse_once(driver.ec2, "DeleteSnapshot", "RequestLimitExceeded", "Request limit", 503)
    with pytest.raises(BackendUnavailable):
        driver.create_volume(spec)
    copy = driver.create_volume(spec)  # the step run again
    assert copy.ref.startswith("vol-") and copy.ref != source
    assert copy.gateway_id == spec.gateway_id
    with pytest.raises(ClientError):
        ec2().describe_snapshots(SnapshotIds=[prepared])


# -- the volume tasks on an aws region --------------------------------------------------------


@pytest.fixture
def region(tmp_path: Path) -> Iterator[tuple[Services, NotDescribedYet]]:
    """The services of an app with one aws region on the emulator (its tasks stepped here)."""
    with aws_region_services(tmp_path) as services:
        storage = unwrapped(services.regions.backend(REGION).block_storage)
        assert isinstance(storage, AwsVolumes)
        yield services, NotDescribedYet(storage.ec2)


def create_task(services: Services) -> Task:
    """A new volume's create task, as a worker holds it when it runs a step."""
    volume = services.volume.volumes.create(caller(PROJECT), REGION, NewVolume(size=1, name="v"))
    (task,) = services.tasks.for_resource(volume.id)
    return replace(task, status=TaskStatus.RUNNING)


def volume_row(services: Services, volume_id: str) -> tuple[str, str | None]:
    with services.db.session() as session:
        row = session.get(VolumeRow, volume_id)
        assert row is not None
        return row.status, row.fault


def long_ago(payload: Mapping[str, Any]) -> dict[str, Any]:
    """A task's payload as a step sees it once EC2's reads had all the time to catch up."""
    since = utcnow() - timedelta(seconds=AWS_POLLING.settling_seconds + 1)
    return {**payload, "since": since.isoformat()}


def restarted(services: Services) -> None:
    """The gateway restarted: the aws driver's memory of what it created is gone."""
    storage = unwrapped(services.regions.backend(REGION).block_storage)
    assert isinstance(storage, AwsVolumes)
    storage._created.clear()


@pytest.mark.parametrize("restart", [False, True], ids=["same gateway", "restarted gateway"])
def test_the_create_task_waits_for_a_volume_ec2_does_not_describe_yet(
    region: tuple[Services, NotDescribedYet], restart: bool
) -> None:
    """Made lately is known from the create task's record too, not only from the memory of
    the process that made it (a restarted gateway)."""
    services, lag = region
    task = create_task(services)
    handler = services.volume.tasks.handlers()[task.kind]
    waiting = handler.run(task)  # creates it and looks at once: EC2 does not know it yet
    assert lag.refused
    assert waiting is not None and waiting.payload is not None
    assert waiting.seconds == AWS_POLLING.first_seconds  # EC2 is asked again, not hammered
    payload = dict(waiting.payload)
    if restart:
        restarted(services)
        again = handler.run(replace(task, payload=payload))
        assert again is not None and again.payload is not None  # looked at again, not gone
        payload = dict(again.payload)
    assert volume_row(services, task.resource_id)[0] == "creating"
    lag.unseen.clear()  # EC2 caught up
    assert handler.run(replace(task, payload=payload)) is None
    assert volume_row(services, task.resource_id) == ("available", None)


def test_the_create_task_of_a_volume_ec2_makes_at_once_is_done_in_its_first_step(
    region: tuple[Services, NotDescribedYet],
) -> None:
    services, lag = region
    lag.looks = 0  # EC2 describes it at once
    task = create_task(services)
    assert services.volume.tasks.handlers()[task.kind].run(task) is None
    assert volume_row(services, task.resource_id) == ("available", None)


def test_a_volume_ec2_never_describes_ends_in_error_with_ec2s_code(
    region: tuple[Services, NotDescribedYet], monkeypatch: pytest.MonkeyPatch
) -> None:
    services, _lag = region
    task = create_task(services)
    handler = services.volume.tasks.handlers()[task.kind]
    waiting = handler.run(task)
    assert waiting is not None and waiting.payload is not None
    monkeypatch.setattr(aws_volumes, "_SETTLING_SECONDS", 0.0)  # the window has passed
    with pytest.raises(NotFound) as gone:
        handler.run(replace(task, payload=long_ago(waiting.payload)))
    assert handler.on_failure is not None
    handler.on_failure(task, gone.value.message)  # as the task runner ends a failed task
    status, fault = volume_row(services, task.resource_id)
    assert status == "error" and fault is not None and "InvalidVolume.NotFound" in fault


class TokenHonouringEbs(EmulatorEc2):
    """EC2 as AWS documents ``CreateVolume``'s ``ClientToken`` (moto ignores it: a repeated
    token answers with the volume made first), while ``DescribeVolumes`` by tag does not list
    a new volume yet (eventual consistency)."""

    def __init__(self) -> None:
        super().__init__()
        self.tokens: dict[str, str] = {}

    def create_volume(self, **request: Any) -> Any:
        token = request.get("ClientToken")
        if token in self.tokens:
            return self.real.describe_volumes(VolumeIds=[self.tokens[token]])["Volumes"][0]
        made = self.real.create_volume(**request)
        if token:
            self.tokens[token] = made["VolumeId"]
        return made

    def describe_volumes(self, **request: Any) -> Any:
        if "Filters" in request:
            return {"Volumes": []}  # the tags are not searchable yet
        return self.real.describe_volumes(**request)


def test_a_create_step_run_again_by_a_replica_makes_no_second_volume() -> None:
    settings = AwsSettings.parse(REGION, aws_settings())
    lagging = TokenHonouringEbs()
    first, replica = (AwsVolumes(lagging, REGION, settings) for _ in range(2))
    spec = volume_spec()
    made = first.create_volume(spec)
    assert replica.create_volume(spec).ref == made.ref
    mine = [{"Name": "tag:interstack:gateway-id", "Values": [spec.gateway_id]}]
    assert [v["VolumeId"] for v in ec2().describe_volumes(Filters=mine)["Volumes"]] == [made.ref]


def test_a_volume_deleted_before_ec2_describes_it_is_deleted_once_it_does(
    region: tuple[Services, NotDescribedYet],
) -> None:
    """A volume deleted moments after its create, by a restarted gateway: not taken for gone
    (its row dropped, the volume left in EC2), but deleted once EC2 describes it."""
    services, lag = region
    create = create_task(services)
    waiting = services.volume.tasks.handlers()[create.kind].run(create)
    assert waiting is not None and waiting.payload is not None
    with services.db.session() as session:  # recorded as the runner records a step's outcome
        row = session.get(TaskRow, create.id)
        assert row is not None
        row.payload = dict(waiting.payload)
    restarted(services)
    admin = caller(PROJECT, "admin")
    services.volume.volumes.delete(admin, REGION, create.resource_id, force=True)
    (delete,) = [t for t in services.tasks.for_resource(create.resource_id) if t.id != create.id]
    delete = replace(delete, status=TaskStatus.RUNNING)
    handler = services.volume.tasks.handlers()[delete.kind]
    storage = unwrapped(services.regions.backend(REGION).block_storage)
    assert isinstance(storage, AwsVolumes)
    calls = Calls(storage.ec2)
    again = handler.run(delete)
    assert again is not None and again.payload is not None  # not gone: not described yet
    assert "DeleteVolume" not in calls.take()
    made = sorted(lag.unseen)
    lag.unseen.clear()  # EC2 caught up
    assert handler.run(replace(delete, payload=dict(again.payload))) is None
    (deleted,) = [p["VolumeId"] for p in calls.of("DeleteVolume")]
    assert deleted in made
    with pytest.raises(ClientError):
        ec2().describe_volumes(VolumeIds=[deleted])
