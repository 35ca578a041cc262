"""What a guest sees of its virtual machine: a boot time of its own (uptime, btime, who -b), new
after every hard reboot or stop/start (its disk kept), exactly its flavor's vCPUs (/proc/cpuinfo,
/proc/stat, /sys/devices/system/cpu, nproc, lscpu), and its flavor's RAM in free."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from interstack.backends.contract import FlavorSpec, NativeRef, PowerAction, ServerStatus
from interstack.backends.local import LocalBackend
from tests.backends.local.helpers import boot, boot_minutes, runc_root, settled, spec
from tests.support.local import exec_in
from tests.support.waiting import eventually


def ok(backend: LocalBackend, server: NativeRef, command: str) -> str:
    done = exec_in(runc_root(backend), server, command)
    assert done.returncode == 0, f"{command!r} failed in {server}: {done.stdout}{done.stderr}"
    return done.stdout.strip()


def booted_at(backend: LocalBackend, server: NativeRef) -> tuple[float, int, float]:
    """The guest's boot instant from its /proc/uptime and its clock, the btime of its
    /proc/stat, and its uptime."""
    command = "cut -d' ' -f1 /proc/uptime; date +%s.%N; awk '/^btime/{print $2}' /proc/stat"
    uptime, now, btime = ok(backend, server, command).split()
    return float(now) - float(uptime), int(btime), float(uptime)


def boot_record_agrees(backend: LocalBackend, server: NativeRef, btime: int) -> bool:
    """Whether ``who -b`` in the guest names the minute of its boot at ``btime``."""
    words = ok(backend, server, "TZ=UTC LC_ALL=C who -b").split()
    return words[:2] == ["system", "boot"] and " ".join(words[2:]) in boot_minutes(btime, 1)


def up_for_a_while(backend: LocalBackend, server: NativeRef) -> tuple[float, int, float]:
    """The boot reading once the guest has been up for two seconds (so a later boot differs)."""
    return eventually(
        lambda: booted_at(backend, server), lambda seen: seen[2] > 2, "two seconds of uptime"
    )


def test_hard_reboot_and_stop_start_give_the_guest_a_new_boot_time_and_keep_its_disk(
    local_backend: LocalBackend,
) -> None:
    requested = time.time()
    server = boot(local_backend, spec("clock"))
    first, first_btime, _ = up_for_a_while(local_backend, server.ref)
    # the guest booted when the server did, not when the host did
    host_btime = int(Path("/proc/stat").read_text().split("btime ")[1].split()[0])
    assert first >= requested - 1 and first_btime >= requested - 2 > host_btime
    assert abs(first - first_btime) <= 2  # /proc/uptime and /proc/stat agree
    assert boot_record_agrees(local_backend, server.ref, first_btime)
    ok(local_backend, server.ref, "echo kept > /root/marker")

    reboot = time.time()
    local_backend.compute.power_action(server.ref, PowerAction.HARD_REBOOT)
    assert settled(local_backend, server.ref, ServerStatus.ACTIVE).status is ServerStatus.ACTIVE
    second, second_btime, _ = up_for_a_while(local_backend, server.ref)
    assert second >= reboot - 1 and second > first
    assert second_btime >= int(reboot) - 1 and second_btime > first_btime
    assert boot_record_agrees(local_backend, server.ref, second_btime)
    assert ok(local_backend, server.ref, "cat /root/marker") == "kept"

    local_backend.compute.power_action(server.ref, PowerAction.STOP)
    assert settled(local_backend, server.ref, ServerStatus.STOPPED).status is ServerStatus.STOPPED
    started = time.time()
    local_backend.compute.power_action(server.ref, PowerAction.START)
    assert settled(local_backend, server.ref, ServerStatus.ACTIVE).status is ServerStatus.ACTIVE
    third, _, _ = booted_at(local_backend, server.ref)
    assert third >= started - 1 and third > second
    assert ok(local_backend, server.ref, "cat /root/marker") == "kept"
    local_backend.compute.delete_server(server.ref)


def test_a_hard_reboot_right_after_the_boot_still_moves_the_boot_time_on(
    local_backend: LocalBackend,
) -> None:
    """What a guest reads of its boot is whole seconds; a reboot a moment after the boot (a
    test's first action) must change it, read as btime or as now less whole seconds of uptime."""
    server = boot(local_backend, spec("quick-reboot"))
    _, first_btime, first_uptime = booted_at(local_backend, server.ref)
    first_coarse = int(time.time() - int(first_uptime))
    local_backend.compute.power_action(server.ref, PowerAction.HARD_REBOOT)
    assert settled(local_backend, server.ref, ServerStatus.ACTIVE).status is ServerStatus.ACTIVE
    _, second_btime, second_uptime = booted_at(local_backend, server.ref)
    assert second_btime >= first_btime + 2, (first_btime, second_btime)
    assert int(time.time() - int(second_uptime)) > first_coarse
    local_backend.compute.delete_server(server.ref)


@pytest.mark.parametrize("vcpus", [1, 2, 3])
def test_cpuinfo_lists_the_flavors_vcpus_and_free_its_ram(
    local_backend: LocalBackend, vcpus: int
) -> None:
    ram_mb = 256 + 64 * vcpus
    flavor = FlavorSpec(vcpus=vcpus, ram_mb=ram_mb, disk_gb=1)
    server = boot(local_backend, spec(f"cpus-{vcpus}", flavor=flavor))
    listed = ok(local_backend, server.ref, "grep -c ^processor /proc/cpuinfo")
    numbers = ok(local_backend, server.ref, "awk -F': ' '/^processor/{print $2}' /proc/cpuinfo")
    usable = ok(local_backend, server.ref, "nproc")
    assert int(listed) == vcpus
    assert numbers.split() == [str(n) for n in range(vcpus)]
    # sysfs, /proc/stat and lscpu count the same vCPUs, whatever the host has
    every = "0" if vcpus == 1 else f"0-{vcpus - 1}"
    sysfs = "cd /sys/devices/system/cpu && cat online present possible && ls -d cpu[0-9]*"
    assert ok(local_backend, server.ref, sysfs).split() == [every] * 3 + [
        f"cpu{k}" for k in range(vcpus)
    ]
    stat_cpus = ok(local_backend, server.ref, "awk '/^cpu[0-9]/{print $1}' /proc/stat")
    assert stat_cpus.split() == [f"cpu{k}" for k in range(vcpus)]
    assert ok(local_backend, server.ref, "nproc --all") == str(vcpus)
    assert ok(local_backend, server.ref, "lscpu -p=cpu | grep -v ^#").split() == [
        str(k) for k in range(vcpus)
    ]
    # past the host's CPUs the flavor wraps around: an affinity names each host CPU once
    assert int(usable) == min(vcpus, len(os.sched_getaffinity(0)))

    # free: the flavor's RAM, of which the guest's own processes use some (kept current)
    total = ok(local_backend, server.ref, "free -m | awk '/^Mem:/{print $2}'")
    assert int(total) == ram_mb
    in_use = eventually(
        lambda: int(ok(local_backend, server.ref, "free -k | awk '/^Mem:/{print $3}'")),
        lambda kib: 0 < kib < ram_mb * 1024,
        "free to show the guest's use of its memory",
    )
    assert in_use > 0
    local_backend.compute.delete_server(server.ref)
