"""Provided images follow a changing cloud catalogue: a refresh adds what is new and removes
only the images it registered itself for data the cloud no longer provides (never an upload or
a server snapshot, even of the admin project); a cloud that does not refresh, or fails to
answer, leaves Glance as it was."""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace
from typing import cast

import pytest
from sqlalchemy import select

from interstack.backends.contract import Backend, NativeRef, ProvidedImage
from interstack.services.image.provided import PROVIDED_PROPERTY, ProvidedImages
from interstack.services.image.records import now
from interstack.services.regions import Regions
from interstack.store import Database
from interstack.store.models import Image
from tests.support.store import migrated_store

ADMIN = "admin-project"
REGION = "cloud"


class Catalogue:
    """An image driver whose provided images are whatever ``refs`` says now."""

    def __init__(self, *refs: str, refresh: float | None = 0.0) -> None:
        self.refs = list(refs)
        self.provided_images_refresh_seconds = refresh
        self.failing = False

    def provided_images(self) -> tuple[ProvidedImage, ...]:
        if self.failing:
            raise RuntimeError("the cloud does not answer")
        return tuple(
            ProvidedImage(name=ref, ref=NativeRef(ref), disk_format="ami", container_format="ami")
            for ref in self.refs
        )


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    """On each kind of database, not the unit tests' SQLite store alone."""
    with migrated_store(database_url) as database:
        yield database


def provided(db: Database, catalogue: Catalogue) -> ProvidedImages:
    backend = cast(Backend, SimpleNamespace(image=catalogue))
    return ProvidedImages(db, Regions({REGION: backend}), ADMIN)


def images(db: Database) -> dict[str, str]:
    """native ref -> image id of the region's images."""
    with db.session() as session:
        rows = session.scalars(select(Image).where(Image.region == REGION))
        return {str(r.native_ref): r.id for r in rows}


def admin_image(db: Database, ref: str) -> None:
    """An image of the admin project that the cloud did not provide (a snapshot, an upload)."""
    stamp = now()
    with db.session() as session:
        session.add(
            Image(
                id=f"own-{ref}",
                region=REGION,
                name=ref,
                owner=ADMIN,
                status="active",
                visibility="public",
                properties={},
                native_ref=ref,
                created_at=stamp,
                updated_at=stamp,
            )
        )


def test_a_refresh_adds_the_new_and_removes_only_what_it_registered(db: Database) -> None:
    catalogue = Catalogue("ami-a", "ami-b")
    service = provided(db, catalogue)
    service.ensure()
    first = images(db)
    assert set(first) == {"ami-a", "ami-b"}
    with db.session() as session:
        marked = session.scalars(select(Image.properties).where(Image.region == REGION))
        assert all(p[PROVIDED_PROPERTY] == "true" for p in marked)
    admin_image(db, "ami-snapshot")

    catalogue.refs = ["ami-b", "ami-c"]
    service.refresh(REGION)
    after = images(db)
    assert set(after) == {"ami-b", "ami-c", "ami-snapshot"}
    assert after["ami-b"] == first["ami-b"]  # kept as it was, not registered again


def test_a_catalogue_read_once_or_not_answering_leaves_glance_as_it_was(db: Database) -> None:
    fixed = Catalogue("ami-a", refresh=None)
    service = provided(db, fixed)
    service.ensure()
    fixed.refs = []
    service.refresh(REGION)
    assert set(images(db)) == {"ami-a"}

    failing = Catalogue("ami-a")
    failing.failing = True
    provided(db, failing).refresh(REGION)
    assert set(images(db)) == {"ami-a"}


def test_a_refresh_within_the_interval_reads_nothing(db: Database) -> None:
    catalogue = Catalogue("ami-a", refresh=3600)
    service = provided(db, catalogue)
    service.refresh(REGION)
    catalogue.refs = ["ami-b"]
    service.refresh(REGION)  # read an hour ago at the earliest: not again
    assert set(images(db)) == {"ami-a"}
