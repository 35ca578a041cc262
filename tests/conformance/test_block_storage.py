"""The block storage part of the backend contract, on every backend in CONFORMANCE_BACKENDS:
idempotent creation, volumes filled from snapshots, other volumes (through the backend's
preparation, where it wants one) and images, extension, and a volume's data copied back into
an image, and servers booted from volumes. Skipped by capability, never by backend name."""

from __future__ import annotations

import hashlib
import os
from dataclasses import replace

import pytest

from interstack.backends.contract import (
    Backend,
    BootVolume,
    FlavorSpec,
    NativeRef,
    ServerSpec,
    ServerStatus,
    SnapshotSpec,
    VolumeInfo,
    VolumeSpec,
    VolumeStatus,
)
from interstack.errors import BadRequest, Conflict, NotFound
from tests.conformance.conftest import Cleanup
from tests.support.contract import gid, server_settled, sized
from tests.support.waiting import eventually


def settled(backend: Backend, ref: NativeRef, what: str) -> VolumeInfo:
    return eventually(
        lambda: backend.block_storage.get_volume(ref),
        lambda v: v.status is VolumeStatus.AVAILABLE,
        what,
    )


def prepared(backend: Backend, spec: VolumeSpec) -> VolumeSpec:
    """The spec as the create task gives it: with the preparation the backend wants (if any)
    started, looked at until ready; asked again meanwhile, it is the same one."""
    storage = backend.block_storage
    preparation = storage.prepare_volume(spec)
    if preparation is None:
        return spec
    assert storage.prepare_volume(spec) == preparation
    eventually(lambda: storage.preparation_ready(preparation), bool, "the volume's preparation")
    return replace(spec, prepared=preparation)


def new_volume(
    backend: Backend, cleanup: Cleanup, size_gb: int = 1, **source: NativeRef
) -> VolumeInfo:
    spec = VolumeSpec(gateway_id=gid(), name="c", project_id="p1", size_gb=size_gb, **source)
    created = backend.block_storage.create_volume(prepared(backend, spec))
    cleanup.volume(created.ref)
    assert created.gateway_id == spec.gateway_id
    return settled(backend, created.ref, "the volume to become available")


@pytest.mark.requires("volumes")
def test_create_volume_is_idempotent_and_unknown_volumes_are_not_found(
    backend: Backend, cleanup: Cleanup
) -> None:
    spec = VolumeSpec(gateway_id=gid(), name="same", project_id="p1", size_gb=1)
    first = backend.block_storage.create_volume(spec)
    cleanup.volume(first.ref)
    assert backend.block_storage.create_volume(spec).ref == first.ref
    settled(backend, first.ref, "the volume")
    backend.block_storage.delete_volume(first.ref)
    backend.block_storage.delete_volume(first.ref)  # already gone: not an error
    with pytest.raises(NotFound):
        backend.block_storage.get_volume(first.ref)


@pytest.mark.requires("volumes", "snapshots")
def test_volumes_are_filled_from_snapshots_and_other_volumes(
    backend: Backend, cleanup: Cleanup
) -> None:
    source = new_volume(backend, cleanup)
    snap = backend.block_storage.create_snapshot(
        SnapshotSpec(gateway_id=gid(), name="s", volume=source.ref)
    )
    cleanup.add(backend.block_storage.delete_snapshot, snap.ref)
    eventually(
        lambda: backend.block_storage.get_snapshot(snap.ref),
        lambda s: s.status is VolumeStatus.AVAILABLE,
        "the snapshot",
    )
    from_snapshot = new_volume(backend, cleanup, 2, snapshot=snap.ref)
    clone = new_volume(backend, cleanup, 1, source_volume=source.ref)
    given_up = VolumeSpec(gid(), "c", "p1", 1, source_volume=source.ref)
    preparation = backend.block_storage.prepare_volume(given_up)
    if preparation is not None:  # a copy given up lets its preparation go: nothing is left
        recorded = replace(given_up, prepared=preparation)
        backend.block_storage.discard_preparation(recorded)
        backend.block_storage.discard_preparation(recorded)  # gone already: not an error
    assert (from_snapshot.size_gb, clone.size_gb) == (2, 1)
    for volume in (from_snapshot, clone):
        backend.block_storage.delete_volume(volume.ref)
    backend.block_storage.delete_snapshot(snap.ref)
    backend.block_storage.delete_volume(source.ref)


@pytest.mark.requires("volumes", "volume_extend")
def test_a_volume_is_extended_but_never_shrunk(backend: Backend, cleanup: Cleanup) -> None:
    volume = new_volume(backend, cleanup)
    with pytest.raises(BadRequest):
        backend.block_storage.extend_volume(volume.ref, 1)
    backend.block_storage.extend_volume(volume.ref, 3)
    grown = eventually(
        lambda: backend.block_storage.get_volume(volume.ref),
        lambda v: v.size_gb == 3 and v.status is VolumeStatus.AVAILABLE,
        "the extension",
    )
    assert grown.gateway_id == volume.gateway_id
    backend.block_storage.delete_volume(volume.ref)


@pytest.mark.requires("volumes", "images", "volume_to_image")
def test_image_data_goes_into_a_volume_and_back_out(backend: Backend, cleanup: Cleanup) -> None:
    data = os.urandom(256 * 1024 + 5)
    image = backend.image.store_image(gid(), [data[:1000], data[1000:]])
    cleanup.add(backend.image.delete_image, image.ref)
    volume = new_volume(backend, cleanup, 1, image=image.ref)
    copied = backend.block_storage.copy_volume_to_image(volume.ref, gid())
    cleanup.add(backend.image.delete_image, copied.ref)
    stream = backend.image.open_image(copied.ref)
    try:
        read_back = b"".join(stream)
    finally:
        stream.close()
    # a volume is a whole disk: its image holds at least the source's bytes, from the start
    assert read_back[: len(data)] == data
    assert copied.sha256 == hashlib.sha256(read_back).hexdigest()
    assert backend.block_storage.get_volume(volume.ref).status is VolumeStatus.AVAILABLE
    backend.block_storage.delete_volume(volume.ref)
    backend.image.delete_image(copied.ref)
    backend.image.delete_image(image.ref)


def attached_to(backend: Backend, volume: NativeRef) -> NativeRef | None:
    info = backend.block_storage.get_volume(volume)
    return info.attached_to if info.status is VolumeStatus.IN_USE else None


@pytest.mark.requires("compute", "volumes", "images", "boot_from_volume")
def test_a_server_boots_from_a_volume_and_its_deletion_detaches_its_volumes(
    backend: Backend, cleanup: Cleanup
) -> None:
    # a cloud that brings images boots one of them; a simulated one boots any bytes
    provided = backend.image.provided_images()
    image = None if provided else backend.image.store_image(gid(), [b"a bootable disk\n"])
    if image is not None:
        cleanup.add(backend.image.delete_image, image.ref)
    source = image.ref if image is not None else provided[0].ref
    root = new_volume(backend, cleanup, 1, image=source)
    data = new_volume(backend, cleanup, 1)
    spec = ServerSpec(
        gateway_id=gid(),
        name="from-volume",
        project_id="p1",
        flavor=sized(backend, FlavorSpec(vcpus=1, ram_mb=512, disk_gb=0)),
        root_volume=BootVolume(root.ref, "/dev/vda"),
        volumes=(BootVolume(data.ref, "/dev/vdb"),),
    )
    server = backend.compute.create_server(spec)
    server_settled(backend, server.ref, ServerStatus.ACTIVE, "the server booted from its volume")
    assert attached_to(backend, root.ref) == server.ref
    assert attached_to(backend, data.ref) == server.ref
    second = replace(spec, gateway_id=gid(), volumes=())
    with pytest.raises(Conflict):  # the root volume is in use: another server cannot boot on it
        backend.compute.create_server(second)
    booted = [s.gateway_id for s in backend.compute.list_servers()]
    assert spec.gateway_id in booted and second.gateway_id not in booted

    backend.compute.delete_server(server.ref)
    for volume in (root, data):
        settled(backend, volume.ref, "the volume detached by the server's deletion")
        backend.block_storage.delete_volume(volume.ref)
    if image is not None:
        backend.image.delete_image(image.ref)
