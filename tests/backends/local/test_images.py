"""Glance uploads become bootable roots; an image without a usable root fails with one line."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from interstack.backends.contract import NativeRef, PowerAction, ServerStatus
from interstack.backends.local import LocalBackend
from interstack.backends.local.guest import LOGIN_PLAN
from interstack.backends.local.imagebuild import DEFAULT_IMAGE, image_root
from interstack.backends.local.images import LocalImages, builtin_ref
from interstack.backends.local.loginplan import plan_path
from interstack.errors import NotFound
from tests.backends.local.helpers import boot, instance, settled, spec
from tests.support.local import exec_in, make_ext4_disk, make_tarball, tiny_root, to_qcow2


def chunks_of(path: Path, size: int = 256 * 1024) -> Iterator[bytes]:
    with path.open("rb") as handle:
        while chunk := handle.read(size):
            yield chunk


def upload(backend: LocalBackend, path: Path) -> NativeRef:
    return backend.image.store_image(str(os.urandom(16).hex()), chunks_of(path)).ref


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_root(tmp_path_factory.mktemp("tiny") / "root")


@pytest.mark.parametrize("kind", ["tarball", "raw", "partitioned-raw", "qcow2"])
def test_an_uploaded_image_boots(
    local_backend: LocalBackend, root: Path, tmp_path: Path, kind: str
) -> None:
    if kind == "tarball":
        image = make_tarball(root, tmp_path / "root.tar.gz")
    elif kind == "raw":
        image = make_ext4_disk(root, tmp_path / "disk.raw")
    elif kind == "partitioned-raw":
        image = make_ext4_disk(root, tmp_path / "disk.raw", partitioned=True)
    else:
        image = to_qcow2(
            make_ext4_disk(root, tmp_path / "disk.raw", partitioned=True), tmp_path / "disk.qcow2"
        )

    server = boot(local_backend, spec(f"from-{kind}", image=upload(local_backend, image)))
    inside = exec_in(
        local_backend.context.data_dir / "runc", server.ref, "/bin/busybox readlink /sbin/init"
    )
    assert inside.stdout == "/bin/busybox\n", inside.stderr
    local_backend.compute.delete_server(server.ref)


def test_an_uploaded_image_gets_no_login_plan_whatever_lies_beside_its_root(
    local_backend: LocalBackend, root: Path, tmp_path: Path
) -> None:
    """A login plan replays a built image's own accounts (:mod:`.loginplan`); only the built
    image's, kept beside its root in the cache, is ever given to an instance."""
    images = local_backend.image
    assert isinstance(images, LocalImages)
    ref = upload(local_backend, make_tarball(root, tmp_path / "root.tar.gz"))
    planted = plan_path(images.root_for(ref))
    planted.write_text("#!/bin/sh\necho not this image's plan\n")
    assert images.login_plan(ref) is None
    built = plan_path(image_root(images.cache_dir, DEFAULT_IMAGE))
    assert images.login_plan(None) == images.login_plan(builtin_ref()) == built

    server = boot(local_backend, spec("no-plan", image=ref))
    assert not (instance(local_backend, server.ref).boot_dir / LOGIN_PLAN).exists()
    local_backend.compute.delete_server(server.ref)


def test_a_deleted_images_root_serves_its_servers_until_the_last_goes(
    local_backend: LocalBackend, root: Path, tmp_path: Path
) -> None:
    """Glance deletes an image its servers booted from: a stopped one starts again from the
    root (its disk's lower layer), a running one keeps it; once the last server goes, the
    root leaves the host."""
    images = local_backend.image
    assert isinstance(images, LocalImages)
    ref = upload(local_backend, make_tarball(root, tmp_path / "root.tar.gz"))
    stopped = boot(local_backend, spec("stops", image=ref))
    running = boot(local_backend, spec("runs", image=ref))
    local_backend.compute.power_action(stopped.ref, PowerAction.STOP)
    settled(local_backend, stopped.ref, ServerStatus.STOPPED)

    images.delete_image(ref)
    local_backend.compute.power_action(stopped.ref, PowerAction.START)
    assert settled(local_backend, stopped.ref, ServerStatus.ACTIVE).status is ServerStatus.ACTIVE
    local_backend.compute.delete_server(stopped.ref)

    directory = images.directory / ref
    assert (directory / "root/bin/busybox").is_file()  # the running server's
    inside = exec_in(local_backend.context.data_dir / "runc", running.ref, "/bin/busybox true")
    assert inside.returncode == 0, inside.stderr
    local_backend.compute.delete_server(running.ref)
    assert not directory.exists()


def _random_bytes(tmp_path: Path, root: Path) -> Path:
    path = tmp_path / "random.img"
    path.write_bytes(os.urandom(3 * 1024 * 1024))
    return path


def _tarball_without_init(tmp_path: Path, root: Path) -> Path:
    return make_tarball(
        tiny_root(tmp_path / "no-init", with_init=False), tmp_path / "no-init.tar.gz"
    )


def _empty_ext4(tmp_path: Path, root: Path) -> Path:
    (tmp_path / "empty").mkdir()
    return make_ext4_disk(tmp_path / "empty", tmp_path / "empty.raw")


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (_random_bytes, "neither a root filesystem tarball nor a raw or qcow2 disk"),
        (_tarball_without_init, "has no /sbin/init"),
        (_empty_ext4, "has no /sbin/init and no /bin/sh"),
    ],
    ids=["random-bytes", "tarball-without-init", "empty-ext4"],
)
def test_an_image_without_a_usable_root_makes_error_with_a_one_line_fault(
    local_backend: LocalBackend, root: Path, tmp_path: Path, make: object, expected: str
) -> None:
    assert callable(make)
    image = upload(local_backend, make(tmp_path, root))
    created = local_backend.compute.create_server(spec("doomed", image=image))

    failed = settled(local_backend, created.ref, ServerStatus.ERROR)
    assert failed.status is ServerStatus.ERROR
    assert failed.fault is not None
    assert expected in failed.fault
    assert "\n" not in failed.fault and "Traceback" not in failed.fault
    local_backend.compute.delete_server(created.ref)
    assert created.ref not in {s.ref for s in local_backend.compute.list_servers()}


def test_a_server_of_an_unknown_image_makes_error(local_backend: LocalBackend) -> None:
    created = local_backend.compute.create_server(
        spec("lost", image=NativeRef("img-no-such-image"))
    )
    failed = settled(local_backend, created.ref, ServerStatus.ERROR)
    assert failed.fault is not None and "img-no-such-image" in failed.fault
    local_backend.compute.delete_server(created.ref)


def test_a_built_image_streams_as_a_tarball_built_on_its_first_read(
    tmp_path: Path, default_image: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    built: list[str] = []

    def ensure_built(cache_dir: Path, name: str, **_: object) -> Path:
        built.append(name)
        return default_image

    monkeypatch.setattr("interstack.backends.local.images.ensure_built", ensure_built)
    images = LocalImages(tmp_path / "images", tmp_path / "cache")
    images.open_image(builtin_ref()).close()  # only opened (a volume checking its source)
    assert built == []

    stream = images.open_image(builtin_ref())
    first = next(iter(stream))
    stream.close()

    assert built == ["debian-12"]
    assert first[257:262] == b"ustar"
    with pytest.raises(NotFound):
        images.open_image(NativeRef("builtin-no-such-image"))
