"""The task finishing an upload the backend answered not ready (its cloud still making its own
image of the bytes, an AMI): the image stays ``saving`` while the task asks the backend again,
then becomes ``active``; if the backend fails (or takes longer than it allows), whatever it
made is removed and the image is ``killed``, the reason in its ``interstack_upload_error``
property. While the task is pending or running, the image never counts as an abandoned upload
(``ImageDataService._claim``), however long it waits.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime

from sqlalchemy import update

from interstack.backends.contract import NativeRef
from interstack.services.image.data import FINISH_UPLOAD, ImageDataService
from interstack.services.image.model import ImageStatus
from interstack.services.image.records import now
from interstack.services.tasks import RetryAfter, Task, TaskHandler
from interstack.store.models import Image

log = logging.getLogger(__name__)

#: the longest pause between two looks at the backend (the first ones as it declares)
UPLOAD_POLL_SECONDS = 10.0
#: the image property that says why its upload was killed
ERROR_PROPERTY = "interstack_upload_error"


class UploadTasks:
    """The handler of :data:`FINISH_UPLOAD`, for the app's explicit handler table."""

    def __init__(self, data: ImageDataService) -> None:
        self.data = data
        self.db = data.db
        self.regions = data.regions

    def handlers(self) -> dict[str, TaskHandler]:
        return {FINISH_UPLOAD: TaskHandler(self.finish, self.failed)}

    def finish(self, task: Task) -> RetryAfter | None:
        """One look at the backend: active once its image is ready, else again later."""
        image_id, payload = task.resource_id, task.payload
        images = self.regions.backend(task.region).image
        ref = NativeRef(str(payload["ref"]))
        with self.db.session() as session:
            row = session.get(Image, image_id)
            saving = row is not None and row.status == ImageStatus.SAVING
        if not saving:  # deleted meanwhile: nothing is to become of the data
            images.abandon_uploaded_image(image_id, ref)
            return None
        waited = (now() - datetime.fromisoformat(str(payload["stored_at"]))).total_seconds()
        stored = images.finish_uploaded_image(image_id, ref, waited)
        if not stored.ready:
            looks = int(payload.get("looks", 0))
            next_look = {**payload, "ref": str(stored.ref), "looks": looks + 1}
            delay = self.regions.backend(task.region).polling.delay(looks, UPLOAD_POLL_SECONDS)
            return RetryAfter(delay, next_look)
        self.data.activate(
            task.region,
            image_id,
            replace(stored, size=int(payload["size"]), sha256=str(payload["sha256"])),
            checksum=str(payload["checksum"]),
            hash_algo=str(payload["hash_algo"]),
            hash_value=str(payload["hash_value"]),
        )
        return None

    def failed(self, task: Task, error: str) -> None:
        """Nothing is left of the upload, and the image says why it is ``killed``."""
        image_id = task.resource_id
        try:
            self.regions.backend(task.region).image.abandon_uploaded_image(
                image_id, NativeRef(str(task.payload["ref"]))
            )
        except Exception:
            log.exception("image %s: removing what its failed upload left", image_id)
        with self.db.session() as session:
            row = session.get(Image, image_id)
            if row is None or row.status != ImageStatus.SAVING:
                return
            session.execute(
                update(Image)
                .where(Image.id == image_id, Image.status == ImageStatus.SAVING)
                .values(
                    status=ImageStatus.KILLED,
                    properties={**row.properties, ERROR_PROPERTY: error[:255]},
                    updated_at=now(),
                )
            )
