"""A Swift object's put in the local backend's object store when the gateway process putting it
is killed midway — while its content streams in (a temporary file left) or once its content
file is written but before the object's record points at it (a content file no record names)
— and when another gateway process on the same data dir starts meanwhile: what the dead
writer left goes at a start, a live writer's files never do, and a start does not wait."""

from __future__ import annotations

import fcntl
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from interstack.backends.contract import NativeRef
from interstack.backends.local.objects import LocalObjectStore
from tests.support.writers import writer_waiting

#: a gateway process putting object ``one`` into the container of account ``a``: it says so
#: and waits for its stdin to end at the step its argument names — ``data``: its first bytes
#: written, before the rest; ``record``: its content file written, before its record
WRITER = """
import sys
from pathlib import Path

from interstack.backends.local import objects

store = objects.LocalObjectStore(Path(sys.argv[1]))
container = store.create_container("a", "c")
write_json = objects._write_json


def waiting(step):
    print(step, flush=True)
    sys.stdin.read()


def data():
    yield b"first bytes"
    if sys.argv[2] == "data":
        waiting("writing")
    yield b" and the rest"


def record(path, content):
    if sys.argv[2] == "record" and "file" in content:
        waiting("writing")
    write_json(path, content)


objects._write_json = record
store.put_object(container, "one", data(), "text/plain")
print("stored", flush=True)
"""


@pytest.fixture
def store(tmp_path: Path) -> LocalObjectStore:
    return LocalObjectStore(tmp_path / "objects")


@pytest.fixture
def container(store: LocalObjectStore) -> NativeRef:
    return store.create_container("a", "c")


@pytest.fixture(params=["data", "record"])
def writer(
    request: pytest.FixtureRequest, store: LocalObjectStore, container: NativeRef
) -> Iterator[subprocess.Popen[str]]:
    """Another gateway process on the data dir, putting object ``one`` (at the step the
    parameter names once this gives it)."""
    with writer_waiting(WRITER, str(store.root), request.param) as process:
        yield process


def files(store: LocalObjectStore, container: NativeRef) -> set[Path]:
    """The container's files besides its records: content files and temporary ones."""
    return {p for p in (store.root / container).iterdir() if p.is_file()}


def content(store: LocalObjectStore, container: NativeRef, name: str) -> bytes:
    _, stream = store.get_object(container, name)
    return b"".join(stream)


def test_what_a_put_killed_midway_left_goes_at_the_next_start(
    store: LocalObjectStore, container: NativeRef, writer: subprocess.Popen[str]
) -> None:
    """Objects stored before and after stay with their files; the dead writer's file (its
    temporary one, or its content no record names) stayed until the start, and goes then."""
    [left] = files(store, container)
    store.put_object(container, "kept", [b"kept"], "text/plain")
    writer.kill()
    writer.wait()
    store.put_object(container, "one", [b"put again"], "text/plain")
    assert left.exists()

    store.start()

    assert not left.exists()
    assert content(store, container, "one") == b"put again"
    assert content(store, container, "kept") == b"kept"
    assert len(files(store, container)) == 2
    assert not list(store.root.rglob("*.part"))


def test_a_live_put_in_another_process_keeps_its_files_and_a_start_does_not_wait(
    store: LocalObjectStore, container: NativeRef, writer: subprocess.Popen[str]
) -> None:
    [live] = files(store, container)

    store.start()

    assert live.exists() and writer.poll() is None
    out, _ = writer.communicate("", timeout=60)
    assert out == "stored\n"
    assert content(store, container, "one") == b"first bytes and the rest"
    assert len(files(store, container)) == 1
    assert not list(store.root.rglob("*.part"))


def test_a_put_that_locks_its_file_between_a_starts_look_and_removal_does_not_write_on(
    store: LocalObjectStore, container: NativeRef, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A put makes its temporary file, then locks it: a start looking in between finds no
    writer. The start removes the file with its lock held, so that a put taking the lock
    meanwhile finds the file removed once it has the lock (and makes another) — removed after
    the look only, the put took the lock on a file still there and wrote on into one gone (its
    rename then failed: the put lost)."""
    part = store.files.path(container, ".0123.obj.4567.part")
    part.parent.mkdir(parents=True, exist_ok=True)
    part.write_bytes(b"")
    put = os.open(part, os.O_RDWR | os.O_CLOEXEC)  # the put's file, not locked yet
    unlink = Path.unlink
    taken_live = []

    def removed(path: Path, missing_ok: bool = False) -> None:
        if path == part:  # the put takes its lock now, as it does after making the file
            try:
                fcntl.flock(put, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                pass  # the start holds it: the put finds the file removed once it has it
            else:
                taken_live.append(os.fstat(put).st_nlink > 0)
        unlink(path, missing_ok=missing_ok)

    monkeypatch.setattr(Path, "unlink", removed)
    try:
        store.start()
    finally:
        os.close(put)

    assert not part.exists()
    assert taken_live == [], "the put locked its file while still there, then it was removed"
