"""What deleted images and unpacks cut short leave in the local backend's image store goes once
nothing uses it: never a root an instance's record names (a stopped server boots from it
again), one an overlay mounts, or one a volume is being filled from — whichever gateway
process on the data dir uses it and whichever releases it (each image directory's ``lock``)."""

from __future__ import annotations

import io
import os
import subprocess
import tarfile
import threading
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from interstack.backends.contract import NativeRef
from interstack.backends.local.host import is_mounted
from interstack.backends.local.hostdisk import HostDisk, Room, mb_of
from interstack.backends.local.hostlock import DirectoryLock
from interstack.backends.local.images import LocalImages, blocks_under, release_unpacks
from interstack.backends.local.instances import Instance
from interstack.backends.local.snapshots import ServerCaptures
from interstack.errors import NotFound, PayloadTooLarge
from tests.support.local import make_tarball, tiny_root

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="unpacks roots owned by root, mounts")


@pytest.fixture(scope="module")
def tarball(tmp_path_factory: pytest.TempPathFactory) -> Path:
    made = tmp_path_factory.mktemp("tiny")
    return make_tarball(tiny_root(made / "root"), made / "root.tar.gz")


class Records:
    """The images the instances' records name, as the compute driver tells them."""

    def __init__(self) -> None:
        self.images: set[str] = set()

    def __call__(self) -> set[str]:
        return set(self.images)


@pytest.fixture
def records() -> Records:
    return Records()


@pytest.fixture
def images(tmp_path: Path, records: Records) -> LocalImages:
    found = LocalImages(tmp_path / "images", tmp_path / "cache")
    found.images_in_use = records
    return found


def _stored(images: LocalImages, tarball: Path, gateway_id: str = "one") -> NativeRef:
    return images.store_image(gateway_id, [tarball.read_bytes()]).ref


@pytest.fixture
def overlay(tmp_path: Path) -> Iterator[list[Path]]:
    """Mounts an overlay over each lower directory put in the list, unmounted at the end."""
    lowers: list[Path] = []
    yield lowers
    for index in range(len(lowers)):
        subprocess.run(["umount", str(tmp_path / f"merged-{index}")], check=False)


def _mount_overlay(tmp_path: Path, lower: Path, index: int = 0) -> None:
    upper, work, merged = (tmp_path / f"{n}-{index}" for n in ("upper", "work", "merged"))
    for directory in (upper, work, merged):
        directory.mkdir()
    options = f"lowerdir={lower},upperdir={upper},workdir={work}"
    subprocess.run(["mount", "-t", "overlay", "overlay", "-o", options, str(merged)], check=True)


def test_a_deleted_images_root_goes_when_no_server_uses_it(
    images: LocalImages, tarball: Path
) -> None:
    ref = _stored(images, tarball)
    root = images.root_for(ref)

    images.delete_image(ref)

    assert not root.exists() and not root.parent.exists()


def test_an_unpacked_root_counts_on_the_host_disk_until_it_goes(
    images: LocalImages, tarball: Path, records: Records
) -> None:
    """A root takes real room beside its image's data (a compressed tarball's, more than the
    data): the host's disk counts it from its unpack (measured then) until it is removed."""
    ref = _stored(images, tarball)
    data_mb = images.disk_allotted_mb()
    root = images.root_for(ref)
    root_mb = mb_of(blocks_under(root))
    (root / "filler").write_bytes(b"x" * 3 * 1024 * 1024)  # written after: not measured again

    assert images.disk_allotted_mb() == data_mb + root_mb
    records.images.add(ref)  # a server boots from it: its root stays
    images.delete_image(ref)
    assert images.disk_allotted_mb() == root_mb
    records.images.clear()
    images.release_unused()
    assert images.disk_allotted_mb() == 0


def test_a_deleted_images_root_a_servers_record_names_stays_until_it_goes(
    images: LocalImages, records: Records, tarball: Path
) -> None:
    """A stopped server has no mount: its record says it boots from the root again."""
    ref = _stored(images, tarball)
    root = images.root_for(ref)
    records.images = {ref}

    images.delete_image(ref)
    assert (root / "bin/busybox").is_file()
    assert images.root_for(ref) == root  # a start boots from it

    records.images = set()  # the server deleted
    assert images.release_unused([ref]) == [ref]
    assert not root.parent.exists()


@pytest.mark.parametrize("in_another_gateway", [False, True], ids=["this", "another"])
def test_a_root_handed_to_a_boot_recorded_meanwhile_stays(
    images: LocalImages, tarball: Path, in_another_gateway: bool
) -> None:
    """A boot records its image, then asks for the root (unpacked already, by a server before).
    A release that read the records before the boot wrote its own removed the root the boot had
    been handed; it reads them under the image's lock, which the boot's root_for waits for, so
    the boot either keeps its root or finds none — a boot in another gateway process on the
    data dir too (another ``LocalImages``: its own thread locks and lock file descriptors),
    whose root a release that locked only its own threads removed."""
    ref = _stored(images, tarball)
    images.root_for(ref)
    images.images_in_use = None
    images.delete_image(ref)  # deleted while the server booting below was asked for
    booter = LocalImages(images.directory, images.cache_dir) if in_another_gateway else images
    handed: list[Path | NotFound] = []

    def boot() -> None:
        try:
            handed.append(booter.root_for(ref))
        except NotFound as exc:
            handed.append(exc)

    booting = threading.Thread(target=boot)

    class BootRecordedMeanwhile(Records):
        def __call__(self) -> set[str]:
            seen = set(self.images)
            self.images.add(ref)  # the boot's record, written just after this read
            if not booting.is_alive() and not handed:
                booting.start()
                booting.join(2)  # the boot takes its root now, unless the release holds it
            return seen

    images.images_in_use = BootRecordedMeanwhile()
    images.release_unused([ref])
    booting.join()

    assert len(handed) == 1
    if isinstance(handed[0], Path):
        assert (handed[0] / "bin/busybox").is_file(), "the root handed to a boot was removed"


def test_a_root_another_gateway_fills_a_volume_from_stays_while_it_does(
    images: LocalImages, tarball: Path
) -> None:
    ref = _stored(images, tarball)
    other = LocalImages(images.directory, images.cache_dir)
    with other.root_held(ref) as root:
        images.delete_image(ref)
        assert images.release_unused() == []
        assert (root / "bin/busybox").is_file()
    assert images.release_unused() == [ref]


def test_cleanup_leaves_the_disk_of_an_unpack_under_way_to_it(
    images: LocalImages, tarball: Path, tmp_path: Path
) -> None:
    """A gateway copying a raw disk into a root holds its image's lock with the disk mounted:
    ``interstack cleanup`` waits for it instead of unmounting the disk under the copy."""
    ref = _stored(images, tarball)
    mount_point = images.directory / ref / ".mnt-c0py1ng"
    mount_point.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "tmpfs", str(mount_point)], check=True)
    cleanup = threading.Thread(target=release_unpacks, args=(tmp_path,))
    try:
        with images._lock(ref):  # the unpack under way
            cleanup.start()
            cleanup.join(1)
            assert cleanup.is_alive() and is_mounted(mount_point), "unmounted under the copy"
            subprocess.run(["umount", str(mount_point)], check=True)  # the copy is done
            mount_point.rmdir()
        cleanup.join()
    finally:
        if is_mounted(mount_point):
            subprocess.run(["umount", str(mount_point)], check=True)
    assert not cleanup.is_alive()


def test_a_root_an_overlay_mounts_stays_whatever_the_records_say(
    images: LocalImages, tarball: Path, tmp_path: Path, overlay: list[Path]
) -> None:
    ref = _stored(images, tarball)
    root = images.root_for(ref)
    _mount_overlay(tmp_path, root)
    overlay.append(root)

    images.delete_image(ref)
    images.release_unused()

    assert (tmp_path / "merged-0/bin/busybox").is_file()
    assert (root / "bin/busybox").is_file()


def test_a_root_a_volume_is_filled_from_stays_while_it_is(
    images: LocalImages, tarball: Path
) -> None:
    ref = _stored(images, tarball)
    with images.root_held(ref) as root:
        images.delete_image(ref)
        assert (root / "bin/busybox").is_file()
    assert images.release_unused() == [ref]
    with pytest.raises(NotFound), images.root_held(ref):
        pass


def test_only_deleted_images_are_released(images: LocalImages, tarball: Path) -> None:
    kept = _stored(images, tarball, "kept")
    root = images.root_for(kept)
    (images.directory / "not-an-image").mkdir()

    assert images.release_unused() == []

    assert (root / "bin/busybox").is_file() and (images.directory / "not-an-image").is_dir()


def test_nothing_is_released_without_the_instances_images(tmp_path: Path, tarball: Path) -> None:
    images = LocalImages(tmp_path / "images", tmp_path / "cache")  # images_in_use unset
    ref = _stored(images, tarball)
    root = images.root_for(ref)

    images.delete_image(ref)

    assert (root / "bin/busybox").is_file()


def _cut_short(images: LocalImages, ref: NativeRef) -> Path:
    """What an unpack killed midway leaves beside the image's data."""
    staging = images.directory / ref / ".root-k1ll3d"
    (staging / "usr/bin").mkdir(parents=True)
    (staging / "usr/bin/half").write_bytes(b"x" * 4096)
    (images.directory / ref / ".converted.raw").write_bytes(b"raw")
    return staging


def test_an_unpack_cut_short_is_cleared_by_the_next(images: LocalImages, tarball: Path) -> None:
    ref = _stored(images, tarball)
    staging = _cut_short(images, ref)

    root = images.root_for(ref)

    assert (root / "bin/busybox").is_file()
    assert sorted(p.name for p in root.parent.iterdir()) == ["data", "lock", "root", "root.mb"]
    assert not staging.exists()


def test_an_unpack_cut_short_is_cleared_at_the_start_and_deleted_images_released(
    images: LocalImages, records: Records, tarball: Path
) -> None:
    ref = _stored(images, tarball)
    _cut_short(images, ref)
    deleted = _stored(images, tarball, "deleted")
    images.root_for(deleted)
    images.images_in_use = None  # a gateway from before: it kept deleted images' roots
    images.delete_image(deleted)
    images.images_in_use = records

    images.start()

    assert sorted(p.name for p in (images.directory / ref).iterdir()) == ["data", "lock"]
    assert not (images.directory / deleted).exists()


def test_a_disk_copy_cut_short_stays_while_mounted(
    images: LocalImages, tarball: Path, tmp_path: Path
) -> None:
    """A raw disk's copy killed midway leaves it mounted read-only: removing its mount point's
    tree would reach into the image's disk."""
    ref = _stored(images, tarball)
    mount_point = images.directory / ref / ".mnt-k1ll3d"
    mount_point.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "tmpfs", str(mount_point)], check=True)
    try:
        (mount_point / "etc").mkdir()
        images.start()
        assert (mount_point / "etc").is_dir()
    finally:
        subprocess.run(["umount", str(mount_point)], check=True)
    images.start()
    assert not mount_point.exists()


def test_cleanup_unmounts_a_disk_copy_cut_short_and_the_next_start_removes_it(
    images: LocalImages, tarball: Path, tmp_path: Path
) -> None:
    """``interstack cleanup`` leaves the host as it was: no mount a killed unpack made."""
    ref = _stored(images, tarball)
    mount_point = images.directory / ref / ".mnt-k1ll3d"
    mount_point.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "tmpfs", str(mount_point)], check=True)
    try:
        release_unpacks(tmp_path)
        assert not is_mounted(mount_point)
    finally:
        if is_mounted(mount_point):
            subprocess.run(["umount", str(mount_point)], check=True)
    images.start()
    assert sorted(p.name for p in (images.directory / ref).iterdir()) == ["data", "lock"]


def test_a_capture_keeps_the_root_it_lays_the_server_over(
    images: LocalImages, tarball: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server deleted while its capture runs leaves its deleted image used by nothing but the
    capture: a release then removed the root the capture's overlay was about to lay the
    server's layer over (the capture failed, or stored an image missing files)."""
    ref = _stored(images, tarball)
    images.root_for(ref)
    images.images_in_use = None
    images.delete_image(ref)
    images.images_in_use = Records()  # the server is deleted during its capture
    captures = ServerCaptures(
        tmp_path / "captures", images, tmp_path / "instances", tmp_path / "runc", _no_lock
    )
    monkeypatch.setattr(
        captures, "_check", lambda _ref: SimpleNamespace(root_volume=None, image=ref)
    )

    def copy_layer(_ref: NativeRef, target: Path) -> None:
        (target / "etc").mkdir(parents=True)
        (target / "etc/written-by-the-server").write_text("kept\n")
        images.release_unused([ref])  # the server's deletion, meanwhile

    monkeypatch.setattr(captures, "_copy_layer", copy_layer)  # the server's layer, frozen

    stored = captures._capture(NativeRef("ls-one"), "captured")

    with tarfile.open(fileobj=io.BytesIO(b"".join(images.open_image(stored.ref)))) as tar:
        names = {name.removeprefix("./") for name in tar.getnames()}
    assert {"bin/busybox", "etc/written-by-the-server"} <= names
    assert images.release_unused([ref]) == [ref]  # once the capture is done, it goes


def _no_lock(_ref: str) -> DirectoryLock:
    raise AssertionError("the layer's copy, which takes the instance's lock, is the test's")


def test_a_capture_whose_layer_the_host_disk_has_no_room_for_copies_none_of_it(
    images: LocalImages, tarball: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server's layer is copied beside it for its capture: one larger than the room left is
    refused with Glance's full store (the snapshot then fails as Nova's does) before any of it
    is copied, and nothing of the capture is left."""
    ref = _stored(images, tarball)
    images.root_for(ref)
    disk = HostDisk(tmp_path, disk_allocation_ratio=1.0, max_over_subscription_ratio=1.0)
    room_mb = images.disk_allotted_mb() + 2  # the image and its root, and 2 MiB more
    disk.measure = lambda _path: Room(size_mb=room_mb, free_mb=room_mb)
    disk.allotments = [images.disk_allotted_mb]
    images.host_disk = disk
    upper = Instance(tmp_path / "instances", tmp_path / "runc", "ls-one").upper
    upper.mkdir(parents=True)
    (upper / "written").write_bytes(b"x" * 3 * 1024 * 1024)  # the server wrote 3 MiB
    captures = ServerCaptures(
        tmp_path / "captures", images, tmp_path / "instances", tmp_path / "runc", _no_lock
    )
    monkeypatch.setattr(
        captures, "_check", lambda _ref: SimpleNamespace(root_volume=None, image=ref)
    )
    copied: list[Path] = []
    monkeypatch.setattr(captures, "_copy_layer", lambda _ref, target: copied.append(target))

    with pytest.raises(PayloadTooLarge, match="Image storage media is full"):
        captures._capture(NativeRef("ls-one"), "captured")

    assert copied == []
    assert list((tmp_path / "captures").glob("*")) == []
    assert images.stored("captured") is None
