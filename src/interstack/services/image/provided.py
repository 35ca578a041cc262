"""Images a cloud brings itself (the local backend's ``debian-12``), listed in Glance.

At start-up each region's provided images get a public, ``active`` Glance image owned by the
admin project whose data is the backend's own (``native_ref``); the backend builds or fetches
the bytes on first use, so size and checksums stay empty as Glance shows them for an image it
has not measured. An image already registered for the same data is left as it is. This does
not depend on the ``images`` capability, which is about uploading and downloading image data
(a cloud may bring images it cannot hand out, such as AWS's AMIs).
"""

from __future__ import annotations

import logging
import uuid

from sqlalchemy import select

from interstack.services.image.model import ImageStatus, Visibility
from interstack.services.image.records import now
from interstack.services.regions import Regions
from interstack.store import Database
from interstack.store.models import Image

log = logging.getLogger(__name__)


class ProvidedImages:
    def __init__(self, db: Database, regions: Regions, admin_project_id: str) -> None:
        self.db = db
        self.regions = regions
        self.admin_project_id = admin_project_id

    def ensure(self) -> None:
        """Register every region's provided images that are not in Glance yet."""
        for region in self.regions.names:
            for provided in self.regions.backend(region).image.provided_images():
                with self.db.session() as session:
                    known = session.scalars(
                        select(Image.id).where(
                            Image.region == region, Image.native_ref == provided.ref
                        )
                    ).first()
                    if known is not None:
                        continue
                    stamp = now()
                    session.add(
                        Image(
                            id=str(uuid.uuid4()),
                            region=region,
                            name=provided.name,
                            owner=self.admin_project_id,
                            status=ImageStatus.ACTIVE,
                            visibility=Visibility.PUBLIC,
                            container_format=provided.container_format,
                            disk_format=provided.disk_format,
                            properties=dict(provided.properties),
                            native_ref=provided.ref,
                            created_at=stamp,
                            updated_at=stamp,
                        )
                    )
                log.info("region %s: image %s registered", region, provided.name)
