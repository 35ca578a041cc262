"""Range reads seek: the gateway asks the backend for the range's bytes only, never for the
object from its start (service level, on a sim region)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from interstack.services.object.access import Requester
from interstack.services.object.model import AclUpdate, MetaUpdate, ObjectPath, PutSpec
from interstack.services.object.service import ObjectStorage
from interstack.services.regions import Regions
from interstack.store import Database

MiB = 1024 * 1024
OWNER = Requester(internal=True)
OBJECT = ObjectPath("R", "project-1", "box", "data.bin")


def content(size: int) -> bytes:
    return bytes(i % 251 for i in range(size))


@pytest.fixture
def storage(db: Database, sim_regions: Regions) -> ObjectStorage:
    store = ObjectStorage(db, sim_regions)
    store.containers.create_container(
        OWNER, ObjectPath("R", "project-1", "box"), MetaUpdate(), AclUpdate()
    )
    store.objects.put(OWNER, OBJECT, [content(3 * MiB)], PutSpec("application/octet-stream"))
    return store


class Spy:
    """Records the backend's ranged opens and how many bytes its streams handed out."""

    def __init__(self, storage: ObjectStorage, monkeypatch: pytest.MonkeyPatch) -> None:
        driver = storage.storage.driver("R")
        original = driver.get_object
        self.calls: list[tuple[int, int | None]] = []
        self.delivered = 0

        def get_object(
            container: Any, name: str, offset: int = 0, length: int | None = None
        ) -> Any:
            self.calls.append((offset, length))
            info, stream = original(container, name, offset, length)

            def counted() -> Iterator[bytes]:
                try:
                    for chunk in stream:
                        self.delivered += len(chunk)
                        yield chunk
                finally:
                    stream.close()

            return info, counted()

        monkeypatch.setattr(driver, "get_object", get_object)


def test_a_range_is_read_from_its_offset(
    storage: ObjectStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    spy = Spy(storage, monkeypatch)
    reader = storage.objects.open(OWNER, OBJECT, whole=False)
    start, stop = 2 * MiB + 17, 2 * MiB + 4113
    assert b"".join(reader.chunks(start, stop)) == content(3 * MiB)[start:stop]
    assert spy.calls == [(start, stop - start)]
    assert spy.delivered == stop - start


def test_several_ranges_open_each_at_its_offset(
    storage: ObjectStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    spy = Spy(storage, monkeypatch)
    reader = storage.objects.open(OWNER, OBJECT, whole=False)
    whole = content(3 * MiB)
    ranges = [(10, 20), (3 * MiB - 5, 3 * MiB)]
    assert [b"".join(reader.chunks(a, b)) for a, b in ranges] == [whole[a:b] for a, b in ranges]
    assert spy.calls == [(10, 10), (3 * MiB - 5, 5)]
    assert spy.delivered == 15


def test_a_whole_read_is_opened_at_once_from_the_start(
    storage: ObjectStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    spy = Spy(storage, monkeypatch)
    reader = storage.objects.open(OWNER, OBJECT)
    assert spy.calls == [(0, None)]  # before any byte is asked for
    assert b"".join(reader.chunks()) == content(3 * MiB)
    assert spy.calls == [(0, None)]
