"""Expired objects are invisible at once and their bytes are reaped by the background sweep,
without anyone listing their container again (service level, on a sim region)."""

from __future__ import annotations

import time

import pytest

from interstack.backends.contract import NativeRef
from interstack.errors import NotFound
from interstack.services.object.access import Requester
from interstack.services.object.model import AclUpdate, MetaUpdate, ObjectPath, PutSpec
from interstack.services.object.service import ObjectStorage
from interstack.services.regions import Regions
from interstack.store import Database
from interstack.store.models import ObjectContainer, StoredObject


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def test_the_sweep_reaps_expired_objects_nobody_lists(db: Database, sim_regions: Regions) -> None:
    clock = Clock()
    storage = ObjectStorage(db, sim_regions, clock=clock, sweep_seconds=0.05)
    owner = Requester(internal=True)
    box = ObjectPath("R", "project-1", "box")
    storage.containers.create_container(owner, box, MetaUpdate(), AclUpdate())
    spec = PutSpec(content_type="text/plain", delete_at=int(clock.now) + 10)
    storage.objects.put(owner, ObjectPath("R", "project-1", "box", "brief"), [b"x"], spec)
    storage.objects.put(
        owner, ObjectPath("R", "project-1", "box", "kept"), [b"y"], PutSpec("text/plain")
    )
    with db.session() as session:
        native = session.query(ObjectContainer).one().native_ref
        brief = session.query(StoredObject).filter_by(name="brief").one().native_name
    driver = sim_regions.backend("R").object_store
    assert driver.head_object(NativeRef(native), brief).size == 1

    clock.now += 11
    with pytest.raises(NotFound):
        storage.objects.open(owner, ObjectPath("R", "project-1", "box", "brief"))
    storage.start()
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                driver.head_object(NativeRef(native), brief)
            except NotFound:
                break
            time.sleep(0.05)
        with pytest.raises(NotFound):
            driver.head_object(NativeRef(native), brief)
    finally:
        storage.close()
    view = storage.containers.account(owner, ObjectPath("R", "project-1"))
    assert (view.object_count, view.bytes_used) == (1, 1)
