"""An upload the backend answers not ready (an AMI EC2 is still making) is finished by a task:
the PUT's answer leaves the image ``saving``; the task's looks make it ``active`` with the
backend's final ref and the uploaded bytes' checksums, or ``killed`` with the reason in a
property and what the backend made removed; an image deleted meanwhile gets nothing.
The region's image driver is replaced by one that answers as such a backend does."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

import pytest

from interstack.backends.contract import ImageInfo, NativeRef
from interstack.errors import BackendError, Conflict
from interstack.services.container import Services
from interstack.services.image.data import FINISH_UPLOAD, STALE_UPLOAD
from interstack.services.image.model import ImageInfo as GlanceImage
from interstack.services.image.model import ImageStatus, NewImage
from interstack.services.image.records import now
from interstack.services.image.upload_tasks import ERROR_PROPERTY, UploadTasks
from interstack.services.task_runner import TaskRunner
from interstack.services.tasks import TaskStatus
from interstack.store.models import Image
from tests.support.image import REGION, caller

OWNER = caller("owner")
FORMATS = NewImage(container_format="bare", disk_format="raw")
DATA = [b"a disk ", b"image"]


class LaterImages:
    """An image driver whose cloud makes its image after the upload: ``looks`` answers of
    "not yet" (each with a new ref), then ready, or ``failure`` raised at the first look."""

    def __init__(self, looks: int = 1, failure: Exception | None = None) -> None:
        self.looks = looks
        self.failure = failure
        self.asked: list[str] = []
        self.abandoned: list[tuple[str, str]] = []

    def store_uploaded_image(
        self, gateway_id: str, data: Iterable[bytes], *_formats: Any, **_declared: Any
    ) -> ImageInfo:
        size = sum(len(chunk) for chunk in data)
        return ImageInfo(NativeRef("pending-0"), gateway_id, size, "sha", ready=False)

    def finish_uploaded_image(
        self, gateway_id: str, ref: NativeRef, waited_seconds: float
    ) -> ImageInfo:
        self.asked.append(str(ref))
        if self.failure is not None:
            raise self.failure
        if len(self.asked) <= self.looks:
            return ImageInfo(NativeRef(f"pending-{len(self.asked)}"), gateway_id, 0, "", False)
        return ImageInfo(NativeRef("final"), gateway_id, 0, "")

    def abandon_uploaded_image(self, gateway_id: str, ref: NativeRef) -> None:
        self.abandoned.append((gateway_id, str(ref)))


def upload_to(
    services: Services, monkeypatch: pytest.MonkeyPatch, driver: LaterImages
) -> GlanceImage:
    """A new image's data uploaded with ``driver`` answering for the region's image driver:
    the PUT's answer."""
    backend = services.regions.backend(REGION).image
    for name in ("store_uploaded_image", "finish_uploaded_image", "abandon_uploaded_image"):
        monkeypatch.setattr(backend, name, getattr(driver, name))
    image = services.images.create(OWNER, REGION, FORMATS)
    return services.image_data.upload(OWNER, REGION, image.id, DATA)


def run_tasks(services: Services, image_id: str) -> None:
    """Run the image's task to its end, as the gateway's runner does."""
    runner = TaskRunner(services.db, UploadTasks(services.image_data).handlers())
    for _ in range(50):
        (task,) = services.tasks.for_resource(image_id)
        if task.status in (TaskStatus.SUCCEEDED, TaskStatus.FAILED):
            return
        if not runner.run_one():
            time.sleep(0.02)  # the next look is not due yet
    raise AssertionError("the upload's task did not end")


def row_of(services: Services, image_id: str) -> Image:
    with services.db.session() as session:
        row = session.get(Image, image_id)
        assert row is not None
        session.expunge(row)
        return row


def test_the_upload_answers_saving_and_the_task_makes_it_active(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    driver = LaterImages(looks=2)
    image = upload_to(services, monkeypatch, driver)
    assert image.status == ImageStatus.SAVING
    (task,) = services.tasks.for_resource(image.id)
    assert task.kind == FINISH_UPLOAD
    run_tasks(services, image.id)
    assert driver.asked == ["pending-0", "pending-1", "pending-2"]
    row = row_of(services, image.id)
    assert (row.status, row.native_ref, row.size) == (ImageStatus.ACTIVE, "final", 12)
    assert row.checksum == hashlib.md5(b"".join(DATA), usedforsecurity=False).hexdigest()


def test_a_backend_failure_kills_the_image_with_the_reason_and_leaves_nothing(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    driver = LaterImages(failure=BackendError("EBS snapshot snap-1 failed: no space"))
    image = upload_to(services, monkeypatch, driver)
    run_tasks(services, image.id)
    row = row_of(services, image.id)
    assert row.status == ImageStatus.KILLED and row.native_ref is None
    assert "no space" in row.properties[ERROR_PROPERTY]
    assert driver.abandoned == [(image.id, "pending-0")]


def test_an_image_deleted_while_saving_gets_nothing(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    driver = LaterImages()
    image = upload_to(services, monkeypatch, driver)
    services.images.delete(OWNER, REGION, image.id)
    run_tasks(services, image.id)
    assert driver.asked == []
    assert driver.abandoned == [(image.id, "pending-0")]


def test_an_upload_a_task_still_finishes_is_not_claimed_by_a_new_one(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    driver = LaterImages()
    image = upload_to(services, monkeypatch, driver)
    # the gateway was down longer than an abandoned upload waits: the task has not looked yet
    with services.db.session() as session:
        session.get_one(Image, image.id).updated_at = now() - STALE_UPLOAD - timedelta(minutes=1)
    with pytest.raises(Conflict, match="from saving to saving"):
        services.image_data.upload(OWNER, REGION, image.id, [b"other data"])
    run_tasks(services, image.id)
    row = row_of(services, image.id)
    assert (row.status, row.native_ref, row.size) == (ImageStatus.ACTIVE, "final", 12)
    assert row.checksum == hashlib.md5(b"".join(DATA), usedforsecurity=False).hexdigest()
    assert driver.abandoned == []
