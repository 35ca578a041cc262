"""What a copy's create that failed lets go of: the preparations the backend made for it
(``BlockStorageDriver.prepare_volume``: EBS copies a volume through a snapshot of it), the
recorded one and any a step stopped before recording (the backend finds them by the copy's
tags)."""

from __future__ import annotations

import logging

from interstack.backends.contract import VolumeSpec
from interstack.errors import InterstackError
from interstack.services.regions import Regions
from interstack.services.tasks import Task

log = logging.getLogger(__name__)


class CopyPreparations:
    """Lets the preparations of a failed copy go."""

    def __init__(self, regions: Regions) -> None:
        self.regions = regions

    def discard(self, task: Task, spec: VolumeSpec) -> None:
        """Every preparation the backend made for the copy ``spec`` (its create ``task``
        failed) goes: nothing is left."""
        try:
            self.regions.backend(task.region).block_storage.discard_preparation(spec)
        except InterstackError as exc:
            log.warning("volume %s: its preparation stays: %s", task.resource_id, exc)
