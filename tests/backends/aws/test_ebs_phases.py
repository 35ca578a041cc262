"""EBS attaches, detaches and snapshots a volume to copy it in seconds to hours: the attach,
detach and create tasks ask EC2 once (their first step, recorded before the next), then look
at the region's polling pace in later steps until EBS is done: no step waits for EBS, so none
holds its task's lease for minutes, and a step run again (a gateway restarted) does not ask
twice. moto is done at once; botocore hooks make it answer as EBS does meanwhile."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from interstack.backends.aws.client import AWS_POLLING
from interstack.backends.aws.native_ids import unwrapped
from interstack.backends.aws.volumes import AwsVolumes
from interstack.backends.contract import AttachState, NativeRef
from interstack.errors import BackendError, BadRequest, Conflict, InterstackError
from interstack.services.compute.records import InstanceAction
from interstack.services.container import Services
from interstack.services.tasks import RetryAfter, Task, TaskHandler, TaskStatus, utcnow
from interstack.services.volume.let_go import LET_GO
from interstack.services.volume.server_volumes import ATTACHMENT_WAIT_SECONDS
from interstack.services.volume.volume_tasks import DETACHING_WAIT_SECONDS
from interstack.services.volume.volumes import NewVolume
from interstack.store.models import Server as ServerRow
from interstack.store.models import Task as TaskRow
from interstack.store.models import Volume as VolumeRow
from interstack.store.models import VolumeAttachment as AttachmentRow
from tests.backends.aws.support import (
    PROJECT,
    REGION,
    Calls,
    aws_region_services,
    refusal,
    refuse_once,
    server_spec,
)
from tests.support.compute import add_server
from tests.support.image import caller


class EbsBusy:
    """EBS's view of an attachment for the ``looks`` describes after an ``AttachVolume`` /
    ``DetachVolume`` (as :attr:`planned` says): still ``attaching`` / ``detaching``, where the
    emulator is done already."""

    def __init__(self, client: Any) -> None:
        self.planned: dict[str, tuple[str, int]] = {}
        self.state, self.looks = "", 0
        self.seen: list[dict[str, Any]] = []  # the last attachment described
        events = client.meta.events
        events.register("after-call.ec2.DescribeVolumes", self._describe)
        for operation in ("AttachVolume", "DetachVolume"):
            events.register(f"after-call.ec2.{operation}", self._arm(operation))

    def _arm(self, operation: str) -> Any:
        def arm(**_kwargs: Any) -> None:
            if operation in self.planned:
                self.state, self.looks = self.planned.pop(operation)

        return arm

    def _describe(self, parsed: dict[str, Any], **_kwargs: Any) -> None:
        for volume in parsed.get("Volumes", []):
            if volume.get("Attachments"):
                self.seen = [dict(a) for a in volume["Attachments"]]
            if not self.looks or not self.seen:
                continue
            self.looks -= 1
            volume["Attachments"] = [{**a, "State": self.state} for a in self.seen]
            volume["State"] = "in-use"


@pytest.fixture
def region(tmp_path: Path) -> Iterator[tuple[Services, AwsVolumes, Calls, EbsBusy]]:
    with aws_region_services(tmp_path) as services:
        storage = unwrapped(services.regions.backend(REGION).block_storage)
        assert isinstance(storage, AwsVolumes)
        yield services, storage, Calls(storage.ec2), EbsBusy(storage.ec2)


def server_and_volume(services: Services) -> tuple[str, str]:
    """A server of the region (an instance in EC2) and an available volume of its project."""
    instance = services.regions.backend(REGION).compute.create_server(server_spec())
    server_id = add_server(services.db, PROJECT, 2, 512, "active", "t3.nano")
    with services.db.session() as session:
        row = session.get(ServerRow, server_id)
        assert row is not None
        row.region, row.native_ref = REGION, instance.ref
    volume = services.volume.volumes.create(caller(PROJECT), REGION, NewVolume(size=1, name="v"))
    (create,) = services.tasks.for_resource(volume.id)
    assert services.volume.tasks.handlers()[create.kind].run(create) is None  # made at once
    return server_id, volume.id


def task_of(services: Services, volume_id: str, kind: str) -> Task:
    """The attachment's ``kind`` task, as a worker holds it when it runs a step."""
    with services.db.session() as session:
        attachment = session.query(AttachmentRow).filter_by(volume_id=volume_id).one()
        attachment_id = attachment.id
    (task,) = [t for t in services.tasks.for_resource(attachment_id) if t.kind == kind]
    return replace(task, status=TaskStatus.RUNNING)


def statuses(services: Services, volume_id: str) -> tuple[str, str, str | None]:
    with services.db.session() as session:
        volume = session.get(VolumeRow, volume_id)
        attachment = session.query(AttachmentRow).filter_by(volume_id=volume_id).one()
        assert volume is not None
        return volume.status, attachment.status, attachment.mountpoint


def looked_again(outcome: RetryAfter | None, task: Task) -> Task:
    """The task as the step's outcome left it: to be run again, its payload recorded."""
    assert outcome is not None and outcome.payload is not None
    assert outcome.seconds <= AWS_POLLING.ceiling_seconds  # looked at again, not waited for
    return replace(task, payload=dict(outcome.payload))


def attach_asked(services: Services) -> tuple[str, str, Task]:
    """A server, a volume, and the task of the volume's attachment to it (asked for)."""
    server_id, volume_id = server_and_volume(services)
    services.volume.server_volumes.attach(caller(PROJECT), REGION, server_id, volume_id, None)
    return server_id, volume_id, task_of(services, volume_id, "volume.server_attach")


def test_an_attachment_ebs_is_still_making_is_looked_at_in_later_steps(
    region: tuple[Services, AwsVolumes, Calls, EbsBusy],
) -> None:
    services, storage, calls, ebs = region
    server_id, volume_id, task = attach_asked(services)
    handler = services.volume.server_volumes.handlers()[task.kind]
    calls.take()

    ebs.planned["AttachVolume"] = ("attaching", 4)
    waiting = looked_again(handler.run(task), task)  # asks EBS, which is attaching
    assert calls.take().count("AttachVolume") == 1
    assert statuses(services, volume_id)[:2] == ("attaching", "attaching")
    # the first step run again (its outcome never recorded: a gateway stopped) asks no more
    looked_again(handler.run(task), task)
    # a later step (after a restart: the payload recorded) only looks
    waiting = looked_again(handler.run(waiting), waiting)
    assert "AttachVolume" not in calls.take()
    assert handler.run(waiting) is None  # EBS has attached it
    assert statuses(services, volume_id) == ("in-use", "attached", "/dev/sdf")
    with services.db.session() as session:
        volume, server = session.get(VolumeRow, volume_id), session.get(ServerRow, server_id)
        assert volume is not None and server is not None
        refs = NativeRef(str(volume.native_ref)), NativeRef(str(server.native_ref))
    assert storage.attachment(*refs) is AttachState.ATTACHED


def test_a_detachment_ebs_is_still_making_is_looked_at_in_later_steps(
    region: tuple[Services, AwsVolumes, Calls, EbsBusy],
) -> None:
    services, _storage, calls, ebs = region
    server_id, volume_id, attach = attach_asked(services)
    handlers = services.volume.server_volumes.handlers()
    assert handlers[attach.kind].run(attach) is None  # the emulator attaches at once
    services.volume.server_volumes.detach(caller(PROJECT), REGION, server_id, volume_id)
    task = task_of(services, volume_id, "volume.server_detach")
    calls.take()

    ebs.planned["DetachVolume"] = ("detaching", 2)
    waiting = looked_again(handlers[task.kind].run(task), task)
    assert calls.take().count("DetachVolume") == 1
    assert statuses(services, volume_id)[:2] == ("detaching", "detaching")
    waiting = looked_again(handlers[task.kind].run(waiting), waiting)
    assert handlers[task.kind].run(waiting) is None
    assert "DetachVolume" not in calls.take()
    assert statuses(services, volume_id)[:2] == ("available", "detached")


def asked_before(task: Task, seconds: float) -> Task:
    """The task as if the backend had been asked ``seconds`` earlier (its recorded ``since``)."""
    since = datetime.fromisoformat(str(task.payload["since"])) - timedelta(seconds=seconds)
    return replace(task, payload={**task.payload, "since": since.isoformat()})


def failed_when_stuck(services: Services, task: Task) -> str:
    """The task's steps while EBS stays at it: looked at again within the bound, then, past
    it (as a restarted gateway counts too: since the recorded ask), failed; its failure is
    handled as the runner does. The failure's message."""
    handler = services.volume.server_volumes.handlers()[task.kind]
    waiting = looked_again(handler.run(task), task)
    waiting = looked_again(handler.run(waiting), waiting)  # within the bound: looked at again
    late = asked_before(waiting, ATTACHMENT_WAIT_SECONDS + 1)
    with pytest.raises(BackendError) as stuck:
        handler.run(late)
    assert handler.on_failure is not None
    handler.on_failure(late, stuck.value.message)
    return stuck.value.message


def last_action(services: Services, server_id: str) -> InstanceAction:
    """The server's newest ``os-instance-actions`` entry, as its project sees it."""
    return services.compute.server_metadata.actions(caller(PROJECT), REGION, server_id)[0]


def let_go_of(services: Services, volume_id: str) -> tuple[Task, TaskHandler]:
    """The task that has EBS let go of the volume whose attach was given up, and its handler."""
    (task,) = [t for t in services.tasks.for_resource(volume_id) if t.kind == LET_GO]
    return replace(task, status=TaskStatus.RUNNING), services.volume.server_volumes.handlers()[
        LET_GO
    ]


def let_go_waiting(services: Services, ebs: EbsBusy) -> tuple[str, str, Task, TaskHandler]:
    """An attach EBS never finishes, given up: the server, the volume, and its let-go after
    its first step (EBS still at it: asked to let go), with the let-go's handler."""
    server_id, volume_id, task = attach_asked(services)
    ebs.planned["AttachVolume"] = ("attaching", 1000)
    failed_when_stuck(services, task)
    let_go, handler = let_go_of(services, volume_id)
    return server_id, volume_id, looked_again(handler.run(let_go), let_go), handler


def ebs_state(storage: AwsVolumes, volume_id: str, services: Services) -> str:
    """The volume's state as EC2 describes it (``in-use`` while attached)."""
    ref = _ebs_id(services, volume_id)
    return str(storage.ec2.describe_volumes(VolumeIds=[ref])["Volumes"][0]["State"])


def test_an_attach_ebs_never_finishes_fails_in_minutes_leaving_the_volume_available(
    region: tuple[Services, AwsVolumes, Calls, EbsBusy],
) -> None:
    """EBS still attaching after ATTACHMENT_WAIT_SECONDS (a stuck attach): the attach fails
    then, not after the hundred minutes of MAX_POLLS looks, as Nova's failed attach ends: no
    attachment on the server, the server's attach_volume action in error saying what happened
    and what to do, and the volume detaching until EBS let go of it, then available."""
    services, _storage, calls, ebs = region
    server_id, volume_id, task = attach_asked(services)
    ebs.planned["AttachVolume"] = ("attaching", 1000)

    message = failed_when_stuck(services, task)

    assert f"has not attached volume {volume_id} to server {server_id}" in message
    assert "after 10 minutes (the attachment is still attaching)" in message
    assert "the volume is detaching until the backend has let go of it" in message
    ctx = caller(PROJECT)
    assert services.volume.volumes.get(ctx, REGION, volume_id).status == "detaching"
    assert services.volume.server_volumes.list(ctx, REGION, server_id) == []
    action = last_action(services, server_id)
    assert (action.action, action.message) == ("attach_volume", message)
    assert [(e["event"], e["result"]) for e in action.events] == [
        ("compute_attach_volume", "Error")
    ]
    calls.take()
    let_go, handler = let_go_of(services, volume_id)
    waiting = looked_again(handler.run(let_go), let_go)  # EBS still at it: asked to let go
    assert "DetachVolume" in calls.take()
    assert services.volume.volumes.get(ctx, REGION, volume_id).status == "detaching"
    ebs.looks = 0  # EBS let go
    assert handler.run(waiting) is None
    assert services.volume.volumes.get(ctx, REGION, volume_id).status == "available"


def test_a_stuck_attach_ebs_refuses_to_let_go_of_is_asked_again_until_it_does(
    region: tuple[Services, AwsVolumes, Calls, EbsBusy],
) -> None:
    """EBS refuses the first DetachVolume after the attach was given up (IncorrectState while
    it attaches): the refusal is asked again at the next look, and the volume is available
    only once EBS has let go of it (before, the refusal was only logged and the volume shown
    available while EBS held it attached)."""
    services, storage, _calls, ebs = region
    _server_id, volume_id, task = attach_asked(services)
    ebs.planned["AttachVolume"] = ("attaching", 1000)
    failed_when_stuck(services, task)
    ebs.looks = 0  # EBS shows what it holds: the volume attached after all
    refused = refuse_once(
        storage.ec2, "DetachVolume", "IncorrectState", "the volume is attaching", 400
    )
    let_go, handler = let_go_of(services, volume_id)

    waiting = looked_again(handler.run(let_go), let_go)
    assert refused == ["DetachVolume"]
    ctx = caller(PROJECT)
    assert services.volume.volumes.get(ctx, REGION, volume_id).status == "detaching"
    assert ebs_state(storage, volume_id, services) == "in-use"
    waiting = looked_again(handler.run(waiting), waiting)  # asked again: EBS lets go
    assert handler.run(waiting) is None
    assert services.volume.volumes.get(ctx, REGION, volume_id).status == "available"
    assert ebs_state(storage, volume_id, services) == "available"


def test_a_volume_ebs_never_lets_go_of_is_error_detaching_as_on_cinder(
    region: tuple[Services, AwsVolumes, Calls, EbsBusy],
) -> None:
    """EBS still attaching ATTACHMENT_WAIT_SECONDS after the let-go began: the task fails and
    the volume is ``error_detaching``, as Cinder's is when its driver fails to detach it (before:
    ``error``, which its owner could delete while EBS held it), its fault saying why and what
    an administrator can do. As on Cinder: no attachment shown, its owner's delete refused
    (400), an administrator's reset of its status to ``available`` taken once EBS let go."""
    services, _storage, _calls, ebs = region
    server_id, volume_id, waiting, handler = let_go_waiting(services, ebs)
    late = asked_before(waiting, ATTACHMENT_WAIT_SECONDS + 1)
    with pytest.raises(BackendError) as stuck:
        handler.run(late)
    assert handler.on_failure is not None
    handler.on_failure(late, stuck.value.message)
    ctx = caller(PROJECT)
    volume = services.volume.volumes.get(ctx, REGION, volume_id)
    assert (volume.status, volume.attachments) == ("error_detaching", ())
    assert services.volume.server_volumes.list(ctx, REGION, server_id) == []
    assert f"has not let go of volume {volume_id}" in stuck.value.message
    assert "reset its status to available" in stuck.value.message
    with pytest.raises(BadRequest) as refused:
        services.volume.volumes.delete(ctx, REGION, volume_id)
    assert "status must be" in refused.value.message and "error_detaching" in refused.value.message

    # the administrator's reset once EBS let go: the volume its owner's again, to delete
    admin = caller(PROJECT, "admin")
    services.volume.actions.reset_status(admin, REGION, volume_id, "available", None)
    assert services.volume.volumes.get(ctx, REGION, volume_id).status == "available"
    services.volume.volumes.delete(ctx, REGION, volume_id)


def test_a_let_go_after_an_administrators_reset_ends_at_its_next_step_asking_ebs_nothing(
    region: tuple[Services, AwsVolumes, Calls, EbsBusy],
) -> None:
    """An administrator resets the detaching volume (to ``available``) while the let-go waits
    for EBS: its next step ends the task without asking EBS (before: it kept looking and
    asking EBS to detach, until its bound ran out), and the reset status stays."""
    services, _storage, calls, ebs = region
    _server_id, volume_id, waiting, handler = let_go_waiting(services, ebs)
    admin = caller(PROJECT, "admin")
    services.volume.actions.reset_status(admin, REGION, volume_id, "available", None)
    calls.take()

    assert handler.run(waiting) is None
    assert calls.take() == []
    ctx = caller(PROJECT)
    assert services.volume.volumes.get(ctx, REGION, volume_id).status == "available"


def _ebs_id(services: Services, volume_id: str) -> str:
    with services.db.session() as session:
        volume = session.get(VolumeRow, volume_id)
        assert volume is not None
        return str(volume.native_ref)


def test_an_attach_given_up_with_no_instance_left_to_let_go_leaves_the_volume_available(
    region: tuple[Services, AwsVolumes, Calls, EbsBusy],
) -> None:
    """An attach given up whose server has no instance any more (its ref forgotten): nothing
    for EBS to let go of, the volume is available at once (the failure's handling raised,
    and the volume stayed attaching for good)."""
    services, _storage, _calls, ebs = region
    server_id, volume_id, task = attach_asked(services)
    ebs.planned["AttachVolume"] = ("attaching", 1000)
    handler = services.volume.server_volumes.handlers()[task.kind]
    waiting = looked_again(handler.run(task), task)
    with services.db.session() as session:
        server = session.get(ServerRow, server_id)
        assert server is not None
        server.native_ref = None
    assert handler.on_failure is not None
    handler.on_failure(waiting, "given up")
    assert services.volume.volumes.get(caller(PROJECT), REGION, volume_id).status == "available"
    assert [t.kind for t in services.tasks.for_resource(volume_id) if t.kind == LET_GO] == []


def test_a_detach_ebs_never_finishes_fails_in_minutes_leaving_the_volume_attached(
    region: tuple[Services, AwsVolumes, Calls, EbsBusy],
) -> None:
    """EBS still detaching after ATTACHMENT_WAIT_SECONDS (a guest holding the device): the
    detach fails then, as Nova rolls a failed detach back: the volume attached and in-use,
    the server's detach_volume action in error saying what to do."""
    services, _storage, _calls, ebs = region
    server_id, volume_id, attach = attach_asked(services)
    assert services.volume.server_volumes.handlers()[attach.kind].run(attach) is None
    assert last_action(services, server_id).events[0]["result"] == "Success"
    services.volume.server_volumes.detach(caller(PROJECT), REGION, server_id, volume_id)
    ebs.planned["DetachVolume"] = ("detaching", 1000)

    message = failed_when_stuck(services, task_of(services, volume_id, "volume.server_detach"))

    assert f"has not detached volume {volume_id} from server {server_id}" in message
    assert "unmount it in the server" in message
    assert statuses(services, volume_id) == ("in-use", "attached", "/dev/sdf")
    action = last_action(services, server_id)
    assert (action.action, action.message) == ("detach_volume", message)
    assert [(e["event"], e["result"]) for e in action.events] == [
        ("compute_detach_volume", "Error")
    ]


def copy_asked(services: Services) -> tuple[str, Task]:
    """A copy of a new volume of the region, asked for, and its create task as a worker holds
    it."""
    _server_id, source_id = server_and_volume(services)
    copy = services.volume.volumes.create(
        caller(PROJECT), REGION, NewVolume(size=1, name="copy", source_volid=source_id)
    )
    (task,) = services.tasks.for_resource(copy.id)
    return copy.id, replace(task, status=TaskStatus.RUNNING)


def copy_snapshots(storage: AwsVolumes, copy_id: str) -> list[Any]:
    """The snapshots EC2 lists as taken for the copy (by its gateway id tag)."""
    found: list[Any] = storage.ec2.describe_snapshots(
        OwnerIds=["self"], Filters=[{"Name": "tag:interstack:gateway-id", "Values": [copy_id]}]
    )["Snapshots"]
    return found


def test_a_copy_waits_for_its_snapshot_in_later_steps(
    region: tuple[Services, AwsVolumes, Calls, EbsBusy],
) -> None:
    services, storage, calls, _ebs = region
    copy_id, task = copy_asked(services)
    pending = {"looks": 4}  # the looks at it (a lookup by tags among them)

    def still_pending(parsed: dict[str, Any], **_kwargs: Any) -> None:
        for snapshot in parsed.get("Snapshots", []):
            if pending["looks"]:
                pending["looks"] -= 1
                snapshot["State"] = "pending"  # EBS is still copying the source's blocks

    storage.ec2.meta.events.register("after-call.ec2.DescribeSnapshots", still_pending)
    handler = services.volume.tasks.handlers()[task.kind]
    calls.take()

    waiting = looked_again(handler.run(task), task)  # starts the snapshot: still pending
    assert calls.take().count("CreateSnapshot") == 1
    looked_again(handler.run(task), task)  # the first step run again: the same snapshot
    waiting = looked_again(handler.run(waiting), waiting)
    assert "CreateSnapshot" not in calls.take()
    handler.run(waiting)  # the snapshot is complete: the copy is made from it, and it goes
    made = calls.take()
    assert made.count("CreateVolume") == 1 and made.count("DeleteSnapshot") == 1
    with services.db.session() as session:
        row = session.get(VolumeRow, copy_id)
        assert row is not None and row.native_ref is not None
    assert copy_snapshots(storage, copy_id) == []


def delete_of_volume_ebs_holds(
    services: Services, storage: AwsVolumes
) -> tuple[str, tuple[NativeRef, NativeRef], Task]:
    """A volume EBS holds on a server while the store has no attachment of it (a failed
    boot's or a deleted server's volume), its refs, and its delete task (asked for)."""
    server_id, volume_id = server_and_volume(services)
    with services.db.session() as session:
        volume, server = session.get(VolumeRow, volume_id), session.get(ServerRow, server_id)
        assert volume is not None and server is not None
        refs = NativeRef(str(volume.native_ref)), NativeRef(str(server.native_ref))
    storage.attach_volume(*refs)  # EBS holds it; the store has no attachment of it
    services.volume.volumes.delete(caller(PROJECT), REGION, volume_id)
    (task,) = [t for t in services.tasks.for_resource(volume_id) if t.kind == "volume.delete"]
    return volume_id, refs, replace(task, status=TaskStatus.RUNNING)


def test_a_volume_ebs_still_detaches_is_deleted_once_it_has(
    region: tuple[Services, AwsVolumes, Calls, EbsBusy],
) -> None:
    """The store let the volume go from a server while EBS still detaches it: its delete
    looks again instead of failing."""
    services, storage, calls, _ebs = region
    volume_id, refs, task = delete_of_volume_ebs_holds(services, storage)
    handler = services.volume.tasks.handlers()[task.kind]
    waiting = looked_again(handler.run(task), task)
    storage.detach_volume(*refs)  # EBS is done
    calls.take()
    assert handler.run(waiting) is None
    assert "DeleteVolume" in calls.take()
    with services.db.session() as session:
        assert session.get(VolumeRow, volume_id) is None


def test_a_volume_ebs_never_detaches_fails_its_delete_in_minutes_saying_why(
    region: tuple[Services, AwsVolumes, Calls, EbsBusy],
) -> None:
    """EBS still detaching the volume after the delete's bound (a stuck detach): the delete
    fails then, with a fault that says why and what to do, instead of looking again for the
    hundred minutes of MAX_POLLS looks; until then it looks again."""
    services, storage, _calls, _ebs = region
    volume_id, _refs, task = delete_of_volume_ebs_holds(services, storage)
    handler = services.volume.tasks.handlers()[task.kind]
    waiting = looked_again(handler.run(task), task)
    waiting = looked_again(handler.run(waiting), waiting)  # within the bound: looked at again
    since = utcnow() - timedelta(seconds=DETACHING_WAIT_SECONDS + 1)
    late = replace(waiting, payload={**waiting.payload, "detaching_since": since.isoformat()})
    with pytest.raises(Conflict) as stuck:
        handler.run(late)
    assert handler.on_failure is not None
    handler.on_failure(late, stuck.value.message)
    with services.db.session() as session:
        row = session.get(VolumeRow, volume_id)
        assert row is not None and row.status == "error_deleting"
        assert row.fault is not None and "still not detached" in row.fault
        assert "os-force_delete" in row.fault


def test_an_attach_run_again_that_ec2_refuses_as_in_use_finds_its_own_attachment(
    region: tuple[Services, AwsVolumes, Calls, EbsBusy],
) -> None:
    """The first step attached the volume and stopped before its payload was recorded; at the
    step run again EC2 describes the volume unattached still (it lags) and refuses the second
    attach as VolumeInUse: the attachment is the one asked for, not a failed task."""
    services, storage, _calls, _ebs = region
    _server_id, volume_id, task = attach_asked(services)
    handler = services.volume.server_volumes.handlers()[task.kind]
    handler.run(task)  # the first step: EBS has attached it (the emulator at once)
    lagging, refused = {"looks": 1}, []

    def unattached(parsed: dict[str, Any], **_kwargs: Any) -> None:
        for volume in parsed.get("Volumes", []):
            if lagging["looks"]:
                lagging["looks"] -= 1
                volume["Attachments"], volume["State"] = [], "available"

    def in_use(**_kwargs: Any) -> Any:
        refused.append("AttachVolume")
        return refusal("VolumeInUse", "already attached to an instance")

    storage.ec2.meta.events.register("after-call.ec2.DescribeVolumes", unattached)
    storage.ec2.meta.events.register("before-call.ec2.AttachVolume", in_use)
    assert handler.run(task) is None  # the step run again
    assert refused == ["AttachVolume"]  # asked again, and refused
    assert statuses(services, volume_id) == ("in-use", "attached", "/dev/sdf")


def test_a_copy_whose_step_run_again_took_a_second_snapshot_leaves_neither(
    region: tuple[Services, AwsVolumes, Calls, EbsBusy],
) -> None:
    """The first step started the copy's snapshot and stopped before recording it; the step
    run again (another replica: nothing remembered) does not see it listed yet and starts a
    second (EC2's CreateSnapshot takes no ClientToken). Once the copy is made, both go."""
    services, storage, calls, _ebs = region
    copy_id, task = copy_asked(services)
    handler = services.volume.tasks.handlers()[task.kind]
    pending = {"looks": 1}  # the first step's look: the snapshot is not complete yet
    lagging = {"looks": 0}

    def lag(parsed: dict[str, Any], **_kwargs: Any) -> None:
        if lagging["looks"]:
            lagging["looks"] -= 1
            parsed["Snapshots"] = []  # EC2 does not list the first snapshot yet
            return
        for snapshot in parsed.get("Snapshots", []):
            if pending["looks"]:
                pending["looks"] -= 1
                snapshot["State"] = "pending"

    storage.ec2.meta.events.register("after-call.ec2.DescribeSnapshots", lag)
    looked_again(handler.run(task), task)  # the first step: its outcome never recorded
    storage._created.clear()  # the step is run again elsewhere
    lagging["looks"] = 1
    calls.take()
    assert handler.run(task) is None  # the second snapshot is complete at once: the copy made
    made = calls.take()
    assert made.count("CreateSnapshot") == 1 and made.count("CreateVolume") == 1
    assert copy_snapshots(storage, copy_id) == []


def test_a_copy_that_failed_before_recording_its_snapshot_leaves_none(
    region: tuple[Services, AwsVolumes, Calls, EbsBusy],
) -> None:
    """The copy's first step took the snapshot and failed before its task recorded it (EC2
    refused the look at it): the task ends failed with the payload it had, naming no snapshot,
    and its failure is handled by a gateway that does not remember it (restarted). The
    snapshot goes all the same, found by the copy's tags."""
    services, storage, calls, _ebs = region
    copy_id, task = copy_asked(services)
    handler = services.volume.tasks.handlers()[task.kind]
    refused: list[str] = []

    def refuse_the_look(params: dict[str, Any], **_kwargs: Any) -> Any:
        if refused or "SnapshotId.1" not in params.get("body", {}):
            return None  # the lookups by tags before the snapshot is taken are answered
        refused.append("DescribeSnapshots")
        return refusal("UnauthorizedOperation", "refused", 403)

    storage.ec2.meta.events.register("before-call.ec2.DescribeSnapshots", refuse_the_look)
    calls.take()
    with pytest.raises(InterstackError) as failed:
        handler.run(task)
    assert calls.take().count("CreateSnapshot") == 1 and refused == ["DescribeSnapshots"]
    storage._created.clear()  # the gateway that handles the failure does not remember it
    assert handler.on_failure is not None
    handler.on_failure(task, failed.value.message)
    assert copy_snapshots(storage, copy_id) == []
    with services.db.session() as session:
        row = session.get(VolumeRow, copy_id)
        assert row is not None and row.status == "error"


def test_a_copy_snapshot_ec2_does_not_list_yet_when_the_copy_fails_goes_once_it_does(
    region: tuple[Services, AwsVolumes, Calls, EbsBusy],
) -> None:
    """As above, but when the failure is handled EC2 neither lists the snapshot by the copy's
    tags yet (it lags) nor does the gateway remember it: it is left then. The failure's
    handling looks again once EC2's reads have caught up (a task due after the region's
    settling time), and then it goes."""
    services, storage, _calls, _ebs = region
    copy_id, task = copy_asked(services)
    handler = services.volume.tasks.handlers()[task.kind]
    refused: list[str] = []
    lagging = {"looks": 0}

    def refuse_the_look(params: dict[str, Any], **_kwargs: Any) -> Any:
        if refused or "SnapshotId.1" not in params.get("body", {}):
            return None
        refused.append("DescribeSnapshots")
        return refusal("UnauthorizedOperation", "refused", 403)

    def lag(parsed: dict[str, Any], **_kwargs: Any) -> None:
        if lagging["looks"]:
            lagging["looks"] -= 1
            parsed["Snapshots"] = []  # EC2 does not list the snapshot yet

    storage.ec2.meta.events.register("before-call.ec2.DescribeSnapshots", refuse_the_look)
    storage.ec2.meta.events.register("after-call.ec2.DescribeSnapshots", lag)
    with pytest.raises(InterstackError) as failed:
        handler.run(task)
    storage._created.clear()  # the gateway that handles the failure does not remember it
    lagging["looks"] = 1  # the failure's look by the copy's tags
    assert handler.on_failure is not None
    handler.on_failure(task, failed.value.message)
    assert len(copy_snapshots(storage, copy_id)) == 1  # left, for now

    (again,) = [t for t in services.tasks.for_resource(copy_id) if t.kind != task.kind]
    with services.db.session() as session:
        row = session.get(TaskRow, again.id)
        assert row is not None  # due once EC2's reads have caught up
        assert row.run_after - row.created_at == timedelta(seconds=AWS_POLLING.settling_seconds)
    assert services.volume.tasks.handlers()[again.kind].run(again) is None
    assert copy_snapshots(storage, copy_id) == []
