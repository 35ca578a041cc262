"""The backend contract, exercised directly on every backend in CONFORMANCE_BACKENDS.

Only ``interstack.backends.contract`` and ``interstack.errors`` are imported: a test that needs to
know which backend it runs on is a test of that backend, not of the contract.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator

import pytest

from interstack.backends.contract import (
    AttachState,
    Backend,
    FlavorSpec,
    NativeRef,
    PowerAction,
    ServerInfo,
    ServerSpec,
    ServerStatus,
    SnapshotSpec,
    VolumeSpec,
    VolumeStatus,
)
from interstack.errors import Conflict, NotFound
from tests.conformance.conftest import BackendUnderTest, Cleanup
from tests.support.contract import gid, server_settled, sized
from tests.support.waiting import eventually

MiB = 1024 * 1024


def boot(backend: Backend, name: str = "conformance") -> ServerInfo:
    spec = ServerSpec(gateway_id=gid(), name=name, project_id="p1", flavor=sized(backend))
    created = backend.compute.create_server(spec)
    assert created.gateway_id == spec.gateway_id
    return created


def boot_active(backend: Backend) -> ServerInfo:
    return boot_active_from(backend, boot(backend).ref)


def chunks(total: int, size: int, seed: int) -> Iterator[bytes]:
    rng = random.Random(seed)
    sent = 0
    while sent < total:
        n = min(size, total - sent)
        yield rng.randbytes(n)
        sent += n


# -- compute ------------------------------------------------------------------------------------


@pytest.mark.requires("compute")
def test_a_server_builds_then_becomes_active_and_is_deleted(backend: Backend) -> None:
    server = boot(backend)
    assert server.status in {ServerStatus.BUILDING, ServerStatus.ACTIVE}

    active = boot_active_from(backend, server.ref)
    assert (active.gateway_id, active.fault) == (server.gateway_id, None)
    assert server.ref in {s.ref for s in backend.compute.list_servers()}

    backend.compute.delete_server(server.ref)
    eventually(
        lambda: server.ref in {s.ref for s in backend.compute.list_servers()},
        lambda present: not present,
        "the server to disappear",
    )
    with pytest.raises(NotFound):
        backend.compute.get_server(server.ref)
    backend.compute.delete_server(server.ref)  # deleting again is not an error


def boot_active_from(backend: Backend, ref: NativeRef) -> ServerInfo:
    return server_settled(backend, ref, ServerStatus.ACTIVE, "the server to become active")


@pytest.mark.requires("compute")
def test_create_server_is_idempotent_on_the_gateway_id(backend: Backend) -> None:
    spec = ServerSpec(gateway_id=gid(), name="twice", project_id="p1", flavor=sized(backend))
    first = backend.compute.create_server(spec)
    again = backend.compute.create_server(spec)
    assert again.ref == first.ref
    assert [s.ref for s in backend.compute.list_servers()].count(first.ref) == 1


@pytest.mark.requires("compute")
def test_unknown_servers_are_not_found(backend: Backend) -> None:
    with pytest.raises(NotFound):
        backend.compute.get_server(NativeRef("no-such-server"))


@pytest.mark.requires("compute")
def test_stop_start_and_reboot(backend: Backend) -> None:
    server = boot_active(backend)

    def settles_in(action: PowerAction, expected: ServerStatus) -> None:
        backend.compute.power_action(server.ref, action)
        server_settled(backend, server.ref, expected, f"{action} to end in {expected}")

    settles_in(PowerAction.STOP, ServerStatus.STOPPED)
    with pytest.raises(Conflict):
        backend.compute.power_action(server.ref, PowerAction.STOP)
    settles_in(PowerAction.START, ServerStatus.ACTIVE)
    settles_in(PowerAction.REBOOT, ServerStatus.ACTIVE)
    settles_in(PowerAction.HARD_REBOOT, ServerStatus.ACTIVE)


@pytest.mark.requires("compute", "pause")
def test_pause_and_unpause(backend: Backend) -> None:
    server = boot_active(backend)
    backend.compute.power_action(server.ref, PowerAction.PAUSE)
    server_settled(backend, server.ref, ServerStatus.PAUSED, "the server to pause")
    with pytest.raises(Conflict):
        backend.compute.power_action(server.ref, PowerAction.SUSPEND)
    backend.compute.power_action(server.ref, PowerAction.UNPAUSE)
    boot_active_from(backend, server.ref)


@pytest.mark.requires("compute", "suspend")
def test_suspend_and_resume(backend: Backend) -> None:
    server = boot_active(backend)
    backend.compute.power_action(server.ref, PowerAction.SUSPEND)
    server_settled(backend, server.ref, ServerStatus.SUSPENDED, "the server to suspend")
    backend.compute.power_action(server.ref, PowerAction.RESUME)
    boot_active_from(backend, server.ref)


@pytest.mark.requires("compute", "resize")
def test_a_server_is_resized_running_and_stopped(backend: Backend) -> None:
    server = boot_active(backend)
    backend.compute.resize_server(
        server.ref, sized(backend, FlavorSpec(vcpus=2, ram_mb=256, disk_gb=1))
    )
    boot_active_from(backend, server.ref)
    backend.compute.power_action(server.ref, PowerAction.STOP)
    server_settled(backend, server.ref, ServerStatus.STOPPED, "the server to stop")
    backend.compute.resize_server(
        server.ref, sized(backend, FlavorSpec(vcpus=1, ram_mb=128, disk_gb=1))
    )
    server_settled(
        backend,
        server.ref,
        ServerStatus.STOPPED,
        "the stopped server to stay stopped after the resize",
    )


@pytest.mark.requires("compute", "server_snapshots", "images")
def test_a_server_is_captured_as_image_data(backend: Backend, cleanup: Cleanup) -> None:
    server = boot_active(backend)
    image_id = gid()
    stored = eventually(  # a capture in progress is looked at again with the same image id
        lambda: backend.compute.snapshot_server(server.ref, image_id),
        lambda s: s.ready,
        "the capture to finish",
    )
    cleanup.add(backend.image.delete_image, stored.ref)
    assert (stored.gateway_id, stored.size > 0) == (image_id, True)
    stream = backend.image.open_image(stored.ref)
    try:
        captured = b"".join(stream)
    finally:
        stream.close()
    assert hashlib.sha256(captured).hexdigest() == stored.sha256
    assert backend.compute.get_server(server.ref).status is ServerStatus.ACTIVE
    backend.image.delete_image(stored.ref)


@pytest.mark.requires("compute", "console_output")
def test_console_output_is_text_and_can_be_limited(backend: Backend) -> None:
    server = boot_active(backend)
    full = backend.compute.console_output(server.ref)
    assert full.strip()
    last = backend.compute.console_output(server.ref, length=1)
    assert last.count("\n") == 1
    assert full.endswith(last)


@pytest.mark.requires("compute")
def test_a_failed_boot_ends_in_error_with_a_fault(
    backend: Backend, under_test: BackendUnderTest
) -> None:
    if under_test.failing_server_name is None:
        pytest.skip("this configuration cannot make a boot fail")
    server = boot(backend, under_test.failing_server_name)
    failed = eventually(
        lambda: backend.compute.get_server(server.ref),
        lambda s: s.status is not ServerStatus.BUILDING,
        "the boot to finish",
    )
    assert failed.status is ServerStatus.ERROR
    assert failed.fault
    backend.compute.delete_server(server.ref)  # a failed server still has to be cleaned up


# -- block storage ------------------------------------------------------------------------------


def available_volume(backend: Backend, cleanup: Cleanup, size_gb: int = 1) -> NativeRef:
    spec = VolumeSpec(gateway_id=gid(), name="data", project_id="p1", size_gb=size_gb)
    created = backend.block_storage.create_volume(spec)
    cleanup.volume(created.ref)
    assert created.size_gb == size_gb
    eventually(
        lambda: backend.block_storage.get_volume(created.ref),
        lambda v: v.status is VolumeStatus.AVAILABLE,
        "the volume to become available",
    )
    return created.ref


def attachment_becomes(
    backend: Backend, volume: NativeRef, server: NativeRef, state: AttachState
) -> bool:
    """Whether the attachment reached ``state``, looked at as the gateway's tasks look (each
    look on its way one of the states the contract allows there)."""
    on_the_way = {
        AttachState.ATTACHED: {AttachState.ATTACHING, AttachState.ATTACHED},
        AttachState.DETACHED: {AttachState.DETACHING, AttachState.ATTACHED, AttachState.DETACHED},
    }[state]

    def look() -> AttachState:
        seen = backend.block_storage.attachment(volume, server)
        assert seen in on_the_way
        return seen

    return eventually(look, lambda seen: seen is state, f"the attachment to be {state}") is state


@pytest.mark.requires("compute", "volumes", "volume_attach_hot")
def test_a_volume_attaches_detaches_and_is_deleted(backend: Backend, cleanup: Cleanup) -> None:
    server = boot_active(backend)
    volume = available_volume(backend, cleanup)

    attachment = backend.block_storage.attach_volume(volume, server.ref)
    assert attachment.device.startswith("/dev/")
    assert backend.block_storage.attach_volume(volume, server.ref) == attachment  # run again
    assert attachment_becomes(backend, volume, server.ref, AttachState.ATTACHED)
    attached = backend.block_storage.get_volume(volume)
    assert (attached.status, attached.attached_to) == (VolumeStatus.IN_USE, server.ref)
    assert backend.block_storage.attach_volume(volume, server.ref) == attachment
    with pytest.raises(Conflict):
        backend.block_storage.delete_volume(volume)

    backend.block_storage.detach_volume(volume, server.ref)
    backend.block_storage.detach_volume(volume, server.ref)  # run again: nothing more
    assert attachment_becomes(backend, volume, server.ref, AttachState.DETACHED)
    detached = backend.block_storage.get_volume(volume)
    assert (detached.status, detached.attached_to) == (VolumeStatus.AVAILABLE, None)

    backend.block_storage.delete_volume(volume)
    with pytest.raises(NotFound):
        backend.block_storage.get_volume(volume)


@pytest.mark.requires("compute", "volumes", "volume_attach_hot")
def test_deleting_a_server_detaches_its_volumes(backend: Backend, cleanup: Cleanup) -> None:
    server = boot_active(backend)
    volume = available_volume(backend, cleanup)
    backend.block_storage.attach_volume(volume, server.ref)

    backend.compute.delete_server(server.ref)
    eventually(
        lambda: backend.block_storage.get_volume(volume),
        lambda v: v.status is VolumeStatus.AVAILABLE and v.attached_to is None,
        "the volume to be detached by the server's deletion",
    )


@pytest.mark.requires("volumes", "snapshots")
def test_a_snapshot_is_taken_and_blocks_the_volume_deletion(
    backend: Backend, cleanup: Cleanup
) -> None:
    volume = available_volume(backend, cleanup, size_gb=2)
    snap = backend.block_storage.create_snapshot(
        SnapshotSpec(gateway_id=gid(), name="snap", volume=volume)
    )
    cleanup.add(backend.block_storage.delete_snapshot, snap.ref)
    ready = eventually(
        lambda: backend.block_storage.get_snapshot(snap.ref),
        lambda s: s.status is VolumeStatus.AVAILABLE,
        "the snapshot to become available",
    )
    assert ready.size_gb == 2
    with pytest.raises(Conflict):
        backend.block_storage.delete_volume(volume)
    backend.block_storage.delete_snapshot(snap.ref)
    backend.block_storage.delete_volume(volume)


# -- images and objects -------------------------------------------------------------------------


@pytest.mark.requires("images")
def test_image_data_is_stored_read_back_and_deleted(backend: Backend, cleanup: Cleanup) -> None:
    expected = hashlib.sha256()
    for chunk in chunks(3 * MiB + 17, 256 * 1024, seed=1):
        expected.update(chunk)

    image_id = gid()
    info = backend.image.store_image(image_id, chunks(3 * MiB + 17, 256 * 1024, seed=1))
    cleanup.add(backend.image.delete_image, info.ref)
    assert (info.size, info.sha256) == (3 * MiB + 17, expected.hexdigest())
    with pytest.raises(Conflict):
        backend.image.store_image(image_id, iter([b"other"]))

    read = hashlib.sha256()
    stream = backend.image.open_image(info.ref)
    try:
        for chunk in stream:
            read.update(chunk)
    finally:
        stream.close()
    assert read.hexdigest() == expected.hexdigest()

    backend.image.delete_image(info.ref)
    with pytest.raises(NotFound):
        backend.image.open_image(info.ref)
    backend.image.delete_image(info.ref)


@pytest.mark.requires("object_store")
def test_a_large_object_streams_in_and_out_unchanged(backend: Backend, cleanup: Cleanup) -> None:
    size = 8 * MiB + 123
    expected_sha, expected_md5 = hashlib.sha256(), hashlib.md5(usedforsecurity=False)
    for chunk in chunks(size, 64 * 1024, seed=2):
        expected_sha.update(chunk)
        expected_md5.update(chunk)

    container = backend.object_store.create_container("acct", "bucket")
    cleanup.add(backend.object_store.delete_container, container)
    assert backend.object_store.create_container("acct", "bucket") == container
    cleanup.add(backend.object_store.delete_object, container, "dir/big.bin")
    stored = backend.object_store.put_object(
        container, "dir/big.bin", chunks(size, 64 * 1024, seed=2), "application/octet-stream"
    )
    assert (stored.size, stored.md5) == (size, expected_md5.hexdigest())

    info, stream = backend.object_store.get_object(container, "dir/big.bin")
    read, largest = hashlib.sha256(), 0
    try:
        for chunk in stream:
            read.update(chunk)
            largest = max(largest, len(chunk))
    finally:
        stream.close()
    assert info == stored == backend.object_store.head_object(container, "dir/big.bin")
    assert read.hexdigest() == expected_sha.hexdigest()
    assert largest < size  # it came in pieces, not as one buffer


@pytest.mark.requires("object_store")
def test_an_object_is_read_from_an_offset(backend: Backend, cleanup: Cleanup) -> None:
    size = 3 * MiB + 5
    whole = b"".join(chunks(size, 64 * 1024, seed=3))
    container = backend.object_store.create_container("acct", "ranges")
    cleanup.add(backend.object_store.delete_container, container)
    cleanup.add(backend.object_store.delete_object, container, "o")
    backend.object_store.put_object(container, "o", iter([whole]), "application/octet-stream")
    for offset, length in ((0, 10), (2 * MiB + 1, 4096), (size - 3, None), (size - 3, 100)):
        info, stream = backend.object_store.get_object(container, "o", offset, length)
        try:
            read = b"".join(stream)
        finally:
            stream.close()
        end = size if length is None else offset + length
        assert read == whole[offset:end]
        assert info.size == size
    backend.object_store.delete_object(container, "o")
    backend.object_store.delete_container(container)


@pytest.mark.requires("object_store")
def test_objects_are_listed_replaced_and_deleted(backend: Backend, cleanup: Cleanup) -> None:
    container = backend.object_store.create_container("acct", "listing")
    cleanup.add(backend.object_store.delete_container, container)
    for name in ["b", "a/1", "a/2", "c"]:
        cleanup.add(backend.object_store.delete_object, container, name)
        backend.object_store.put_object(container, name, iter([name.encode()]), "text/plain")
    backend.object_store.put_object(container, "c", iter([b"new", b"er"]), "text/x-new")

    names = [o.name for o in backend.object_store.list_objects(container)]
    assert names == ["a/1", "a/2", "b", "c"]
    assert [o.name for o in backend.object_store.list_objects(container, prefix="a/")] == [
        "a/1",
        "a/2",
    ]
    assert [
        o.name for o in backend.object_store.list_objects(container, marker="a/2", limit=1)
    ] == ["b"]
    replaced, stream = backend.object_store.get_object(container, "c")
    assert b"".join(stream) == b"newer"
    assert (replaced.size, replaced.content_type) == (5, "text/x-new")

    with pytest.raises(Conflict):
        backend.object_store.delete_container(container)
    for name in names:
        backend.object_store.delete_object(container, name)
    backend.object_store.delete_object(container, "c")
    with pytest.raises(NotFound):
        backend.object_store.head_object(container, "c")
    backend.object_store.delete_container(container)
