"""A guest's volume mounts, answered by the supervisor (:func:`.guestmount.answer`): only of a
device its instance's bundle lists (the volumes attached to it), only while it runs; and the
service answering every instance's socket (:class:`.guestmount.MountService`), which no guest
can keep from the others' mounts or bring down."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from interstack.backends.local import hostlock
from interstack.backends.local.bundle import BlockDevice, with_devices
from interstack.backends.local.instances import Instance
from interstack.backends.local.volumes import guestmount, plug
from interstack.errors import BadRequest, Conflict

REF = "ls-guest"


class Running(Instance):
    """An instance whose PID 1 runs (this process stands in for it)."""

    def init_pid(self) -> int | None:
        return 4242


def with_bundle(instance: Instance, devices: tuple[BlockDevice, ...]) -> Instance:
    instance.bundle.mkdir(parents=True)
    config: dict[str, Any] = {"linux": {"resources": {}, "devices": []}}
    (instance.bundle / "config.json").write_text(json.dumps(with_devices(config, devices)))
    return instance


def never(argv: list[str]) -> tuple[int, str]:
    raise AssertionError(f"no host tool may run: {argv}")


def mount_of(major: int, minor: int) -> dict[str, Any]:
    return {
        "op": "mount",
        "device": [major, minor],
        "target": "/srv/data",
        "fstype": "ext4",
        "options": "",
    }


def test_a_guest_may_mount_only_a_device_its_bundle_lists(tmp_path: Path) -> None:
    instance = with_bundle(
        Running(tmp_path / "instances", tmp_path / "runc", REF), (BlockDevice("/dev/vdb", 7, 3),)
    )
    for major, minor in ((7, 4), (8, 0), (7, 3 + 256)):  # another loop, the host's disk
        with pytest.raises(BadRequest, match="is not a volume attached to this server"):
            guestmount.answer(instance, mount_of(major, minor), never)


def test_a_guest_that_does_not_run_mounts_nothing(tmp_path: Path) -> None:
    instance = Instance(tmp_path / "instances", tmp_path / "runc", REF)
    with_bundle(instance, (BlockDevice("/dev/vdb", 7, 3),))
    with pytest.raises(Conflict, match="is not running"):
        guestmount.answer(instance, mount_of(7, 3), never)


def test_a_mount_waits_for_the_instances_lock_within_a_bound_and_says_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A change that holds the instance's lock past the bound (a long snapshot of its root
    volume) has the mount refused while the guest still waits for its answer, not made
    after its helper gave up."""
    monkeypatch.setattr(guestmount, "LOCK_WAIT_SECONDS", 0.2, raising=False)
    instance = with_bundle(
        Running(tmp_path / "instances", tmp_path / "runc", REF), (BlockDevice("/dev/vdb", 7, 3),)
    )
    taken, answered = threading.Event(), threading.Event()

    def change() -> None:  # lets go once answered, or after 5 s (an unbounded wait then mounts)
        with hostlock.held(instance.dir):
            taken.set()
            answered.wait(5)

    holder = threading.Thread(target=change)
    holder.start()
    taken.wait()
    try:
        with pytest.raises(Conflict, match=f"server {REF} is busy .* try the mount again"):
            guestmount.answer(instance, mount_of(7, 3), never)
    finally:
        answered.set()
        holder.join()


# -- the service: what one guest sends keeps no other server's mounts waiting, nor ends it ----


class Answered:
    """A handler that records the servers it answered; a request naming ``raise`` raises."""

    def __init__(self) -> None:
        self.servers: list[str] = []

    def __call__(self, server: str, request: dict[str, Any]) -> None:
        if request.get("op") == "raise":
            raise RuntimeError("a bug of the host's")
        self.servers.append(server)


@pytest.fixture
def service(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[guestmount.MountService]:
    # a silent guest would hold a request this long: far beyond any test's bound
    monkeypatch.setattr(guestmount, "REQUEST_TIMEOUT_SECONDS", 3600.0)
    found = guestmount.MountService(Answered())
    found.start()
    for server in ("ls-one", "ls-two"):
        found.listen(server, tmp_path / server)
    yield found
    found.close()


def connect(tmp_path: Path, server: str) -> socket.socket:
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    conn.settimeout(120)  # turns a hang into a failure
    conn.connect(str(tmp_path / server / guestmount.SOCKET_NAME))
    return conn


def ask(tmp_path: Path, server: str, request: bytes) -> dict[str, Any]:
    with connect(tmp_path, server) as conn:
        conn.sendall(request)
        reply: dict[str, Any] = json.loads(conn.makefile().readline() or "{}")
        return reply


def test_a_silent_guest_keeps_no_other_servers_mount_waiting(
    service: guestmount.MountService, tmp_path: Path
) -> None:
    silent = [connect(tmp_path, "ls-one") for _ in range(guestmount.CONNECTIONS_PER_SERVER)]
    try:
        assert ask(tmp_path, "ls-two", b'{"op": "mount"}\n') == {"ok": True}
        with connect(tmp_path, "ls-one") as beyond:  # its fill: refused, not queued
            assert beyond.recv(1) == b""
    finally:
        for conn in silent:
            conn.close()
    assert service.handler.servers == ["ls-two"]  # type: ignore[attr-defined]


def test_a_server_made_anew_under_its_name_is_answered_on_its_new_socket(
    service: guestmount.MountService, tmp_path: Path
) -> None:
    """A rebuild deletes the instance's directory (its socket with it) and makes it again
    under the same name before the service is told to forget it."""
    shutil.rmtree(tmp_path / "ls-one")
    (tmp_path / "ls-one").mkdir()
    service.listen("ls-one", tmp_path / "ls-one")
    assert ask(tmp_path, "ls-one", b'{"op": "mount"}\n') == {"ok": True}
    service.listen("ls-one", tmp_path / "ls-one")  # the same socket: kept
    assert ask(tmp_path, "ls-one", b'{"op": "mount"}\n') == {"ok": True}


def test_a_prune_that_saw_the_directory_gone_keeps_the_socket_bound_since(
    service: guestmount.MountService, tmp_path: Path
) -> None:
    """The supervisor's prune looks for deleted instances while a rebuild deletes the
    directory and makes it anew; the look and the drop are one step under the guard that
    listen holds, so the rebuilt guest's socket is not dropped for the old one."""
    shutil.rmtree(tmp_path / "ls-one")  # the rebuild deletes the instance
    assert not (tmp_path / "ls-one").is_dir()  # what the prune saw
    (tmp_path / "ls-one").mkdir()  # made anew, and booted
    service.listen("ls-one", tmp_path / "ls-one")

    service.forget_deleted("ls-one", tmp_path / "ls-one")

    assert ask(tmp_path, "ls-one", b'{"op": "mount"}\n') == {"ok": True}
    shutil.rmtree(tmp_path / "ls-one")  # deleted for good
    service.forget_deleted("ls-one", tmp_path / "ls-one")
    assert service.servers() == ["ls-two"]


def test_a_request_that_never_ends_is_refused_at_its_bound(
    service: guestmount.MountService, tmp_path: Path
) -> None:
    huge = b"x" * (guestmount.MAX_REQUEST_BYTES + 1)
    assert ask(tmp_path, "ls-one", huge)["error"].startswith("bad request: a request is at most")
    assert ask(tmp_path, "ls-one", b"[" * 10_000 + b"\n")["error"].startswith("bad request")
    assert ask(tmp_path, "ls-one", b"[1, 2]\n")["error"].startswith("bad request")
    assert ask(tmp_path, "ls-one", b'{"op": "raise"}\n') == {
        "ok": False,
        "error": "the host failed to answer; see its log",
    }
    assert ask(tmp_path, "ls-one", b'{"op": "mount"}\n') == {"ok": True}  # it answers on


def test_a_request_sent_a_byte_at_a_time_has_one_deadline(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(guestmount, "REQUEST_TIMEOUT_SECONDS", 0.5)
    host, guest = socket.socketpair()
    stop = threading.Event()

    def drip() -> None:  # each byte well within the deadline, the request never whole
        while not stop.wait(0.05):
            guest.send(b" ")

    dripping = threading.Thread(target=drip)
    dripping.start()
    try:
        with pytest.raises(TimeoutError, match="no whole request within"):
            guestmount.read_request(host)
    finally:
        stop.set()
        dripping.join()
        host.close()
        guest.close()


# -- the limits: the host's mount tool is killed first, and the guest hears that --------------


@pytest.mark.skipif(shutil.which("losetup") is None or os.geteuid() != 0, reason="a loop device")
def test_a_mount_the_host_kills_at_its_limit_is_what_the_guest_reports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The guest's helper waits longer than the host lets the mount run (the supervisor and a
    gateway alike: :data:`.guestmount.MOUNT_TOOL_SECONDS`), so a mount that hangs on the host
    is reported to the guest as killed there — the helper gave up first when the host waited
    120 s (the supervisor) or 300 s (a gateway) and the helper 60 s."""
    monkeypatch.setattr(guestmount, "MOUNT_TOOL_SECONDS", 0.5)
    disk = tmp_path / "disk.raw"
    disk.write_bytes(b"")
    os.truncate(disk, 1024 * 1024)
    loop = plug.bind_loop(disk)
    try:
        instance = with_bundle(
            Running(tmp_path / "instances", tmp_path / "runc", REF),
            (BlockDevice("/dev/vdb", loop.major, loop.minor),),
        )

        def hangs(_argv: list[str]) -> tuple[int, str]:
            return guestmount.run_here(["sleep", "600"])  # a mount stuck on its device

        service = guestmount.MountService(
            lambda _server, request: guestmount.answer(instance, request, hangs)
        )
        service.start()
        service.listen(REF, tmp_path / "boot")
        try:
            guestmount.install_helper(tmp_path / "guest")
            socket_path = str(tmp_path / "boot" / guestmount.SOCKET_NAME)
            helper = (tmp_path / "guest" / guestmount.HELPER_NAME).read_text()
            (tmp_path / "mount.ext4").write_text(
                helper.replace("/run/interstack/volumes.sock", socket_path)
            )
            done = subprocess.run(
                [sys.executable, str(tmp_path / "mount.ext4"), loop.path, str(tmp_path)],
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
        finally:
            service.close()
    finally:
        plug.free_loops(disk)
    assert done.returncode == 32
    assert done.stderr.strip() == "mount: mount: sleep did not finish within 0.5 s and was killed"
