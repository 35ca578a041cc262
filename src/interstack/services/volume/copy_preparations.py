"""What a copy's create that failed lets go of: the preparations the backend made for it
(``BlockStorageDriver.prepare_volume``: EBS copies a volume through a snapshot of it), the
recorded one and any a step stopped before recording (the backend finds them by the copy's
tags).

A backend whose reads lag (``Polling.settling_seconds``: EC2 lists a snapshot some time after
it is taken) may not list yet one a step took just before it stopped, when the failure is
handled: a ``volume.discard_preparation`` task looks for them again once the backend's reads
have caught up. Should that fail too, the warning says where the snapshot is to be found.
"""

from __future__ import annotations

import logging

from interstack.backends.contract import NativeRef, VolumeSpec
from interstack.errors import InterstackError
from interstack.services.regions import Regions
from interstack.services.tasks import RetryAfter, Task, TaskHandler, TaskQueue

log = logging.getLogger(__name__)

DISCARD_PREPARATION = "volume.discard_preparation"


class CopyPreparations:
    """Lets the preparations of a failed copy go, now and again once the backend lists them."""

    def __init__(self, regions: Regions, queue: TaskQueue) -> None:
        self.regions = regions
        self.queue = queue

    def handlers(self) -> dict[str, TaskHandler]:
        return {DISCARD_PREPARATION: TaskHandler(self._discard_step, self._left)}

    def discard(self, task: Task, spec: VolumeSpec) -> None:
        """Every preparation the backend made for the copy ``spec`` (its create ``task``
        failed) goes: nothing is left; on a backend whose reads lag, they are looked for
        again once its reads have caught up."""
        try:
            self.regions.backend(task.region).block_storage.discard_preparation(spec)
        except InterstackError as exc:
            log.warning("volume %s: its preparation stays: %s", task.resource_id, exc)
        settling = self.regions.backend(task.region).polling.settling_seconds
        if settling > 0 and spec.source_volume is not None:
            payload = {"source_ref": str(spec.source_volume)}
            self.queue.enqueue(
                DISCARD_PREPARATION, task.region, spec.gateway_id, payload, delay_seconds=settling
            )

    def _discard_step(self, task: Task) -> RetryAfter | None:
        spec = VolumeSpec(
            gateway_id=task.resource_id,
            name="",
            project_id="",
            size_gb=0,
            source_volume=NativeRef(str(task.payload["source_ref"])),
        )
        self.regions.backend(task.region).block_storage.discard_preparation(spec)
        return None

    def _left(self, task: Task, error: str) -> None:
        log.warning(
            "volume %s: a snapshot of volume %s taken for its copy may be left in region %s "
            "(%s): 'interstack cleanup --region %s --dry-run' lists it, by the copy's id as "
            "its gateway id; delete it in the cloud",
            task.resource_id,
            task.payload.get("source_ref"),
            task.region,
            error,
            task.region,
        )
