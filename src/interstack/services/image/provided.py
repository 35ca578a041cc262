"""Images a cloud brings itself (the local backend's ``debian-12``, AWS's AMIs), listed in Glance.

At start-up each region's provided images get a public, ``active`` Glance image owned by the
admin project whose data is the backend's own (``native_ref``); the backend builds or fetches
the bytes on first use, so size and checksums stay empty as Glance shows them for an image it
has not measured. An image already registered for the same data is left as it is. This does
not depend on the ``images`` capability, which is about uploading and downloading image data
(a cloud may bring images it cannot hand out, such as AWS's AMIs).

A cloud whose catalogue changes while the gateway runs (an AMI registered or deregistered)
names how stale its list may get (``provided_images_refresh_seconds``): an image listing of
that region reads it again once the last read is older, registers what is new and removes the
Glance images of what the cloud no longer provides. Only images registered here carry the
``interstack_provided`` property, so nothing else (an uploaded image, a server snapshot) is
ever removed that way.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid

from sqlalchemy import select

from interstack.backends.contract import ProvidedImage
from interstack.services.image.model import ImageStatus, Visibility
from interstack.services.image.records import now
from interstack.services.regions import Regions
from interstack.store import Database
from interstack.store.models import Image

log = logging.getLogger(__name__)

#: the property that marks a Glance image as registered for a provided image
PROVIDED_PROPERTY = "interstack_provided"


class ProvidedImages:
    def __init__(self, db: Database, regions: Regions, admin_project_id: str) -> None:
        self.db = db
        self.regions = regions
        self.admin_project_id = admin_project_id
        self._read_at: dict[str, float] = {}
        self._reading: dict[str, threading.Lock] = {
            name: threading.Lock() for name in regions.names
        }

    def ensure(self) -> None:
        """Register every region's provided images that are not in Glance yet."""
        for region in self.regions.names:
            self._sync(region, self.regions.backend(region).image.provided_images(), prune=False)

    def refresh(self, region: str) -> None:
        """Read the region's provided images again if its backend wants that and the last
        read is old enough. Never blocks on another listing's read and never fails a listing:
        a cloud that does not answer leaves Glance as it was."""
        driver = self.regions.backend(region).image
        fresh_for = driver.provided_images_refresh_seconds
        lock = self._reading.get(region)
        if fresh_for is None or lock is None:
            return
        if time.monotonic() - self._read_at.get(region, float("-inf")) < fresh_for:
            return
        if not lock.acquire(blocking=False):
            return  # another listing is reading them now
        try:
            provided = driver.provided_images()
            self._sync(region, provided, prune=True)
            self._read_at[region] = time.monotonic()
        except Exception:
            log.exception("region %s: reading the provided images failed", region)
        finally:
            lock.release()

    def _sync(self, region: str, provided: tuple[ProvidedImage, ...], *, prune: bool) -> None:
        refs = [str(p.ref) for p in provided]
        in_region = (Image.region == region, Image.native_ref.is_not(None))
        with self.db.session() as session:
            known = set(
                session.scalars(
                    select(Image.native_ref).where(*in_region, Image.native_ref.in_(refs))
                )
            )
            for image in provided:
                if str(image.ref) not in known:
                    session.add(self._row(region, image))
                    log.info("region %s: image %s registered", region, image.name)
            if not prune:
                return
            gone = session.scalars(
                select(Image).where(
                    *in_region,
                    Image.owner == self.admin_project_id,
                    Image.native_ref.not_in(refs),
                    Image.protected.is_(False),
                )
            )
            for row in gone:
                if row.properties.get(PROVIDED_PROPERTY) == "true":
                    session.delete(row)
                    log.info("region %s: image %s is no longer provided", region, row.name)

    def _row(self, region: str, image: ProvidedImage) -> Image:
        stamp = now()
        return Image(
            id=str(uuid.uuid4()),
            region=region,
            name=image.name,
            owner=self.admin_project_id,
            status=ImageStatus.ACTIVE,
            visibility=Visibility.PUBLIC,
            container_format=image.container_format,
            disk_format=image.disk_format,
            properties={**image.properties, PROVIDED_PROPERTY: "true"},
            native_ref=image.ref,
            created_at=stamp,
            updated_at=stamp,
        )
