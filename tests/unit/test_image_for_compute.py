"""What compute uses of the image service: the image to boot from, and server snapshots."""

from __future__ import annotations

import hashlib

import pytest

from interstack.errors import BadRequest, NotFound
from interstack.services.container import Services
from interstack.services.image.model import ImageStatus, NewImage, Visibility
from interstack.services.interfaces import BootImages
from tests.support.image import REGION, caller


def test_image_for_boot_needs_a_visible_active_image(services: Services) -> None:
    boot: BootImages = services.compute_images
    alice, bob = caller("alice"), caller("bob")
    new = NewImage(
        name="debian", container_format="bare", disk_format="raw", min_disk=1, min_ram=64
    )
    image = services.images.create(alice, REGION, new)
    with pytest.raises(BadRequest, match="not active"):
        boot.image_for_boot(alice, REGION, image.id)
    services.image_data.upload(alice, REGION, image.id, [b"boot", b"able"])

    found = boot.image_for_boot(alice, REGION, image.id)
    assert (found.id, found.name, found.min_disk_gb, found.min_ram_mb) == (
        image.id,
        "debian",
        1,
        64,
    )
    assert found.size_bytes == 8 and found.native_ref is not None
    assert b"".join(services.regions.backend(REGION).image.open_image(found.native_ref)) == (
        b"bootable"
    )
    with pytest.raises(NotFound):
        boot.image_for_boot(bob, REGION, image.id)
    with pytest.raises(NotFound):
        boot.image_for_boot(alice, REGION, "no-such-image")


def test_snapshot_streamed_through_the_image_service(services: Services) -> None:
    alice = caller("alice")
    started = services.compute_images.begin_snapshot(
        alice, REGION, "snap", server_id="server-1", metadata={"purpose": "backup"}
    )
    assert services.images.get(alice, REGION, started.id).status == ImageStatus.SAVING
    done = services.compute_images.stream_snapshot(REGION, started.id, [b"disk ", b"bytes"])
    assert done.status == ImageStatus.ACTIVE and done.visibility == Visibility.PRIVATE
    assert done.checksum == hashlib.md5(b"disk bytes").hexdigest()
    assert done.properties["image_type"] == "snapshot"
    assert done.properties["instance_uuid"] == "server-1"
    assert done.properties["purpose"] == "backup"


def test_a_snapshot_image_is_created_saving_not_queued(services: Services) -> None:
    """Begun ``saving`` (not created ``queued`` and then changed), and the answer says so."""
    alice = caller("alice")
    started = services.compute_images.begin_snapshot(alice, REGION, "snap", server_id="srv")
    backed = services.compute_images.begin_volume_backed(alice, REGION, "volume-backed")
    assert (started.status, backed.status) == (ImageStatus.SAVING, ImageStatus.SAVING)


def test_snapshot_stored_by_the_backend_then_registered(services: Services) -> None:
    alice = caller("alice")
    started = services.compute_images.begin_snapshot(alice, REGION, "snap", server_id="srv")
    stored = services.regions.backend(REGION).image.store_image(started.id, [b"taken"])
    done = services.compute_images.finish_snapshot(REGION, started.id, stored)
    assert done.status == ImageStatus.ACTIVE and done.size == 5
    assert done.os_hash_algo == "sha256"
    assert done.os_hash_value == hashlib.sha256(b"taken").hexdigest()


def test_abandoned_snapshot_leaves_nothing(services: Services) -> None:
    alice = caller("alice")
    started = services.compute_images.begin_snapshot(alice, REGION, "snap", server_id="srv")
    services.compute_images.abandon_snapshot(REGION, started.id)
    with pytest.raises(NotFound):
        services.images.get(alice, REGION, started.id)
