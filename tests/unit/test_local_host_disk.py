"""The local backend's data dir file system, allotted (:mod:`.hostdisk`): a server or a volume
is placed only within the file system's size times the region's ratio, whatever else is
allotted there, and two creates at once — in one gateway or two on the data dir — never both
take the room of one."""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest

from interstack.backends.contract import (
    NO_VALID_BACKEND,
    NO_VALID_HOST,
    NativeRef,
    SnapshotSpec,
    VolumeSpec,
)
from interstack.backends.contract import VolumeStatus as V
from interstack.backends.local import hostdisk
from interstack.backends.local.hostdisk import RESERVATIONS, STORAGE_FULL, HostDisk, Room
from interstack.backends.local.images import LocalImages
from interstack.backends.local.volumes import LocalBlockStorage
from interstack.backends.local.volumes.records import VolumeRecord
from interstack.errors import BackendError, PayloadTooLarge

GiB_MB = 1024
#: the file system of the tests
ROOM = Room(size_mb=10 * GiB_MB, free_mb=10 * GiB_MB)


class Records:
    """What a driver records of what it placed: one file each, its size in MiB."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(exist_ok=True)

    def allotted_mb(self) -> int:
        return sum(int(p.read_text()) for p in self.directory.iterdir())

    def record(self, name: str, size_mb: int) -> None:
        (self.directory / name).write_text(str(size_mb))


def host_disk(
    data_dir: Path,
    records: Records,
    *,
    servers: float = 1.0,
    volumes: float = 1.0,
    room: Room = ROOM,
) -> HostDisk:
    """A host disk on a file system of ``room``, its ratios ``servers`` and ``volumes``."""
    found = HostDisk(
        data_dir,
        disk_allocation_ratio=servers,
        max_over_subscription_ratio=volumes,
        measure=lambda _path: room,
    )
    found.allotments = [records.allotted_mb]
    return found


def test_a_server_beyond_the_room_left_is_refused_as_novas_scheduler_refuses_it(
    tmp_path: Path,
) -> None:
    servers = Records(tmp_path / "servers")
    disk = host_disk(tmp_path, servers, servers=0.3)  # 3 GiB of the 10
    with disk.server_placed("server one", 2 * GiB_MB):
        servers.record("one", 2 * GiB_MB)

    with pytest.raises(BackendError) as refused, disk.server_placed("server two", 2 * GiB_MB):
        servers.record("two", 2 * GiB_MB)

    assert refused.value.message == NO_VALID_HOST
    assert servers.allotted_mb() == 2 * GiB_MB  # nothing of the refused one
    with disk.server_placed("server three", 1 * GiB_MB):  # what is left still fits
        servers.record("three", 1 * GiB_MB)


def test_servers_beyond_the_file_system_are_placed_only_with_a_ratio_over_one(
    tmp_path: Path,
) -> None:
    servers = Records(tmp_path / "servers")
    servers.record("big", 10 * GiB_MB)
    no_overcommit = host_disk(tmp_path, servers)
    with pytest.raises(BackendError, match=NO_VALID_HOST), no_overcommit.server_placed("s", GiB_MB):
        pass
    with host_disk(tmp_path, servers, servers=1.5).server_placed("server", GiB_MB):
        pass


def test_volumes_and_servers_count_against_one_file_system(tmp_path: Path) -> None:
    servers, volumes = Records(tmp_path / "servers"), Records(tmp_path / "volumes")
    disk = host_disk(tmp_path, servers, servers=0.3, volumes=0.5)
    disk.allotments.append(volumes.allotted_mb)
    with disk.volume_placed("volume one", 3 * GiB_MB):
        volumes.record("one", 3 * GiB_MB)

    with pytest.raises(BackendError, match=NO_VALID_HOST), disk.server_placed("server", 1):
        pass  # the volume took the servers' 3 GiB
    with disk.server_placed("server", 0):  # no disk of its own: it boots from a volume
        pass
    servers.record("booted before", 2 * GiB_MB)
    with pytest.raises(BackendError) as refused, disk.volume_placed("volume two", GiB_MB):
        pass  # 5 GiB allotted of the volumes' 5
    assert refused.value.message == NO_VALID_BACKEND


def test_a_volume_beyond_the_free_space_times_the_ratio_is_refused(tmp_path: Path) -> None:
    """Cinder's thin provisioning: within the room left by the size, and by the free space."""
    nearly_full = Room(size_mb=10 * GiB_MB, free_mb=GiB_MB)
    disk = host_disk(tmp_path, Records(tmp_path / "volumes"), volumes=2.0, room=nearly_full)
    with disk.volume_placed("volume", 2 * GiB_MB):
        pass
    with (
        pytest.raises(BackendError, match=NO_VALID_BACKEND),
        disk.volume_placed("volume", 3 * GiB_MB),
    ):
        pass


def _measured(room: Room, _path: Path) -> Room:
    return room


def test_a_capacity_caps_the_file_systems_size_and_free_space_whatever_else_fills_it(
    tmp_path: Path,
) -> None:
    """A region given ``disk_capacity_gb`` counts on that much of a larger file system: what it
    places does not change with what other work leaves free there, so long as that is more."""
    for free_mb in (100 * GiB_MB, 50 * GiB_MB):
        room = Room(size_mb=100 * GiB_MB, free_mb=free_mb)
        disk = HostDisk(
            tmp_path,
            disk_allocation_ratio=1.0,
            max_over_subscription_ratio=0.5,
            measure=functools.partial(_measured, room),
            capacity_mb=3 * GiB_MB,
        )
        with pytest.raises(BackendError, match=NO_VALID_HOST), disk.server_placed("s", 4 * GiB_MB):
            pass
        with disk.server_placed("server", 3 * GiB_MB):
            pass
        with (
            pytest.raises(BackendError, match=NO_VALID_BACKEND),
            disk.volume_placed("v", 2 * GiB_MB),
        ):
            pass  # half of the 3 GiB, by the size and by the free space
        with disk.volume_placed("volume", GiB_MB):
            pass


def test_creates_at_once_in_two_gateways_never_share_the_room_of_one(tmp_path: Path) -> None:
    """Each look and the record it places are one step for every process on the data dir: two
    gateways (two host disks, each with its own descriptors of the lock file) placing eight
    servers at once, with room for three, place three."""
    servers = Records(tmp_path / "servers")
    gateways = [host_disk(tmp_path, servers, servers=0.3) for _ in range(2)]
    placed: list[str] = []
    start = threading.Barrier(8)

    def create(index: int) -> None:
        name = f"server-{index}"
        start.wait()
        try:
            with gateways[index % 2].server_placed(name, GiB_MB):
                time.sleep(0.05)  # the record is written a moment after the look
                servers.record(name, GiB_MB)
                placed.append(name)
        except BackendError:
            pass

    threads = [threading.Thread(target=create, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(placed) == 3 and servers.allotted_mb() == 3 * GiB_MB


@pytest.fixture
def one_volume(tmp_path: Path) -> LocalBlockStorage:
    """A block storage driver placing on a host disk of 3 GiB, holding one volume of 2 GB
    (``vol-one``): the only allotment."""
    storage = LocalBlockStorage(tmp_path / "volumes", cast(Any, None), cast(Any, None))
    disk = host_disk(tmp_path, Records(tmp_path / "unused"), room=Room(3 * GiB_MB, 3 * GiB_MB))
    disk.allotments = [storage.disk_allotted_mb]
    storage.host_disk = disk
    storage.shelf.save(
        VolumeRecord(ref="vol-one", gateway_id="one", name="", size_gb=2, status=V.AVAILABLE)
    )
    return storage


def test_a_snapshot_is_placed_as_a_volume_is(one_volume: LocalBlockStorage) -> None:
    """The block storage driver places each volume and each snapshot (a sparse copy as large
    as its volume), as Cinder's scheduler places both; one that does not fit is refused before
    its record exists (its task then leaves it in ``error``)."""
    storage = one_volume
    with pytest.raises(BackendError) as refused:
        storage.create_snapshot(
            SnapshotSpec(gateway_id="two", name="", volume=NativeRef("vol-one"))
        )
    assert refused.value.message == NO_VALID_BACKEND
    assert storage.shelf.snapshots() == []
    with pytest.raises(BackendError, match=NO_VALID_BACKEND):
        storage.create_volume(VolumeSpec(gateway_id="three", name="", project_id="p", size_gb=2))
    assert [v.ref for v in storage.shelf.volumes()] == ["vol-one"]


def test_a_volume_extended_beyond_the_room_left_is_refused_and_keeps_its_size(
    one_volume: LocalBlockStorage,
) -> None:
    """An extend grows a sparse file as a new volume makes one, so it is placed as one is
    (Cinder's scheduler checks an extend); refused, the volume keeps its size and its file."""
    storage = one_volume
    storage.shelf.disk("vol-one").write_bytes(b"")

    with pytest.raises(BackendError, match=NO_VALID_BACKEND):
        storage.extend_volume(NativeRef("vol-one"), 20)
    assert storage.shelf.get_volume(NativeRef("vol-one")).size_gb == 2
    assert storage.shelf.disk("vol-one").stat().st_size == 0


# -- images: their bytes are real, placed as they are written ---------------------------------

MiB = 1024 * 1024


def _images(tmp_path: Path, room: Room) -> tuple[LocalImages, HostDisk]:
    """Images on a host disk of ``room`` whose only allotments are the images' data."""
    images = LocalImages(tmp_path / "images", tmp_path / "cache")
    disk = host_disk(tmp_path, Records(tmp_path / "unused"), room=room)
    disk.allotments = [images.disk_allotted_mb]
    images.host_disk = disk
    return images, disk


def _chunks(mib: int) -> Iterator[bytes]:
    for _ in range(mib):
        yield b"x" * MiB


def _nothing_left(tmp_path: Path, gateway_id: str) -> None:
    assert not (tmp_path / "images" / f"img-{gateway_id}").exists()
    assert list((tmp_path / RESERVATIONS).iterdir()) == []


def test_an_upload_beyond_the_room_left_is_refused_as_glance_refuses_a_full_store(
    tmp_path: Path,
) -> None:
    """The bytes are placed as they come: the write stops where they no longer fit, with
    Glance's 413, and nothing of them is left; what fits is stored and counts."""
    images, _disk = _images(tmp_path, Room(size_mb=4, free_mb=4))

    with pytest.raises(PayloadTooLarge) as refused:
        images.store_image("big", _chunks(5))
    assert refused.value.message == STORAGE_FULL
    _nothing_left(tmp_path, "big")

    stored = images.store_image("small", _chunks(3))
    assert stored.size == 3 * MiB and images.disk_allotted_mb() == 3
    with pytest.raises(PayloadTooLarge, match="Image storage media is full"):
        images.store_image("another", _chunks(2))  # 3 of the 4 MiB are the first one's
    _nothing_left(tmp_path, "another")


def test_a_volume_copied_into_an_image_is_placed_by_its_written_blocks(tmp_path: Path) -> None:
    images, _disk = _images(tmp_path, Room(size_mb=4, free_mb=4))
    sparse = tmp_path / "volume"
    with sparse.open("wb") as out:
        out.truncate(1024 * MiB)  # a hole of a GiB takes nothing
        out.write(b"x" * MiB)
    images.store_copy("fits", sparse)

    with sparse.open("r+b") as out:
        out.write(b"x" * 4 * MiB)  # 4 MiB written now, 1 of the 4 taken by the first image
    with pytest.raises(PayloadTooLarge):
        images.store_copy("beyond", sparse)
    _nothing_left(tmp_path, "beyond")


def test_room_held_for_an_image_on_its_way_counts_for_every_gateway_until_it_ends(
    tmp_path: Path,
) -> None:
    """Another gateway on the data dir sees the room an image's writer holds; a reservation
    no writer holds any more (a gateway killed mid-write) counts for nothing and goes."""
    servers = Records(tmp_path / "servers")
    writer = host_disk(tmp_path, servers, room=Room(size_mb=4, free_mb=4))
    other = host_disk(tmp_path, servers, room=Room(size_mb=4, free_mb=4))
    with writer.reserved("image on its way") as room:
        room.grow(3)
        with pytest.raises(BackendError, match=NO_VALID_HOST), other.server_placed("s", 2):
            pass
    with other.server_placed("server", 2):
        pass
    left = tmp_path / RESERVATIONS / "left-by-a-killed-gateway"
    left.write_text("4")
    assert other.allotted_mb() == 0 and not left.exists()


def test_room_one_writer_holds_and_has_not_written_is_not_free_for_another(
    tmp_path: Path,
) -> None:
    """The free space shows only the bytes written: two uploads at once each placed within
    it as though the other held nothing (each took its step where only one fitted)."""
    servers = Records(tmp_path / "servers")
    disk = host_disk(tmp_path, servers, room=Room(size_mb=1000, free_mb=100))
    with disk.reserved("one image") as one, disk.reserved("another") as another:
        one.cover(MiB)  # a step of 64 MiB held ahead of its first MiB, none of it written
        with pytest.raises(PayloadTooLarge, match="Image storage media is full"):
            another.grow(64)
        another.grow(36)
    with disk.reserved("a third") as third:  # the two ended: their room is free again
        third.grow(100)


def test_a_placement_reads_again_only_the_records_that_changed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every create looks at what all records allot under the lock every create waits for: a
    record is read again only once its file changed (a record is written anew and renamed into
    place), or when it was written lately (:data:`.hostdisk.RECENT_NS`, here none)."""
    monkeypatch.setattr(hostdisk, "RECENT_NS", 0, raising=False)
    storage = LocalBlockStorage(tmp_path / "volumes", cast(Any, None), cast(Any, None))
    for index in range(3):
        storage.shelf.save(
            VolumeRecord(ref=f"vol-{index}", gateway_id=f"{index}", name="", size_gb=1,
                         status=V.AVAILABLE)
        )  # fmt: skip
    reads: list[str] = []
    read = storage.shelf.volume

    def counted(ref: str) -> VolumeRecord | None:
        reads.append(ref)
        return read(ref)

    monkeypatch.setattr(storage.shelf, "volume", counted)

    assert storage.disk_allotted_mb() == 3 * GiB_MB and len(reads) == 3
    reads.clear()
    assert storage.disk_allotted_mb() == 3 * GiB_MB and reads == []
    storage.shelf.save(read("vol-1").moved(V.ERROR, fault="failed"))  # type: ignore[union-attr]
    storage.shelf.remove("vol-2")
    assert storage.disk_allotted_mb() == GiB_MB and reads == ["vol-1"]

    monkeypatch.setattr(hostdisk, "RECENT_NS", 10**18)  # all of them written lately
    reads.clear()
    assert storage.disk_allotted_mb() == GiB_MB and sorted(reads) == ["vol-0", "vol-1"]


def test_a_record_read_while_recent_is_read_again_once_it_is_old(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A record read within :data:`.hostdisk.RECENT_NS` of its write may be written again in
    the same clock tick with the same stat (an inode reused, the same size): the look after
    that read does not trust the stat it saw, however old the record is by then."""
    record = tmp_path / "record"
    record.write_text("1")
    written = record.stat().st_ctime_ns
    contents = {record: 1}
    allotments = hostdisk.RecordAllotments(lambda path: contents[path])
    clock = {"now": written + hostdisk.RECENT_NS // 2}
    monkeypatch.setattr(time, "time_ns", lambda: clock["now"])

    assert allotments.total([record]) == 1  # read while recent
    contents[record] = 5  # written again in that tick: the same (inode, times, size)
    clock["now"] = written + 10 * hostdisk.RECENT_NS
    assert allotments.total([record]) == 5
    contents[record] = 7  # the read above saw an old record: its stat is trusted from now on
    assert allotments.total([record]) == 5


def test_an_upload_reads_another_writers_reservation_again_only_once_it_changed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each step of an upload (64 MiB) looks at the room every other writer holds, under the
    lock every placement waits for: a writer's file is read again only once it changed (its
    growth), or when it was written lately (:data:`.hostdisk.RECENT_NS`, here none); the
    writer's own room is what it knows, never read back."""
    monkeypatch.setattr(hostdisk, "RECENT_NS", 0)
    reads: list[Path] = []
    read = hostdisk._reservation_of

    def counted(path: Path) -> tuple[int, int] | None:
        reads.append(path)
        return read(path)

    monkeypatch.setattr(hostdisk, "_reservation_of", counted)
    servers = Records(tmp_path / "servers")
    one = host_disk(tmp_path, servers, room=Room(size_mb=1000, free_mb=1000))
    other = host_disk(tmp_path, servers, room=Room(size_mb=1000, free_mb=1000))
    with one.reserved("one image") as first, other.reserved("another") as second:
        first.grow(100)
        reads.clear()
        for _ in range(4):
            second.grow(64)
        assert reads == [first.path]
        with pytest.raises(PayloadTooLarge):  # 100 of the first's, 256 of the second's
            second.grow(700)
        first.grow(100)
        reads.clear()
        second.grow(64)
        second.grow(64)
        assert reads == [first.path]
        with pytest.raises(PayloadTooLarge):  # 200 of the first's, 384 of the second's
            second.grow(500)
        assert reads == [first.path]
