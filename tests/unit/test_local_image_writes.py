"""An image's data on its way in the local backend's image store (an upload's temporary file
beside it) when the gateway process writing it is killed midway, and when another gateway
process on the same data dir starts meanwhile: what the dead writer left goes at a start, a
live writer's file never does, and a start does not wait for a writer."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from interstack.backends.local.hostlock import LOCK_FILE, DirectoryLock
from interstack.backends.local.images import LocalImages
from tests.support.waiting import eventually
from tests.support.writers import writer_waiting

#: a gateway process uploading image ``one``: its first bytes written, it says so and waits
#: for its stdin to end before the rest (killed meanwhile: a gateway killed mid-upload)
WRITER = """
import sys
from pathlib import Path

from interstack.backends.local.images import LocalImages

images = LocalImages(Path(sys.argv[1]), Path(sys.argv[2]))


def data():
    yield b"first bytes"
    print("writing", flush=True)
    sys.stdin.read()
    yield b" and the rest"


images.store_image("one", data())
print("stored", flush=True)
"""


@pytest.fixture
def images(tmp_path: Path) -> LocalImages:
    found = LocalImages(tmp_path / "images", tmp_path / "cache")
    found.images_in_use = set
    return found


@pytest.fixture
def writer(images: LocalImages) -> Iterator[subprocess.Popen[str]]:
    """Another gateway process on the data dir, uploading image ``one`` (its first bytes
    written once this gives it)."""
    with writer_waiting(WRITER, str(images.directory), str(images.cache_dir)) as process:
        yield process


def parts(images: LocalImages) -> list[Path]:
    return sorted(images.directory.glob("*/.data.*.part"))


def test_the_file_of_an_upload_killed_midway_goes_at_the_next_start(
    images: LocalImages, writer: subprocess.Popen[str]
) -> None:
    """The image is uploaded again once the killed upload's is given up (Glance's image left
    saving): its data is stored, and the dead writer's file beside it went at no point
    before; the next start removes it."""
    [left] = parts(images)
    writer.kill()
    writer.wait()
    images.store_image("one", [b"uploaded again"])
    assert left.exists()

    images.start()

    assert not left.exists()
    assert (left.parent / "data").read_bytes() == b"uploaded again"


def test_a_live_upload_in_another_process_keeps_its_file_and_a_start_does_not_wait(
    images: LocalImages, writer: subprocess.Popen[str]
) -> None:
    """A start is not its business: the upload's file and its image's directory (no data in
    it yet, as a deleted image's) stay, and the start ends while the upload still runs."""
    [live] = parts(images)

    images.start()

    assert live.exists() and writer.poll() is None
    out, _ = writer.communicate("", timeout=60)
    assert out == "stored\n"
    assert (live.parent / "data").read_bytes() == b"first bytes and the rest"
    assert parts(images) == []


def _opened(path: Path) -> int:
    """How many of this process's descriptors are open on ``path``."""
    fds = Path("/proc/self/fd")
    return sum(1 for fd in fds.iterdir() if os.path.realpath(fd) == str(path))


def test_a_lock_waited_for_while_its_holder_removes_the_directory_holds_nothing(
    tmp_path: Path,
) -> None:
    """A release removes a deleted image's directory, its lock file in it, while a write of
    the image waits for that lock: had on the removed file, it would hold nothing another
    process sees (the write makes the directory again, and takes its new lock)."""
    directory = tmp_path / "img-one"
    directory.mkdir()
    holder, waiter = DirectoryLock(directory), DirectoryLock(directory)
    had: list[bool] = []
    with holder:
        thread = threading.Thread(target=lambda: had.append(waiter.__enter__()))
        thread.start()
        lock = directory / LOCK_FILE
        eventually(lambda: _opened(lock), lambda opened: opened == 2, "the waiter to wait")
        shutil.rmtree(directory)
    thread.join(timeout=30)
    waiter.__exit__(None, None, None)
    assert had == [False]
