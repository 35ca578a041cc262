"""A volume being filled in the local backend's volume store when the gateway process filling it
is killed midway, and when another gateway process on the same data dir starts meanwhile: a
start marks a dead filler's volume ERROR and removes its disk and the temporary file it was
filling; a live filler's volume, disk and file stay, and it ends AVAILABLE."""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, cast

import pytest

from interstack.backends.contract import NativeRef, VolumeSpec, VolumeStatus
from interstack.backends.local.volumes import LocalBlockStorage
from tests.support.waiting import eventually
from tests.support.writers import writer_waiting

#: a gateway process creating the empty volume ``one``: its file's first bytes written, it
#: says so and waits for its stdin to end before it finishes the file
WRITER = """
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from interstack.backends.contract import VolumeSpec
from interstack.backends.local.volumes import LocalBlockStorage, driver, fill

storage = LocalBlockStorage(Path(sys.argv[1]), None, None)
storage._jobs = ThreadPoolExecutor(1)
empty = fill.empty


def slow_empty(path, size_gb):
    path.write_bytes(b"first bytes")
    print("writing", flush=True)
    sys.stdin.read()
    empty(path, size_gb)


driver.fill.empty = slow_empty
storage.create_volume(VolumeSpec(gateway_id="one", name="", project_id="p", size_gb=1))
storage._jobs.shutdown(wait=True)
print("stored", storage.shelf.get_volume("vol-one").status, flush=True)
"""


class Supervised:
    """Instances whose supervisor answers the guests' mounts: the driver starts no service."""

    def supervisor_answers_mounts(self) -> bool:
        return True


@pytest.fixture
def storage(tmp_path: Path) -> Iterator[LocalBlockStorage]:
    found = LocalBlockStorage(tmp_path / "volumes", cast(Any, None), cast(Any, Supervised()))
    yield found
    found.close()


ONE = NativeRef("vol-one")


@pytest.fixture
def writer(storage: LocalBlockStorage) -> Iterator[subprocess.Popen[str]]:
    """Another gateway process on the data dir, filling volume ``one`` (midway once this
    gives it)."""
    with writer_waiting(WRITER, str(storage.shelf.directory)) as process:
        yield process


def leftovers(storage: LocalBlockStorage) -> list[str]:
    return sorted(p.name for p in (storage.shelf.directory / "vol-one").glob("*disk*"))


def test_a_fill_killed_midway_leaves_an_error_volume_and_no_file_at_the_next_start(
    storage: LocalBlockStorage, writer: subprocess.Popen[str]
) -> None:
    assert leftovers(storage) == [".disk.raw.part"]
    writer.kill()
    writer.wait()

    storage.start()

    volume = storage.shelf.get_volume(ONE)
    assert volume.status is VolumeStatus.ERROR and volume.fault
    assert leftovers(storage) == []


def test_a_live_fill_in_another_process_keeps_its_volume_and_file(
    storage: LocalBlockStorage, writer: subprocess.Popen[str]
) -> None:
    storage.start()

    assert storage.shelf.get_volume(ONE).status is VolumeStatus.CREATING
    assert leftovers(storage) == [".disk.raw.part"] and writer.poll() is None
    out, _ = writer.communicate("", timeout=60)
    assert out == "stored available\n"
    assert leftovers(storage) == ["disk.raw"]


class Recorded(ThreadPoolExecutor):
    """One worker; the futures of the jobs submitted, in order."""

    def __init__(self) -> None:
        super().__init__(1)
        self.submitted: list[Future[Any]] = []

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Future[Any]:
        future = super().submit(fn, *args, **kwargs)
        self.submitted.append(future)
        return future


def test_a_fill_a_close_cancelled_is_given_up_at_the_next_start_in_the_same_process(
    tmp_path: Path,
) -> None:
    """A close cancels the fills still queued; each one's lock goes with it (its descriptor
    was left open, the lock held for as long as the process lived: the next start passed over
    the volume as another process's live fill, and it stayed creating)."""
    first = LocalBlockStorage(tmp_path / "volumes", cast(Any, None), cast(Any, Supervised()))
    jobs = first._jobs = Recorded()
    busy = threading.Event()
    jobs.submit(busy.wait)  # the one worker is busy: the fill waits in the queue
    first.create_volume(VolumeSpec(gateway_id="one", name="", project_id="p", size_gb=1))
    closing = threading.Thread(target=first.close)
    closing.start()
    eventually(jobs.submitted[-1].cancelled, bool, "the queued fill cancelled")
    busy.set()
    closing.join()

    again = LocalBlockStorage(tmp_path / "volumes", cast(Any, None), cast(Any, Supervised()))
    try:
        again.start()
        volume = again.shelf.get_volume(ONE)
        assert volume.status is VolumeStatus.ERROR and volume.fault
        assert leftovers(again) == []
    finally:
        again.close()
