"""A reboot asked for inside a local guest, made by the supervisor (:mod:`.rebooter`) with or
without the gateway: what it does by the gateway's record of the instance, what it records for
the gateway, that it keeps the supervisor from exiting as idle while it waits, and the pieces it
relies on (the exit record the gateway trusts, the bundle's device list, the instance lock)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from interstack.backends.contract import FlavorSpec, ServerSpec
from interstack.backends.local import exitrecord, utmp
from interstack.backends.local.bundle import BlockDevice, with_devices
from interstack.backends.local.exitrecord import ExitRecord, Reboot
from interstack.backends.local.guest import REBOOT_EXIT_CODE
from interstack.backends.local.guestfiles import GuestNetwork, load_network, save_network
from interstack.backends.local.guestreboots import GuestReboots
from interstack.backends.local.hostlock import DirectoryLock
from interstack.backends.local.images import LocalImages
from interstack.backends.local.instance_ends import after_exit
from interstack.backends.local.instance_record import InstanceRecord, Phase
from interstack.backends.local.instances import Instance
from interstack.backends.local.lifecycle import InstanceJobs
from interstack.backends.local.rebooter import Rebooter
from interstack.backends.local.settings import LocalSettings

REF = "ls-guest"


class Supervisor:
    """What the rebooter drives, recorded: runc runs, starts, watched pids."""

    def __init__(self, start_reply: dict[str, Any]) -> None:
        self.commands: list[list[str]] = []
        self.started: list[dict[str, Any]] = []
        self.watched: dict[int, Callable[[int], None]] = {}
        self.booted: list[tuple[str, int]] = []
        self.start_reply = start_reply

    def run(self, argv: list[str], log: Path) -> int:
        self.commands.append(argv)
        return 0

    def start(self, request: dict[str, Any]) -> dict[str, Any]:
        self.started.append(request)
        return self.start_reply

    def on_exit(self, pid: int, action: Callable[[int], None]) -> None:
        self.watched[pid] = action

    def boot_weighed(self, instance: Instance, pid: int) -> None:
        self.booted.append((instance.ref, pid))


@pytest.fixture
def instance(tmp_path: Path) -> Instance:
    found = Instance(tmp_path / "instances", tmp_path / "runc", REF)
    flavor = FlavorSpec(vcpus=1, ram_mb=256, disk_gb=1)
    server = ServerSpec(gateway_id="guest", name="guest", project_id="p1", flavor=flavor)
    found.save(InstanceRecord.from_spec(server).moved(Phase.ACTIVE, ref=REF))
    found.boot_dir.mkdir(parents=True)
    return found


def request_of(instance: Instance) -> dict[str, Any]:
    return {
        "runc_root": str(instance.runc_root),
        "bundle": str(instance.bundle),
        "id": instance.ref,
        "log": str(instance.console),
    }


def rebooter_for(supervisor: Supervisor, interval: float = 10.0) -> Rebooter:
    return Rebooter(
        supervisor.run,
        supervisor.start,
        supervisor.on_exit,
        GuestReboots(interval),
        booted=supervisor.boot_weighed,
    )


def settled(rebooter: Rebooter) -> None:
    """Wait (briefly: no pacing here) for the reboot on its timer thread to be done."""
    for thread in threading.enumerate():
        if isinstance(thread, threading.Timer):
            thread.join(30)
    assert not rebooter.pending


def test_a_guest_reboot_starts_the_instance_again_and_names_the_new_pid_1(
    instance: Instance,
) -> None:
    supervisor = Supervisor({"ok": True, "pid": 4242})
    rebooter = rebooter_for(supervisor)
    rebooter.watch(request_of(instance), 100)

    supervisor.watched.pop(100)(REBOOT_EXIT_CODE)
    settled(rebooter)

    [delete] = supervisor.commands  # the ended container, from runc
    assert delete[-6:] == ["runc", "--root", str(instance.runc_root), "delete", "--force", REF]
    assert supervisor.started == [request_of(instance)]
    assert exitrecord.read(instance.dir) == ExitRecord(
        100, REBOOT_EXIT_CODE, Reboot.DONE, next_pid=4242
    )
    assert list(supervisor.watched) == [4242]  # the new PID 1's end is acted on in turn
    assert supervisor.booted == [(REF, 4242)]  # it weighs as a booting instance until up
    assert "the guest rebooted itself: booting it again" in instance.console.read_text()
    assert (instance.boot_dir / utmp.RECORD_NAME).exists()  # the new boot's record

    supervisor.watched.pop(4242)(0)  # then a poweroff: recorded, nothing started
    assert exitrecord.read(instance.dir) == ExitRecord(4242, 0)
    assert len(supervisor.started) == 1


@pytest.mark.parametrize("phase", [Phase.STOPPING, Phase.REBOOTING, Phase.STOPPED])
def test_an_instance_the_gateway_is_changing_is_not_booted_again(
    instance: Instance, phase: Phase
) -> None:
    record = instance.load()
    assert record is not None
    instance.save(record.moved(phase))
    supervisor = Supervisor({"ok": True, "pid": 4242})
    rebooter = rebooter_for(supervisor)

    rebooter.ended(request_of(instance), 100, REBOOT_EXIT_CODE)
    settled(rebooter)

    assert (supervisor.commands, supervisor.started) == ([], [])
    assert exitrecord.read(instance.dir) == ExitRecord(100, REBOOT_EXIT_CODE, Reboot.SKIPPED)


def test_a_reboot_that_runc_refuses_is_recorded_failed_with_why(instance: Instance) -> None:
    supervisor = Supervisor({"ok": False, "error": "no such device"})
    rebooter = rebooter_for(supervisor)

    rebooter.ended(request_of(instance), 100, REBOOT_EXIT_CODE)
    settled(rebooter)

    assert exitrecord.read(instance.dir) == ExitRecord(
        100, REBOOT_EXIT_CODE, Reboot.FAILED, error="no such device"
    )
    assert supervisor.watched == {}


class Broken(Supervisor):
    """A supervisor whose start raises (runc missing, a log it cannot open)."""

    def start(self, request: dict[str, Any]) -> dict[str, Any]:
        raise FileNotFoundError("runc")


def test_a_reboot_that_raises_is_recorded_failed_not_left_pending(instance: Instance) -> None:
    """A record left pending would have the gateway wait for a boot that never comes."""
    rebooter = rebooter_for(Broken({}))

    rebooter.ended(request_of(instance), 100, REBOOT_EXIT_CODE)
    settled(rebooter)

    assert exitrecord.read(instance.dir) == ExitRecord(
        100, REBOOT_EXIT_CODE, Reboot.FAILED, error="FileNotFoundError: runc"
    )


def test_a_paced_reboot_is_pending_meanwhile_so_the_supervisor_stays(instance: Instance) -> None:
    supervisor = Supervisor({"ok": True, "pid": 4242})
    rebooter = rebooter_for(supervisor, interval=3600.0)
    rebooter.ended(request_of(instance), 100, REBOOT_EXIT_CODE)
    settled(rebooter)  # the first goes at once

    rebooter.ended(request_of(instance), 4242, REBOOT_EXIT_CODE)

    assert rebooter.pending
    assert exitrecord.read(instance.dir) == ExitRecord(
        4242,
        REBOOT_EXIT_CODE,
        Reboot.PENDING,
        supervisor=os.getpid(),
        supervisor_start=exitrecord.process_start(os.getpid()),
    )
    assert "its boot waits 3600 s" in instance.console.read_text()
    for thread in threading.enumerate():
        if isinstance(thread, threading.Timer):
            thread.cancel()


def state_names(instance: Instance, pid: int) -> None:
    """runc's state file naming ``pid`` as the instance's PID 1."""
    (instance.runc_root / REF).mkdir(parents=True, exist_ok=True)
    (instance.runc_root / REF / "state.json").write_text(json.dumps({"init_process_pid": pid}))


def test_the_gateway_trusts_only_the_record_of_the_pid_1_runc_knows(instance: Instance) -> None:
    """A record of an earlier PID 1 is stale (a boot since); a reboot done is the current
    record only while its new PID 1 lives (once that ends, its own record follows)."""
    exitrecord.write(instance.dir, ExitRecord(100, 0))
    assert instance.exit_record() == ExitRecord(100, 0)  # no runc state: nothing to doubt
    state_names(instance, 100)
    assert instance.exit_record() == ExitRecord(100, 0)
    state_names(instance, 200)
    assert instance.exit_record() is None

    done = ExitRecord(200, REBOOT_EXIT_CODE, Reboot.DONE, next_pid=os.getpid())
    exitrecord.write(instance.dir, done)
    state_names(instance, os.getpid())
    assert instance.exit_record() is None  # this process is in no instance's cgroup: not it


#: a process that says it runs, then waits for its stdin to close
STANDS_IN = "import sys; print('up', flush=True); sys.stdin.read()"


@contextmanager
def stand_in_supervisor() -> Iterator[int]:
    """The pid of a process that runs with the supervisor's command line, while in the block."""
    running = subprocess.Popen(
        [sys.executable, "-c", STANDS_IN, exitrecord.SUPERVISOR_MODULE],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        assert running.stdout is not None
        assert running.stdout.readline() == b"up\n"  # its exec done: its command line is set
        yield running.pid
    finally:
        assert running.stdin is not None and running.stdout is not None
        running.stdin.close()
        running.stdout.close()
        running.wait()


def test_a_reboot_pending_with_its_supervisor_gone_has_failed_for_the_gateway(
    instance: Instance,
) -> None:
    """A supervisor killed, or the host rebooted, while a reboot waited: nobody makes it, and
    the gateway, waiting on a pending record, would show the server booting for ever."""
    gone = subprocess.Popen(["true"])
    gone.wait()
    pending = ExitRecord(100, REBOOT_EXIT_CODE, Reboot.PENDING, supervisor=gone.pid)
    exitrecord.write(instance.dir, pending)
    ended = instance.exit_record()
    assert ended is not None and (ended.reboot, ended.rebooting) == (Reboot.FAILED, False)
    assert ended.error == "the supervisor booting it again ended before it could"

    with stand_in_supervisor() as running:
        pending = ExitRecord(100, REBOOT_EXIT_CODE, Reboot.PENDING, supervisor=running)
        exitrecord.write(instance.dir, pending)
        assert instance.exit_record() == pending


def test_a_hot_attach_rewrites_only_the_bundles_volume_devices() -> None:
    config = {
        "process": {"args": ["tini"]},
        "linux": {
            "devices": [{"path": "/dev/vdb", "type": "b", "major": 7, "minor": 1}],
            "resources": {"memory": {"limit": 1}, "devices": [{"allow": False}]},
        },
    }

    rewritten = with_devices(config, (BlockDevice("/dev/vdc", 7, 3),))

    assert [d["path"] for d in rewritten["linux"]["devices"]] == ["/dev/vdc"]
    allowed = [r for r in rewritten["linux"]["resources"]["devices"] if r.get("type") == "b"]
    assert [(r["major"], r["minor"], r["access"]) for r in allowed] == [(7, 3, "rw")]
    assert rewritten["linux"]["resources"]["devices"][0] == {"allow": False, "access": "rwm"}
    assert rewritten["linux"]["resources"]["memory"] == {"limit": 1}
    assert rewritten["process"] == config["process"]


#: in a process of its own: takes the instance's lock as the supervisor does, says so, holds it
SUPERVISOR_HOLDS = """
import sys, time
from pathlib import Path
from interstack.backends.local import hostlock
with hostlock.held(Path(sys.argv[1])):
    print("held", flush=True)
    time.sleep(float(sys.argv[2]))
    (Path(sys.argv[1]) / "supervisor-done").write_text("done")
"""


def test_the_gateways_instance_lock_waits_for_the_supervisors(tmp_path: Path) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", SUPERVISOR_HOLDS, str(tmp_path), "1"],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline() == "held\n"
    with DirectoryLock(tmp_path):
        assert (tmp_path / "supervisor-done").exists()  # the supervisor's hold ended first
    holder.stdout.close()
    assert holder.wait() == 0
    with DirectoryLock(tmp_path / "gone"):  # no instance directory: nothing to lock, no error
        assert not (tmp_path / "gone").exists()


def test_a_reboot_whose_guest_files_cannot_be_written_is_recorded_failed(
    instance: Instance,
) -> None:
    """The supervisor writes the guest's boot files from the gateway's last network facts into
    the mounted root; with the root not mounted it starts nothing."""
    save_network(instance, GuestNetwork(metadata_service=True, resolvers=("192.0.2.53",)))
    supervisor = Supervisor({"ok": True, "pid": 4242})
    rebooter = rebooter_for(supervisor)

    rebooter.ended(request_of(instance), 100, REBOOT_EXIT_CODE)
    settled(rebooter)

    assert supervisor.started == []
    assert exitrecord.read(instance.dir) == ExitRecord(
        100, REBOOT_EXIT_CODE, Reboot.FAILED, error="its boot files: its root is not mounted"
    )


def test_the_supervisor_reads_the_network_facts_the_gateway_last_wrote(tmp_path: Path) -> None:
    instance = Instance(tmp_path / "instances", tmp_path / "runc", REF)
    assert load_network(instance) is None  # a gateway from before wrote none
    for network in (
        GuestNetwork(metadata_service=True, resolvers=("192.0.2.53", "192.0.2.54")),
        GuestNetwork(metadata_service=False, resolvers=None),
    ):
        save_network(instance, network)
        assert load_network(instance) == network


class Untouched(Instance):
    """An instance with no host artifacts to remove (none were made here)."""

    def teardown(self) -> None:
        return None


def test_a_reboot_the_supervisor_could_not_make_stops_the_instance(tmp_path: Path) -> None:
    """One way a guest's own reboot happens: the supervisor's. One it could not make (failed,
    or skipped) stops the instance with why on its console, and a boot a task waits for tells
    the task; only a supervisor from before, which records no reboot, has the gateway boot it."""
    jobs = InstanceJobs(tmp_path, LocalSettings(), LocalImages(tmp_path / "img", tmp_path / "c"))
    instance = Untouched(jobs.instances_dir, jobs.runc_root, REF)
    flavor = FlavorSpec(vcpus=1, ram_mb=256, disk_gb=1)
    spec = ServerSpec(gateway_id="guest", name="guest", project_id="p1", flavor=flavor)
    running = InstanceRecord.from_spec(spec).moved(Phase.ACTIVE, ref=REF)
    instance.save(running)
    failed = ExitRecord(100, REBOOT_EXIT_CODE, Reboot.FAILED, error="runc said no")

    for ended in (failed, ExitRecord(100, REBOOT_EXIT_CODE, Reboot.SKIPPED)):
        after = after_exit(instance, running, ended)
        assert (after.phase, after.boot_ended, after.crashed) == (Phase.STOPPED, None, False)
    assert "booting it again failed (runc said no)" in instance.console.read_text()
    in_create = running.moved(Phase.BOOTING, booting_as=Phase.BUILDING)
    told = after_exit(instance, in_create, failed).boot_ended
    assert told is not None and "rebooted itself during its boot" in told

    from_before = ExitRecord(100, REBOOT_EXIT_CODE)  # an older supervisor's: no reboot made
    assert after_exit(instance, running, from_before).phase is Phase.REBOOTING


def test_a_pending_reboots_supervisor_is_known_by_its_start_not_its_pid_alone(
    instance: Instance,
) -> None:
    """The supervisor recorded as making a reboot ended, and its pid went to another process
    (another backend's supervisor, or any process after a host reboot): that process makes
    no reboot of this instance, and the gateway must not wait for one."""
    with stand_in_supervisor() as other:  # not the recorded supervisor
        start = exitrecord.process_start(other)
        assert start is not None and start != exitrecord.process_start(os.getpid())
        boot_id, _, ticks = start.rpartition(":")
        earlier = f"{boot_id}:{int(ticks) - 1}"  # the one that had the pid before
        pending = ExitRecord(
            100, REBOOT_EXIT_CODE, Reboot.PENDING, supervisor=other, supervisor_start=earlier
        )
        exitrecord.write(instance.dir, pending)
        ended = instance.exit_record()
        assert ended is not None and (ended.reboot, ended.rebooting) == (Reboot.FAILED, False)

        running = replace(pending, supervisor_start=start)  # the supervisor itself
        exitrecord.write(instance.dir, running)
        assert instance.exit_record() == running


def test_a_reboot_whose_wait_cannot_start_is_recorded_failed_not_left_pending(
    instance: Instance, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No thread to wait on (the host's thread limit): nobody would make the reboot, the
    supervisor would never exit as idle and the gateway would wait on the record for ever."""

    def refused(self: threading.Timer) -> None:
        raise RuntimeError("can't start new thread")

    monkeypatch.setattr(threading.Timer, "start", refused)
    rebooter = rebooter_for(Supervisor({"ok": True, "pid": 4242}))

    rebooter.ended(request_of(instance), 100, REBOOT_EXIT_CODE)

    assert not rebooter.pending
    assert exitrecord.read(instance.dir) == ExitRecord(
        100, REBOOT_EXIT_CODE, Reboot.FAILED, error="RuntimeError: can't start new thread"
    )
