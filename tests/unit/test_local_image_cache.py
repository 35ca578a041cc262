"""Which older revisions of a built image leave the cache: those no mount names and nobody was
handed for a while; never the current one, a newer one, another image's, or anything else."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from interstack.backends.local import imagebuild, imagecache
from interstack.backends.local.imagebuild import DEFAULT_IMAGE, REVISION, ensure_built
from interstack.backends.local.imagecache import (
    KEEP_UNUSED_FOR,
    LAST_USED,
    host_mounts,
    mark_used,
    removable_entries,
    remove_old_revisions,
)
from interstack.backends.local.loginplan import plan_path
from interstack.errors import BackendError

NOW = time.time()
LONG_AGO = NOW - KEEP_UNUSED_FOR - 3600


def _entry(cache: Path, name: str, *, used_at: float | None = LONG_AGO) -> Path:
    """A cache entry as a build leaves it (a root and a login plan), last handed out at
    ``used_at`` (None: never marked, built at LONG_AGO)."""
    entry = cache / name
    (entry / "root/sbin").mkdir(parents=True)
    (entry / "login-plan.json").write_text("{}")
    if used_at is not None:
        (entry / LAST_USED).touch()
        os.utime(entry / LAST_USED, (used_at, used_at))
    os.utime(entry, (LONG_AGO, LONG_AGO))
    return entry


def _overlay(lower: Path, *, at: str = "/var/lib/interstack/instances/i-1/rootfs") -> str:
    return (
        f"812 27 0:93 / {at} rw,relatime shared:431 - overlay overlay "
        f"rw,lowerdir={lower},upperdir=/var/lib/i-1/upper,workdir=/var/lib/i-1/work"
    )


def _names(entries: list[Path]) -> list[str]:
    return [e.name for e in entries]


def test_older_revisions_nothing_uses_are_removable_and_no_other_entry(tmp_path: Path) -> None:
    for name in ("debian-12", "debian-12.r2", "debian-12.r3", "debian-12.r4", "debian-13.r1"):
        _entry(tmp_path, name)
    _entry(tmp_path, "debian-12.rc")  # not a revision's name
    (tmp_path / ".debian-12.lock").touch()
    (tmp_path / ".debian-12.build-77").mkdir()  # another builder's staging directory

    chosen = removable_entries(tmp_path, "debian-12", 3, [], now=NOW)

    assert _names(chosen) == ["debian-12", "debian-12.r2"]


def test_a_revision_an_overlay_mounts_as_its_lower_dir_stays(tmp_path: Path) -> None:
    r1, r2 = _entry(tmp_path, "debian-12"), _entry(tmp_path, "debian-12.r2")
    _entry(tmp_path, "debian-12.r3")
    mounts = [_overlay(r2 / "root"), _overlay(tmp_path / "debian-12.r22/root", at="/x")]

    assert removable_entries(tmp_path, "debian-12", 3, mounts, now=NOW) == [r1]
    # a capture's lower dirs (its layer over the image) name it too
    capture = [_overlay(Path(f"/var/lib/images/cap/layer:{r1}/root"), at="/cap")]
    assert _names(removable_entries(tmp_path, "debian-12", 3, capture, now=NOW)) == ["debian-12.r2"]


def test_a_revision_named_through_a_link_to_the_cache_stays(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    _entry(real, "debian-12.r2")
    (tmp_path / "cache").symlink_to(real)
    mounts = [_overlay(real / "debian-12.r2/root")]

    assert removable_entries(tmp_path / "cache", "debian-12", 3, mounts, now=NOW) == []


def test_a_revision_handed_out_lately_stays_and_one_never_marked_counts_from_its_build(
    tmp_path: Path,
) -> None:
    _entry(tmp_path, "debian-12.r1", used_at=NOW - 60)
    _entry(tmp_path, "debian-12.r2", used_at=None)

    chosen = removable_entries(tmp_path, "debian-12", 3, [], now=NOW)
    assert _names(chosen) == ["debian-12.r2"]
    # built lately and never marked: kept as well
    assert removable_entries(tmp_path, "debian-12", 3, [], now=LONG_AGO + 60) == []


def test_mark_used_dates_the_entry_now(tmp_path: Path) -> None:
    entry = _entry(tmp_path, "debian-12.r2")

    mark_used(entry)

    assert removable_entries(tmp_path, "debian-12", 3, [], now=time.time()) == []


def test_removal_takes_what_is_removable_and_trash_a_crash_left(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _entry(tmp_path, "debian-12.r1")
    mounted = _entry(tmp_path, "debian-12.r2")
    current = _entry(tmp_path, "debian-12.r3")
    leftover = tmp_path / ".debian-12.trash-debian-12.r0-99"
    (leftover / "root").mkdir(parents=True)
    monkeypatch.setattr(imagecache, "host_mounts", lambda: [_overlay(mounted / "root")])

    remove_old_revisions(tmp_path, "debian-12", 3, tmp_path / ".debian-12.lock")

    assert sorted(p.name for p in tmp_path.iterdir()) == [
        ".debian-12.lock",
        "debian-12.r2",
        "debian-12.r3",
    ]
    assert (current / "root").is_dir()


def test_nothing_is_removed_when_a_mount_table_cannot_be_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = _entry(tmp_path, "debian-12.r1")
    monkeypatch.setattr(imagecache, "host_mounts", lambda: None)

    remove_old_revisions(tmp_path, "debian-12", 3, tmp_path / ".debian-12.lock")

    assert old.is_dir()


def test_nothing_is_removed_while_a_builder_holds_the_lock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import fcntl

    old = _entry(tmp_path, "debian-12.r1")
    monkeypatch.setattr(imagecache, "host_mounts", lambda: [])
    with open(tmp_path / ".debian-12.lock", "w", encoding="utf-8") as builder:
        fcntl.flock(builder, fcntl.LOCK_EX)
        remove_old_revisions(tmp_path, "debian-12", 3, tmp_path / ".debian-12.lock")

    assert old.is_dir()


def test_the_host_mount_tables_are_read_once_each_with_escapes_decoded(tmp_path: Path) -> None:
    for pid, lower in (
        ("self", "/cache/a\\040b/debian-12.r2/root"),
        ("1", "/cache/a\\040b/debian-12.r2/root"),  # the same table (the same namespace)
        ("3", "/cache/debian-12/root"),
    ):
        (tmp_path / pid).mkdir()
        (tmp_path / pid / "mountinfo").write_text(_overlay(Path(lower)) + "\n")
    (tmp_path / "4").mkdir()  # a process that ended meanwhile

    lines = host_mounts(tmp_path)

    assert lines is not None
    assert sorted(line.split("lowerdir=")[1].split(",")[0] for line in lines) == [
        "/cache/a b/debian-12.r2/root",
        "/cache/debian-12/root",
    ]


def test_without_its_own_mount_table_nothing_counts_as_unused(tmp_path: Path) -> None:
    (tmp_path / "1").mkdir()
    (tmp_path / "1/mountinfo").write_text("")

    assert host_mounts(tmp_path) is None


def test_a_hand_out_of_the_current_revision_removes_the_older_ones_nothing_uses(
    tmp_path: Path,
) -> None:
    """Through ensure_built, on a cache of its own: the current revision (as a build leaves
    it) is handed out and marked, an older one nobody used for long leaves the cache."""
    current = _entry(tmp_path, f"{DEFAULT_IMAGE}.r{REVISION}", used_at=None)
    (current / "login-plan.json").rename(plan_path(current / "root"))
    _entry(tmp_path, f"{DEFAULT_IMAGE}.r{REVISION - 1}")

    root = ensure_built(tmp_path)

    assert root == current / "root"
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(".")) == [
        current.name
    ]
    assert (current / LAST_USED).stat().st_mtime > NOW - 60


def test_an_entry_mounted_while_it_was_renamed_aside_keeps_its_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Code that hands entries out without the lock may mount one after the tables were read;
    the mount names the entry's old path and still uses its files, so the trash stays until
    no table names it, and then goes."""
    old = _entry(tmp_path, "debian-12.r1")
    tables = iter([[], [_overlay(old / "root")]])
    monkeypatch.setattr(imagecache, "host_mounts", lambda: next(tables))

    remove_old_revisions(tmp_path, "debian-12", 3, tmp_path / ".debian-12.lock")

    [trash] = tmp_path.glob(".debian-12.trash-debian-12.r1-*")
    assert (trash / "root/sbin").is_dir() and not old.exists()
    monkeypatch.setattr(imagecache, "host_mounts", lambda: [_overlay(old / "root")])
    remove_old_revisions(tmp_path, "debian-12", 3, tmp_path / ".debian-12.lock")
    assert trash.is_dir()
    monkeypatch.setattr(imagecache, "host_mounts", lambda: [])
    remove_old_revisions(tmp_path, "debian-12", 3, tmp_path / ".debian-12.lock")
    assert not trash.exists()


def test_a_cache_it_cannot_change_keeps_its_entries_and_the_hand_out_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rename the file system refuses (here: the trash name is taken by a directory that is
    not empty) is logged, not raised into the hand-out that asked for the clean-up."""
    old = _entry(tmp_path, "debian-12.r1")
    taken = tmp_path / f".debian-12.trash-debian-12.r1-{os.getpid()}"
    (taken / "root").mkdir(parents=True)
    monkeypatch.setattr(imagecache, "host_mounts", lambda: [])

    remove_old_revisions(tmp_path, "debian-12", 3, tmp_path / ".debian-12.lock")

    assert (old / "root/sbin").is_dir()


def _ready(cache: Path) -> Path:
    """The current revision, complete as a build leaves it."""
    current = _entry(cache, f"{DEFAULT_IMAGE}.r{REVISION}", used_at=None)
    (current / "login-plan.json").rename(plan_path(current / "root"))
    return current


def _killed_build(cache: Path, pid: int = 99999) -> Path:
    """The staging directory a build killed during mmdebstrap leaves."""
    staging = cache / f".{DEFAULT_IMAGE}.build-{pid}"
    (staging / "root/usr/bin").mkdir(parents=True)
    (staging / "root/usr/bin/half-unpacked").write_bytes(b"x" * 4096)
    return staging


def test_a_killed_builds_staging_directory_goes_at_the_next_hand_out(tmp_path: Path) -> None:
    _ready(tmp_path)
    staging = _killed_build(tmp_path)

    ensure_built(tmp_path)

    assert not staging.exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="mounts a tmpfs")
def test_a_staging_directory_a_mount_names_stays_with_the_mounted_files(tmp_path: Path) -> None:
    """mmdebstrap killed midway leaves /proc, /sys and the like mounted in the tree it built:
    removing the tree would remove, through the mount, what the mount shows."""
    _ready(tmp_path)
    staging = _killed_build(tmp_path)
    mounted = staging / "root/dev"
    mounted.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "tmpfs", str(mounted)], check=True)
    try:
        (mounted / "null").write_text("the host's")

        ensure_built(tmp_path)

        assert (mounted / "null").read_text() == "the host's"
        assert (staging / "root/usr/bin/half-unpacked").exists()
    finally:
        subprocess.run(["umount", str(mounted)], check=True)
    ensure_built(tmp_path)  # unmounted: it goes now
    assert not staging.exists()


def test_a_staging_directory_stays_while_a_builder_holds_the_lock(tmp_path: Path) -> None:
    import fcntl

    staging = _killed_build(tmp_path, os.getpid())
    with open(tmp_path / f".{DEFAULT_IMAGE}.lock", "w", encoding="utf-8") as builder:
        fcntl.flock(builder, fcntl.LOCK_EX)
        remove_old_revisions(tmp_path, DEFAULT_IMAGE, REVISION, Path(builder.name))

    assert (staging / "root/usr/bin/half-unpacked").exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="mounts a tmpfs")
def test_a_build_leaves_a_killed_builds_mounts_of_the_same_pid_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A build staged in ``.<image>.build-<its pid>`` and removed that directory first: one a
    killed build of the same pid left (the pid given out again) was removed through the mounts
    mmdebstrap had made inside it; and a build that fails leaves a tree its mmdebstrap left
    mounted to a later hand-out."""
    staging = _killed_build(tmp_path, os.getpid())
    mounted = staging / "root/dev"
    mounted.mkdir()
    built: list[Path] = []

    def debootstrap(target: Path, *_args: object) -> None:
        built.append(target)
        (target / "sbin").mkdir(parents=True)
        (target / "proc").mkdir()
        subprocess.run(["mount", "-t", "tmpfs", "tmpfs", str(target / "proc")], check=True)
        (target / "proc/self").write_text("mounted")
        raise BackendError("mmdebstrap failed")

    monkeypatch.setattr(imagebuild, "_debootstrap", debootstrap)
    subprocess.run(["mount", "-t", "tmpfs", "tmpfs", str(mounted)], check=True)
    try:
        (mounted / "null").write_text("the host's")
        with pytest.raises(BackendError):
            ensure_built(tmp_path)

        assert (mounted / "null").read_text() == "the host's"
        assert built and built[0].parent != staging
        assert (built[0] / "proc/self").read_text() == "mounted"
    finally:
        subprocess.run(["umount", str(mounted)], check=True)
        for target in built:
            subprocess.run(["umount", str(target / "proc")], check=False)
