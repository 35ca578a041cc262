"""Server snapshots on the local backend (``snapshot_server``, Nova's createImage): what a server
wrote (and deleted) is in the image, a server booted from it sees it, the captured server is
left as it was, and a failed capture leaves neither the server frozen nor any data behind."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from interstack.backends.contract import (
    BootVolume,
    ImageInfo,
    NativeRef,
    PowerAction,
    ServerStatus,
    VolumeSpec,
    VolumeStatus,
)
from interstack.backends.local import LocalBackend
from interstack.backends.local.host import run
from interstack.backends.local.quiesce import frozen
from interstack.errors import BackendError
from tests.backends.local.helpers import boot, instance, runc_root, settled, spec
from tests.support.local import exec_in
from tests.support.waiting import eventually

#: in debian-12's root; a server that deletes it must not see it come back from its snapshot
FROM_THE_IMAGE = "/etc/motd"


def ok(backend: LocalBackend, ref: NativeRef, command: str) -> str:
    done = exec_in(runc_root(backend), ref, command)
    assert done.returncode == 0, f"{command}: {done.stderr}"
    return done.stdout


def captured(backend: LocalBackend, ref: NativeRef) -> ImageInfo:
    """Start a capture and look at it again (as the task runner does) until it is ready."""
    image_id = str(uuid.uuid4())
    return eventually(
        lambda: backend.compute.snapshot_server(ref, image_id),
        lambda stored: stored.ready,
        "the capture to finish",
    )


def runc_status(backend: LocalBackend, ref: NativeRef) -> str | None:
    state = instance(backend, ref).runtime_state()
    return state[0] if state is not None else None


def test_a_running_servers_files_boot_again_from_its_snapshot(
    local_backend: LocalBackend, default_image: Path
) -> None:
    compute = local_backend.compute
    source = boot(local_backend, spec("snap-source"))
    ok(local_backend, source.ref, f"echo written-before > /root/proof && rm {FROM_THE_IMAGE}")

    stored = captured(local_backend, source.ref)

    assert compute.get_server(source.ref).status is ServerStatus.ACTIVE
    assert runc_status(local_backend, source.ref) == "running"  # thawed again
    ok(local_backend, source.ref, "echo written-after > /root/later")
    copy = boot(local_backend, spec("snap-copy", image=stored.ref))
    assert ok(local_backend, copy.ref, "cat /root/proof") == "written-before\n"
    assert exec_in(runc_root(local_backend), copy.ref, f"test -e {FROM_THE_IMAGE}").returncode == 1
    assert exec_in(runc_root(local_backend), copy.ref, "test -e /root/later").returncode == 1
    # asked again with the same image id, the capture is not taken again
    assert compute.snapshot_server(source.ref, stored.gateway_id) == stored
    for server in (source, copy):
        compute.delete_server(server.ref)
    local_backend.image.delete_image(stored.ref)


def test_a_stopped_server_is_captured_as_it_is(
    local_backend: LocalBackend, default_image: Path
) -> None:
    compute = local_backend.compute
    source = boot(local_backend, spec("snap-stopped"))
    ok(local_backend, source.ref, "echo before-the-stop > /root/proof")
    compute.power_action(source.ref, PowerAction.STOP)
    settled(local_backend, source.ref, ServerStatus.STOPPED)

    stored = captured(local_backend, source.ref)

    assert compute.get_server(source.ref).status is ServerStatus.STOPPED
    copy = boot(local_backend, spec("snap-stopped-copy", image=stored.ref))
    assert ok(local_backend, copy.ref, "cat /root/proof") == "before-the-stop\n"
    for server in (source, copy):
        compute.delete_server(server.ref)
    local_backend.image.delete_image(stored.ref)


def test_a_volume_backed_server_is_captured_from_its_volume(
    local_backend: LocalBackend, default_image: Path
) -> None:
    storage, compute = local_backend.block_storage, local_backend.compute
    root = storage.create_volume(
        VolumeSpec(
            gateway_id=str(uuid.uuid4()),
            name="root",
            project_id="p1",
            size_gb=1,
            image=NativeRef("builtin-debian-12"),
        )
    )
    eventually(
        lambda: storage.get_volume(root.ref),
        lambda v: v.status is VolumeStatus.AVAILABLE,
        "the root volume",
    )
    source = compute.create_server(
        spec("snap-volume", root_volume=BootVolume(root.ref, "/dev/vda"))
    )
    booted = settled(local_backend, source.ref, ServerStatus.ACTIVE)
    assert booted.status is ServerStatus.ACTIVE, booted.fault
    # no sync: the capture itself must flush what the guest wrote
    ok(local_backend, source.ref, "echo on-the-volume > /root/proof")

    stored = captured(local_backend, source.ref)

    assert runc_status(local_backend, source.ref) == "running"
    copy = boot(local_backend, spec("snap-volume-copy", image=stored.ref))
    assert ok(local_backend, copy.ref, "cat /root/proof") == "on-the-volume\n"
    for server in (source, copy):
        compute.delete_server(server.ref)
    storage.delete_volume(root.ref)
    local_backend.image.delete_image(stored.ref)


def test_a_failed_capture_thaws_the_server_and_leaves_no_data(
    local_backend: LocalBackend, default_image: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = boot(local_backend, spec("snap-fails"))

    def failing_copy(argv: list[str], **kwargs: Any) -> str:
        if argv[0] == "cp":  # while the instance is frozen
            assert runc_status(local_backend, source.ref) == "paused"
            raise BackendError("copy the disk layer: No space left on device")
        return run(argv, **kwargs)

    monkeypatch.setattr("interstack.backends.local.snapshots.run", failing_copy)
    image_id = str(uuid.uuid4())
    with pytest.raises(BackendError, match="No space left"):
        eventually(
            lambda: local_backend.compute.snapshot_server(source.ref, image_id),
            lambda stored: stored.ready,
            "the capture to fail",
        )

    assert runc_status(local_backend, source.ref) == "running"
    assert local_backend.compute.get_server(source.ref).status is ServerStatus.ACTIVE
    images: Any = local_backend.image
    assert images.stored(image_id) is None
    assert list((local_backend.context.data_dir / "captures").iterdir()) == []
    local_backend.compute.delete_server(source.ref)


def test_a_freeze_runc_gives_up_on_is_tried_again(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("interstack.backends.local.quiesce.FREEZE_RETRY_SECONDS", 0)

    class Flaky:
        ref, pauses, resumes = "ls-flaky", 0, 0

        def runtime_state(self) -> tuple[str, int]:
            return ("running", 1)

        def pause(self) -> None:
            self.pauses += 1
            if self.pauses < 3:
                raise BackendError("freeze the instance: unable to freeze")

        def resume(self) -> None:
            self.resumes += 1

    flaky = Flaky()
    with frozen(flaky) as live:  # type: ignore[arg-type]
        assert live
    assert (flaky.pauses, flaky.resumes) == (3, 1)
