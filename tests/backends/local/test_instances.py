"""Servers of the local backend really boot, run cloud-init, keep their disk and go away cleanly."""

from __future__ import annotations

import os
import signal
from functools import partial
from pathlib import Path

from interstack.backends.contract import FlavorSpec, NativeRef, PowerAction, ServerStatus
from interstack.backends.contract.compute import LocalDisk, hostname_for
from interstack.backends.local import LocalBackend, cpushare
from interstack.backends.local.cloudinitstages import HELD, HOLD
from interstack.backends.local.compute import LocalCompute
from interstack.backends.local.diskfiles import holds_file
from interstack.backends.local.host import CgroupMode, cgroup_mode, is_mounted
from interstack.backends.local.instances import cgroup_dirs, memory_limit_bytes
from tests.backends.local.helpers import boot, instance, runc_root, settled, spec
from tests.support.local import exec_in
from tests.support.waiting import eventually

PUBLIC_KEY = (
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKjUXqeR5cMnb0/Xt7rpbl6V1EgbmA4RR3fCNPjZmxa8 tester@host"
)
MiB = 1024 * 1024


def test_a_server_boots_and_cloud_init_applies_its_name_key_and_user_data(
    local_backend: LocalBackend,
) -> None:
    script = b'#!/bin/sh\necho "ran as $(id -un)" > /var/lib/user-data-ran\n'
    server = boot(
        local_backend,
        spec("Web Server 1", public_key=PUBLIC_KEY, user_data=script, metadata={"role": "web"}),
    )
    disk = instance(local_backend, server.ref).upper

    ran = eventually(
        (disk / "var/lib/user-data-ran").exists,
        bool,
        "the user-data script to run",
    )
    assert ran
    assert (disk / "var/lib/user-data-ran").read_text() == "ran as root\n"
    assert (
        (disk / "etc/hostname").read_text().strip()
        == hostname_for("Web Server 1")
        == "web-server-1"
    )
    assert PUBLIC_KEY in (disk / "home/debian/.ssh/authorized_keys").read_text()
    # host keys are made at first boot, ed25519 only; none came with the image
    assert sorted(p.name for p in (disk / "etc/ssh").glob("ssh_host_*")) == [
        "ssh_host_ed25519_key",
        "ssh_host_ed25519_key.pub",
    ]
    inside = exec_in(
        runc_root(local_backend), server.ref, "hostname; pgrep -x sshd >/dev/null && echo sshd"
    )
    assert inside.stdout.split() == ["web-server-1", "sshd"], inside.stderr
    console = local_backend.compute.console_output(server.ref)
    assert "running 'init-local'" in console
    assert "interstack-init: up" in console
    # user-data: sshd waits for cloud-init's init stages, its modules run after it in one go
    first, sshd, rest = (
        console.index(line)
        for line in (
            "cloud-init local network in one interpreter",
            "interstack-init: up",
            "cloud-init config final in one interpreter",
        )
    )
    assert first < sshd < rest
    local_backend.compute.delete_server(server.ref)


def _boots(backend: LocalBackend, ref: NativeRef, count: int) -> list[str]:
    """The console of each of the instance's first ``count`` boots, once cloud-init's network
    stage has started in the last one."""

    def read() -> list[str]:
        return backend.compute.console_output(ref).split("interstack-init: booting")[1:]

    return eventually(
        read, lambda boots: len(boots) >= count and "running 'init'" in boots[-1], "cloud-init"
    )


def _sshd_first(boot_console: str) -> bool:
    return boot_console.index("interstack-init: up") < boot_console.index("running 'init'")


def test_sshd_starts_before_cloud_init_unless_user_data_must_run_first(
    local_backend: LocalBackend,
) -> None:
    """Without user-data nothing of the user's must run before sshd: a server without a
    keypair starts it at once, and so does the first boot with a keypair (its key is put in
    place first) and every later one; with user-data cloud-init runs first."""
    keyless = boot(local_backend, spec("quick"))
    quick_boot = _boots(local_backend, keyless.ref, 1)[0]
    assert _sshd_first(quick_boot)
    assert "cloud-init local network config final in one interpreter" in quick_boot

    keyed = boot(local_backend, spec("keyed", public_key=PUBLIC_KEY))
    # the default user can log in and use sudo as soon as the server is up
    as_user = exec_in(runc_root(local_backend), keyed.ref, "runuser -u debian -- sudo -n id -un")
    assert as_user.stdout.strip() == "root", as_user.stderr
    disk = instance(local_backend, keyed.ref).upper
    assert PUBLIC_KEY in (disk / "home/debian/.ssh/authorized_keys").read_text()
    assert _sshd_first(_boots(local_backend, keyed.ref, 1)[0])
    host_key = (disk / "etc/ssh/ssh_host_ed25519_key.pub").read_text()

    local_backend.compute.power_action(keyed.ref, PowerAction.REBOOT)
    assert settled(local_backend, keyed.ref, ServerStatus.ACTIVE).status is ServerStatus.ACTIVE
    assert _sshd_first(_boots(local_backend, keyed.ref, 2)[1])
    # the same instance keeps its host keys across boots
    assert (disk / "etc/ssh/ssh_host_ed25519_key.pub").read_text() == host_key

    scripted = boot(
        local_backend, spec("scripted", public_key=PUBLIC_KEY, user_data=b"#!/bin/sh\n")
    )
    assert not _sshd_first(_boots(local_backend, scripted.ref, 1)[0])
    for server in (keyless, keyed, scripted):
        local_backend.compute.delete_server(server.ref)


def test_an_up_servers_cloud_init_waits_while_another_boot_is_on_its_way(
    local_backend: LocalBackend,
) -> None:
    """Its cloud-init goes on once no boot is on its way (:mod:`.cloudinithold`); a server
    booted alone waits for nothing."""
    alone = boot(local_backend, spec("alone", public_key=PUBLIC_KEY))
    alone_hold = instance(local_backend, alone.ref).boot_dir / HOLD
    # lifted as it is up (the boot watch tells the hold right after the server is ACTIVE)
    assert eventually(lambda: not alone_hold.exists(), bool, "the hold to be lifted")

    jobs = local_backend.compute
    assert isinstance(jobs, LocalCompute)
    jobs.cloud_init_hold.booting("ls-another")  # a boot on its way: its job is queued
    held = boot(local_backend, spec("held", public_key=PUBLIC_KEY))
    hold = instance(local_backend, held.ref).boot_dir / HOLD
    assert hold.exists()
    console = partial(local_backend.compute.console_output, held.ref)
    assert "running 'init'" not in console()  # sshd is up, cloud-init waits
    # lifted only once the guest waits (its marker), or it may not have looked yet and never wait
    guest_root = Path(f"/proc/{instance(local_backend, held.ref).init_pid()}/root")
    assert eventually(lambda: holds_file(guest_root, HELD), bool, "cloud-init to wait")
    jobs.cloud_init_hold.settled("ls-another")
    # let go at once here, or once the first's cloud-init finished on a host of one CPU
    assert eventually(lambda: not hold.exists(), bool, "the hold to be lifted")
    finished = eventually(
        console, lambda text: "interstack-init: cloud-init finished" in text, "cloud-init"
    )
    assert "cloud-init waited" in finished
    assert finished.index("cloud-init waited") < finished.index("running 'init'")
    for server in (alone, held):
        local_backend.compute.delete_server(server.ref)


def test_a_server_with_an_ephemeral_disk_is_not_held(local_backend: LocalBackend) -> None:
    """cloud-init mounts its ephemeral0 at /mnt and its swap: a login once it is ACTIVE finds
    them there as on Nova's guests, which are not up before cloud-init's init stage."""
    jobs = local_backend.compute
    assert isinstance(jobs, LocalCompute)
    jobs.cloud_init_hold.booting("ls-another")  # a boot on its way: its job is queued
    disks = (LocalDisk(name="ephemeral0", device="/dev/vdb", size_mb=64, guest_format="ext4"),)
    server = boot(local_backend, spec("ephemeral-unheld", public_key=PUBLIC_KEY, local_disks=disks))
    try:
        assert not (instance(local_backend, server.ref).boot_dir / HOLD).exists()
    finally:
        jobs.cloud_init_hold.settled("ls-another")
        local_backend.compute.delete_server(server.ref)


#: what the running sshd offers a client that tries no method (its "Permission denied (...)")
OFFERED_METHODS = (
    "ssh -o PreferredAuthentications=none -o BatchMode=yes -o StrictHostKeyChecking=no "
    "-o UserKnownHostsFile=/dev/null -o ConnectTimeout=5 nobody@127.0.0.1 true 2>&1 | "
    "grep -o 'denied (.*)'"
)


def test_cloud_config_ssh_pwauth_still_reaches_sshds_settings(
    local_backend: LocalBackend,
) -> None:
    """The guest's cloud-init spares set-passwords its `service ssh status` when no ssh_pwauth
    is given (it would change nothing); one given still sets sshd's password logins and
    restarts sshd, which started before the config stage (user-data runs first): the running
    sshd offers passwords or not as told."""
    servers = {
        allowed: boot(
            local_backend,
            spec(f"pw-{allowed}", user_data=f"#cloud-config\nssh_pwauth: {allowed}\n".encode()),
        )
        for allowed in ("true", "false")
    }
    for allowed, server in servers.items():
        eventually(
            partial(local_backend.compute.console_output, server.ref),
            lambda console: "interstack-init: cloud-init finished" in console,
            "cloud-init to finish",
        )
        # cloud-init writes sshd's setting into its own drop-in (or sshd_config without Include)
        ssh = instance(local_backend, server.ref).upper / "etc/ssh"
        written = [
            p for p in (ssh / "sshd_config", *ssh.glob("sshd_config.d/*.conf")) if p.exists()
        ]
        lines = [line.strip() for path in written for line in path.read_text().splitlines()]
        setting = "yes" if allowed == "true" else "no"
        assert f"PasswordAuthentication {setting}" in lines, written
        # (sshd forks into the background before it listens: its restart may still be under way)
        offered = eventually(
            partial(exec_in, runc_root(local_backend), server.ref, OFFERED_METHODS),
            lambda done: done.stdout.startswith("denied ("),
            "sshd to answer",
        )
        methods = "publickey,password" if allowed == "true" else "publickey"
        assert offered.stdout.strip() == f"denied ({methods})", (offered.stdout, offered.stderr)
    for server in servers.values():
        local_backend.compute.delete_server(server.ref)


#: what a login as the default user rests on, read inside an instance (the sudoers files
#: without their comments, which carry the time they were written)
LOGIN_SETUP = """\
getent passwd debian | cut -d: -f1,5-7
id -Gn debian
passwd -S debian | cut -d' ' -f2
ls /etc/sudoers.d
grep -hv '^#' /etc/sudoers.d/*
cat /home/debian/.ssh/authorized_keys /root/.ssh/authorized_keys
stat -c '%n %U %G %a' /home/debian /home/debian/.ssh /home/debian/.ssh/authorized_keys
"""


def test_the_login_put_in_place_before_cloud_init_is_the_one_cloud_init_makes(
    local_backend: LocalBackend,
) -> None:
    """The default user and key that the guest init puts in place before sshd starts (a
    keypair, no user-data; replaying the built image's login plan) end up as cloud-init alone
    makes them (with user-data it runs first): the same account, groups, locked password,
    sudo rule and authorized keys."""
    early = boot(local_backend, spec("early", public_key=PUBLIC_KEY))
    late = boot(local_backend, spec("late", public_key=PUBLIC_KEY, user_data=b"#!/bin/sh\n"))
    setups = []
    for server in (early, late):
        eventually(
            partial(local_backend.compute.console_output, server.ref),
            lambda console: "cloud-init finished" in console,
            "cloud-init to finish",
        )
        done = exec_in(runc_root(local_backend), server.ref, LOGIN_SETUP)
        assert done.returncode == 0, done.stderr
        setups.append(done.stdout)
    # the built image's login plan made it, not cloud-init's code in the guest
    early_console = local_backend.compute.console_output(early.ref)
    assert "default login made by the image's login plan" in early_console
    assert setups[0] == setups[1]
    assert "90-cloud-init-users" in setups[0]
    assert PUBLIC_KEY in setups[0]
    assert "debian:Debian:/home/debian:/bin/bash" in setups[0]
    for server in (early, late):
        local_backend.compute.delete_server(server.ref)


def test_the_disk_layer_survives_stop_and_start(local_backend: LocalBackend) -> None:
    server = boot(local_backend, spec("keeper"))
    root = runc_root(local_backend)
    written = exec_in(root, server.ref, "echo kept > /var/tmp/note && sync")
    assert written.returncode == 0, written.stderr

    local_backend.compute.power_action(server.ref, PowerAction.STOP)
    assert settled(local_backend, server.ref, ServerStatus.STOPPED).status is ServerStatus.STOPPED
    host_side = instance(local_backend, server.ref)
    assert not is_mounted(host_side.rootfs)
    assert (host_side.upper / "var/tmp/note").read_text() == "kept\n"

    local_backend.compute.power_action(server.ref, PowerAction.START)
    assert settled(local_backend, server.ref, ServerStatus.ACTIVE).status is ServerStatus.ACTIVE
    assert exec_in(root, server.ref, "cat /var/tmp/note").stdout == "kept\n"
    local_backend.compute.delete_server(server.ref)


def _frozen(cgroup_path: str) -> bool:
    if cgroup_mode() is CgroupMode.V2:
        return (
            Path("/sys/fs/cgroup") / cgroup_path.lstrip("/") / "cgroup.freeze"
        ).read_text().strip() == "1"
    state = Path("/sys/fs/cgroup/freezer") / cgroup_path.lstrip("/") / "freezer.state"
    return state.read_text().strip() == "FROZEN"


def test_pause_freezes_the_instance_and_unpause_thaws_it(local_backend: LocalBackend) -> None:
    server = boot(local_backend, spec("sleeper"))
    host_side = instance(local_backend, server.ref)
    assert not _frozen(host_side.cgroup_path)

    paused = local_backend.compute.power_action(server.ref, PowerAction.PAUSE)
    assert paused.status is ServerStatus.PAUSED
    assert _frozen(host_side.cgroup_path)
    assert local_backend.compute.get_server(server.ref).status is ServerStatus.PAUSED

    local_backend.compute.power_action(server.ref, PowerAction.UNPAUSE)
    assert not _frozen(host_side.cgroup_path)
    assert exec_in(runc_root(local_backend), server.ref, "echo awake").stdout == "awake\n"
    local_backend.compute.delete_server(server.ref)


def test_the_flavor_sets_the_cgroup_limits(local_backend: LocalBackend) -> None:
    server = boot(local_backend, spec("sized"))
    host_side = instance(local_backend, server.ref)
    assert memory_limit_bytes(host_side.cgroup_path) == 256 * MiB
    if cgroup_mode() is CgroupMode.V1:
        cpu = Path("/sys/fs/cgroup/cpu") / host_side.cgroup_path.lstrip("/")
        assert int((cpu / "cpu.cfs_quota_us").read_text()) == int(
            (cpu / "cpu.cfs_period_us").read_text()
        )
    local_backend.compute.delete_server(server.ref)


def _cpu_weight() -> int:
    where = cpushare.V2 if cgroup_mode() is CgroupMode.V2 else cpushare.V1
    return int((where.parent / where.weight).read_text())


def _gateway_weight() -> int:
    where = cpushare.V2 if cgroup_mode() is CgroupMode.V2 else cpushare.V1
    assert where.gateway is not None
    return int((where.gateway / where.weight).read_text())


def test_the_instances_weigh_on_the_host_cpu_as_one_process_per_vcpu(
    local_backend: LocalBackend,
) -> None:
    """... and the gateway (this process: the backend's) no longer runs in the host's root
    cgroup, where the instances outweighed it: its own weighs what they weigh together."""
    per_vcpu = (cpushare.V2 if cgroup_mode() is CgroupMode.V2 else cpushare.V1).per_cpu
    placed = cpushare.own_cgroup(cgroup_mode(), Path("/proc/self/cgroup").read_text())
    assert placed not in (None, "/"), placed
    first = boot(local_backend, spec("weighed"))
    with_one = _cpu_weight()
    assert with_one >= per_vcpu
    # up (ACTIVE): it weighs one process among the instances again, as it did not while booting
    where = cpushare.V2 if cgroup_mode() is CgroupMode.V2 else cpushare.V1
    base = Path("/sys/fs/cgroup") if cgroup_mode() is CgroupMode.V2 else Path("/sys/fs/cgroup/cpu")
    own = base / instance(local_backend, first.ref).cgroup_path.lstrip("/") / where.weight
    assert int(own.read_text()) == per_vcpu
    second = boot(local_backend, spec("heavier", flavor=FlavorSpec(vcpus=2, ram_mb=256, disk_gb=1)))
    assert _cpu_weight() == with_one + 2 * per_vcpu
    if placed == f"/{cpushare.GATEWAY_GROUP}":
        assert _gateway_weight() == _cpu_weight()
    local_backend.compute.delete_server(second.ref)
    eventually(_cpu_weight, lambda weight: weight == with_one, "the weight to drop again")
    local_backend.compute.delete_server(first.ref)


def test_an_instance_is_isolated_from_the_host(local_backend: LocalBackend) -> None:
    server = boot(local_backend, spec("jail"))
    root = runc_root(local_backend)

    def inside(command: str) -> tuple[int, str]:
        done = exec_in(root, server.ref, command)
        return done.returncode, (done.stdout + done.stderr).strip()

    status, output = inside("mknod /tmp/disk b 8 0")
    assert status != 0, output
    status, output = inside("mount -t tmpfs none /mnt")
    assert status != 0 and "permission denied" in output.lower(), output
    status, output = inside("unshare --mount true")
    assert status != 0, output
    # its own PID namespace: tini is PID 1, and only the instance's few processes are visible
    status, output = inside(
        "cat /proc/1/cmdline | tr '\\0' ' '; echo; ls /proc | grep -c '^[0-9]*$'"
    )
    first, count = output.splitlines()
    assert first.startswith("/run/interstack/tini")
    assert int(count) < 30
    status, output = inside("grep -E '^(Seccomp|CapEff):' /proc/self/status")
    fields = dict(line.split(":\t") for line in output.splitlines())
    assert fields["Seccomp"] == "2"  # a filter is installed
    cap_sys_admin = 1 << 21
    assert int(fields["CapEff"], 16) & cap_sys_admin == 0
    local_backend.compute.delete_server(server.ref)


def test_delete_leaves_no_mount_cgroup_netns_or_process(local_backend: LocalBackend) -> None:
    server = boot(local_backend, spec("ephemeral"))
    host_side = instance(local_backend, server.ref)
    procs = Path("/sys/fs/cgroup/pids" if cgroup_mode() is CgroupMode.V1 else "/sys/fs/cgroup")
    pids = [
        int(p)
        for p in (procs / host_side.cgroup_path.lstrip("/") / "cgroup.procs").read_text().split()
    ]
    assert pids and is_mounted(host_side.rootfs) and host_side.netns_path.exists()

    local_backend.compute.delete_server(server.ref)

    assert not is_mounted(host_side.rootfs)
    assert not host_side.netns_path.exists()
    assert not host_side.dir.exists()
    assert not (runc_root(local_backend) / server.ref).exists()
    assert [d for d in cgroup_dirs(host_side.cgroup_path) if d.exists()] == []
    # reaped by the supervisor, not left as zombies for the host's PID 1
    eventually(
        lambda: [pid for pid in pids if Path(f"/proc/{pid}").exists()],
        lambda alive: not alive,
        "the instance's processes to be reaped",
    )
    assert server.ref not in {s.ref for s in local_backend.compute.list_servers()}
    local_backend.compute.delete_server(server.ref)  # again: not an error


def test_an_instance_whose_init_dies_is_listed_stopped_and_starts_again(
    local_backend: LocalBackend,
) -> None:
    server = boot(local_backend, spec("crasher"))
    root = runc_root(local_backend)
    assert exec_in(root, server.ref, "echo kept > /var/tmp/note && sync").returncode == 0
    host_side = instance(local_backend, server.ref)
    paused = boot(local_backend, spec("frozen"))
    local_backend.compute.power_action(paused.ref, PowerAction.PAUSE)

    def listed() -> dict[str, ServerStatus]:
        return {s.ref: s.status for s in local_backend.compute.list_servers()}

    # what runs is listed as it is: a frozen instance is paused, not taken for dead
    assert listed()[server.ref] is ServerStatus.ACTIVE
    assert listed()[paused.ref] is ServerStatus.PAUSED

    state = host_side.runtime_state()
    assert state is not None and state[1] > 0
    os.kill(state[1], signal.SIGKILL)  # a crash: the guest did not ask for it
    assert eventually(listed, lambda seen: seen[server.ref] is ServerStatus.STOPPED, "stopped")
    assert not is_mounted(host_side.rootfs)
    assert listed()[paused.ref] is ServerStatus.PAUSED
    assert "init died (a crash)" in local_backend.compute.console_output(server.ref)
    assert local_backend.compute.get_server(server.ref).crashed  # not a poweroff

    local_backend.compute.power_action(server.ref, PowerAction.START)
    started = settled(local_backend, server.ref, ServerStatus.ACTIVE)
    assert (started.status, started.crashed) == (ServerStatus.ACTIVE, False)
    assert exec_in(root, server.ref, "cat /var/tmp/note").stdout == "kept\n"
    for ref in (server.ref, paused.ref):
        local_backend.compute.delete_server(ref)
