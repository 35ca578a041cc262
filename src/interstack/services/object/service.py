"""The object storage facade the app builds once and the Swift API calls."""

from __future__ import annotations

import time
from collections.abc import Callable

from interstack.errors import InterstackError, NotFound
from interstack.services.object.access import Requester
from interstack.services.object.common import Storage
from interstack.services.object.containers import ContainerService
from interstack.services.object.model import BulkDeleteResult, Limits, ObjectPath
from interstack.services.object.objects import ObjectService
from interstack.services.object.reaper import ExpirySweeper
from interstack.services.object.tempurl import TempUrlService
from interstack.services.object.versioning import VersionedWrites
from interstack.services.regions import Regions
from interstack.store import Database


class ObjectStorage:
    def __init__(
        self,
        db: Database,
        regions: Regions,
        limits: Limits | None = None,
        clock: Callable[[], float] = time.time,
        sweep_seconds: float = 60.0,
    ) -> None:
        self.storage = Storage(db, regions, limits or Limits(), clock)
        self.containers = ContainerService(self.storage)
        self.objects = ObjectService(self.storage)
        self.objects.versions = VersionedWrites(self.objects)
        self.tempurl = TempUrlService(self.storage)
        self.sweeper = ExpirySweeper(self.storage, sweep_seconds)

    def start(self) -> None:
        """Start reaping expired objects in the background."""
        self.sweeper.start()

    def close(self) -> None:
        self.sweeper.stop()

    @property
    def limits(self) -> Limits:
        return self.storage.limits

    def bulk_delete(self, requester: Requester, targets: list[ObjectPath]) -> BulkDeleteResult:
        """Delete each object (or, for a bare ``/container``, the empty container); stops after
        ``max_failed_deletes`` failures, as Swift's bulk middleware does."""
        result = BulkDeleteResult()
        for path in targets:
            if len(result.errors) >= self.limits.max_failed_deletes:
                break
            if path.object:
                result = result.add(self.objects.delete_quietly(requester, path))
                continue
            try:
                self.containers.delete_container(requester, path)
            except NotFound:
                result = result.add(BulkDeleteResult(not_found=1))
            except InterstackError as exc:
                failure = (f"/{path.container}", f"{exc.status} {exc.title}")
                result = result.add(BulkDeleteResult(errors=[failure]))
            else:
                result = result.add(BulkDeleteResult(deleted=1))
        return result
