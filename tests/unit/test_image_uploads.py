"""Uploads that die with their gateway: the image stays claimable, never stuck in ``saving``."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from interstack.errors import Conflict
from interstack.services.container import Services
from interstack.services.image import data as image_data
from interstack.services.image.model import ImageStatus, NewImage
from interstack.services.image.records import now
from interstack.store.models import Image
from tests.support.image import REGION, caller

OWNER = caller("owner")
FORMATS = NewImage(container_format="bare", disk_format="raw")


def _set_saving(services: Services, image_id: str, age: timedelta) -> None:
    """What a gateway that died mid-upload leaves: ``saving``, last refreshed ``age`` ago."""
    with services.db.session() as session:
        row = session.get(Image, image_id)
        assert row is not None
        row.status = ImageStatus.SAVING
        row.updated_at = now() - age


def _updated_at(services: Services, image_id: str) -> object:
    with services.db.session() as session:
        row = session.get(Image, image_id)
        assert row is not None
        return row.updated_at


def test_an_upload_in_progress_is_not_taken_over(services: Services) -> None:
    image = services.images.create(OWNER, REGION, FORMATS)
    _set_saving(services, image.id, timedelta(minutes=1))
    with pytest.raises(Conflict, match="from saving to saving"):
        services.image_data.upload(OWNER, REGION, image.id, [b"second"])


def test_an_abandoned_upload_is_claimed_by_the_next_one(services: Services) -> None:
    image = services.images.create(OWNER, REGION, FORMATS)
    _set_saving(services, image.id, image_data.STALE_UPLOAD + timedelta(minutes=1))
    done = services.image_data.upload(OWNER, REGION, image.id, [b"second ", b"try"])
    assert done.status == ImageStatus.ACTIVE and done.size == 10


def test_a_running_upload_refreshes_its_image(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(image_data, "HEARTBEAT_SECONDS", 0.0)
    image = services.images.create(OWNER, REGION, FORMATS)
    long_ago = now() - timedelta(hours=1)
    refreshed: list[bool] = []

    def chunks() -> Iterator[bytes]:
        yield b"one"
        with services.db.session() as session:
            row = session.get(Image, image.id)
            assert row is not None and row.status == ImageStatus.SAVING
            row.updated_at = long_ago
        yield b"two"
        yield b"three"  # the heartbeat ran when "two" passed
        refreshed.append(_updated_at(services, image.id) != long_ago)

    services.image_data.upload(OWNER, REGION, image.id, chunks())
    assert refreshed == [True]
