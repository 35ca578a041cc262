"""EC2's describes are eventually consistent: an instance launched moments ago that
``describe_instances`` does not know yet is still building, not gone (the task runner looks at
a new server within milliseconds). The boot task records when it launched the instance, so a
gateway restarted meanwhile (nothing of the boot in its memory) knows it too. One that EC2
still does not know after the window, or that this gateway never launched, is gone with EC2's
code in the fault.

moto describes every instance at once; a botocore hook answers as EC2 may meanwhile."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from interstack.backends.aws.client import AWS_POLLING
from interstack.backends.aws.compute import AwsCompute
from interstack.backends.aws.native_ids import unwrapped
from interstack.backends.contract import NativeRef
from interstack.errors import NotFound
from interstack.services.compute.server_tasks import BOOT, DELETE
from interstack.services.container import Services
from interstack.services.tasks import RetryAfter, Task, TaskStatus, utcnow
from interstack.store.models import Server as ServerRow
from interstack.store.models import Task as TaskRow
from tests.backends.aws.support import PROJECT, REGION, aws_region_services, refusal
from tests.support.compute import add_server, running_task


class NotDescribedYet:
    """EC2 answering ``describe_instances`` by id with ``InvalidInstanceID.NotFound`` for the
    instances in :attr:`unseen` (every instance launched while :attr:`lagging`)."""

    def __init__(self, client: Any) -> None:
        self.unseen: set[str] = set()
        self.lagging = True
        events = client.meta.events
        events.register("after-call.ec2.RunInstances", self._launched)
        events.register("before-call.ec2.DescribeInstances", self._describe)

    def _launched(self, parsed: dict[str, Any], **_kwargs: Any) -> None:
        if self.lagging:
            self.unseen |= {str(i["InstanceId"]) for i in parsed.get("Instances", [])}

    def _describe(self, params: dict[str, Any], **_kwargs: Any) -> Any:
        if params.get("body", {}).get("InstanceId.1") in self.unseen:
            return refusal("InvalidInstanceID.NotFound", "The instance ID does not exist")
        return None


@pytest.fixture
def region(tmp_path: Path) -> Iterator[tuple[Services, AwsCompute, NotDescribedYet]]:
    with aws_region_services(tmp_path) as services:
        compute = unwrapped(services.regions.backend(REGION).compute)
        assert isinstance(compute, AwsCompute)
        yield services, compute, NotDescribedYet(compute.ec2)


def boot_task(services: Services) -> Task:
    """A new server of the region, and its boot task as a worker holds it."""
    server_id = add_server(services.db, PROJECT, 2, 512, "building", "t3.nano")
    with services.db.session() as session:
        row = session.get(ServerRow, server_id)
        assert row is not None
        row.region = REGION
    services.tasks.enqueue(BOOT, REGION, server_id)
    (task,) = services.tasks.for_resource(server_id)
    return replace(task, status=TaskStatus.RUNNING)


def recorded(services: Services, task: Task) -> Task:
    """The task with its payload recorded, as the runner records a step's outcome."""
    with services.db.session() as session:
        row = session.get(TaskRow, task.id)
        assert row is not None
        row.payload = dict(task.payload)
    return task


def looked_again(outcome: RetryAfter | None, task: Task) -> Task:
    assert outcome is not None and outcome.payload is not None
    return replace(task, payload=dict(outcome.payload))


def vm_state(services: Services, server_id: str) -> tuple[str, str | None]:
    with services.db.session() as session:
        row = session.get(ServerRow, server_id)
        assert row is not None
        return row.vm_state, row.native_ref


@pytest.mark.parametrize("restart", [False, True], ids=["same gateway", "restarted gateway"])
def test_a_just_launched_instance_ec2_does_not_describe_yet_is_building(
    region: tuple[Services, AwsCompute, NotDescribedYet], restart: bool
) -> None:
    services, compute, ec2 = region
    task = boot_task(services)
    boot = services.compute.server_tasks.boot
    waiting = looked_again(boot(task), task)  # launched; EC2 does not describe it yet
    assert ec2.unseen and waiting.payload["phase"] == "wait"
    if restart:
        compute._launched.clear()  # a new gateway process: nothing of the boot remembered
    waiting = looked_again(boot(waiting), waiting)  # still not described: still building
    assert vm_state(services, task.resource_id)[0] == "building"
    ec2.unseen.clear()  # EC2 caught up
    assert boot(waiting) is None
    state, ref = vm_state(services, task.resource_id)
    assert state == "active" and ref is not None
    compute.delete_server(NativeRef(ref))


def test_one_ec2_still_does_not_describe_after_the_window_fails_the_boot_with_ec2s_code(
    region: tuple[Services, AwsCompute, NotDescribedYet],
) -> None:
    services, _compute, _ec2 = region
    task = boot_task(services)
    boot = services.compute.server_tasks.boot
    waiting = looked_again(boot(task), task)
    long_ago = utcnow() - timedelta(seconds=AWS_POLLING.settling_seconds + 1)
    late = replace(waiting, payload={**waiting.payload, "launched": long_ago.isoformat()})
    with pytest.raises(NotFound) as gone:
        boot(late)
    assert "InvalidInstanceID.NotFound" in gone.value.message  # EC2's code, for the fault


def test_an_instance_not_launched_here_that_ec2_does_not_know_is_gone(
    region: tuple[Services, AwsCompute, NotDescribedYet],
) -> None:
    _services, compute, ec2 = region
    ec2.unseen.add("i-0123456789abcdef0")
    with pytest.raises(NotFound) as gone:
        compute.get_server(NativeRef("i-0123456789abcdef0"))
    assert "InvalidInstanceID.NotFound" in gone.value.message  # EC2's code, for the fault


def test_a_server_a_restarted_gateway_deletes_before_ec2_describes_it_is_terminated(
    region: tuple[Services, AwsCompute, NotDescribedYet],
) -> None:
    """Deleted right after a restart, before EC2 describes its instance: the delete finds
    nothing to terminate then, and it does not take that for gone (the instance would run on,
    its server deleted); it looks again and terminates the instance once EC2 shows it."""
    services, compute, ec2 = region
    boot = services.compute.server_tasks.boot
    task = boot_task(services)
    recorded(services, looked_again(boot(task), task))  # launched; not described yet
    compute._launched.clear()  # a new gateway process
    delete = replace(running_task(DELETE, task.resource_id), region=REGION)
    handler = services.compute.server_tasks.delete
    delete = looked_again(handler(delete), delete)  # nothing shown to terminate yet
    assert vm_state(services, task.resource_id)[0] == "building"  # not deleted
    (instance,) = ec2.unseen
    ec2.unseen.clear()  # EC2 caught up
    for _ in range(5):  # shown at last: deleted again, then looked at until gone
        outcome = handler(delete)
        if outcome is None:
            break
        delete = looked_again(outcome, delete)
    described = compute.ec2.describe_instances(InstanceIds=[instance])["Reservations"]
    assert described[0]["Instances"][0]["State"]["Name"] == "terminated"
    assert vm_state(services, task.resource_id)[0] == "deleted"
