"""Helpers for tests of the local backend: the image cache, tiny roots, running in instances."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from interstack.backends.local import clocks
from interstack.backends.local.host import unavailable_reason
from interstack.backends.local.imagebuild import DEFAULT_IMAGE, ensure_built

#: built images survive the test session (one build per machine); override with this variable
IMAGE_CACHE_ENV = "INTERSTACK_TEST_IMAGE_CACHE"
#: seconds a test's local backend waits for another checkout's run to free the host's networking
LOCK_WAIT_ENV = "INTERSTACK_TEST_LOCK_WAIT"
BUSYBOX = Path("/bin/busybox")
BUSYBOX_APPLETS = ("sh", "mkdir", "chmod", "hostname", "sleep", "cat", "kill", "echo", "mknod")


def image_cache_dir() -> Path:
    return Path(
        os.environ.get(IMAGE_CACHE_ENV) or Path(tempfile.gettempdir()) / "interstack-test-images"
    )


def host_lock_wait() -> float:
    """How long tests wait for the host's one networking lock (several checkouts may share a
    host; each run's local backends queue instead of failing)."""
    return float(os.environ.get(LOCK_WAIT_ENV) or 60)


def local_settings(**extra: object) -> dict[str, object]:
    """A test region's local backend settings: the shared image cache, the lock wait."""
    return {
        "image_cache_dir": str(image_cache_dir()),
        "network_lock_wait_seconds": host_lock_wait(),
        **extra,
    }


def local_unavailable() -> str | None:
    """Why the local backend cannot run here (the reason tests are skipped with), or None."""
    return unavailable_reason()


def build_default_image() -> Path:
    """The ``debian-12`` root, built into the shared cache the first time."""
    return ensure_built(image_cache_dir(), DEFAULT_IMAGE)


def tiny_root(root: Path, *, with_init: bool = True) -> Path:
    """A root filesystem of the host's busybox and its libraries: enough for the guest init."""
    for directory in ("bin", "sbin", "lib", "lib64", "etc", "proc", "sys", "dev", "run", "tmp"):
        (root / directory).mkdir(parents=True, exist_ok=True)
    shutil.copy2(BUSYBOX, root / "bin/busybox")
    listing = subprocess.run(["ldd", str(BUSYBOX)], capture_output=True, text=True, check=True)
    for line in listing.stdout.splitlines():
        path = next((p for p in line.split() if p.startswith("/")), None)
        if path is not None:
            target = root / path.lstrip("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
    for applet in BUSYBOX_APPLETS:
        (root / "bin" / applet).symlink_to("busybox")
    if with_init:
        (root / "sbin/init").symlink_to("/bin/busybox")
    return root


def make_tarball(root: Path, tarball: Path) -> Path:
    subprocess.run(["tar", "-czf", str(tarball), "-C", str(root), "."], check=True)
    return tarball


def make_ext4_disk(root: Path, disk: Path, *, partitioned: bool = False) -> Path:
    """A raw disk whose ext4 filesystem holds ``root``: whole-disk, or in partition 1 (MBR)."""
    size_mb, offset_mb = 32, 1
    subprocess.run(["truncate", "-s", f"{size_mb + offset_mb}M", str(disk)], check=True)
    if not partitioned:
        subprocess.run(
            ["mkfs.ext4", "-q", "-F", "-d", str(root), str(disk), f"{size_mb}M"], check=True
        )
        return disk
    subprocess.run(
        [
            "mkfs.ext4",
            "-q",
            "-F",
            "-E",
            f"offset={offset_mb * 1024 * 1024}",
            "-d",
            str(root),
            str(disk),
            f"{size_mb}M",
        ],
        check=True,
    )
    # one MBR entry: Linux (0x83), from offset_mb to the end
    entry = bytes(4) + b"\x83" + bytes(3)
    entry += (offset_mb * 2048).to_bytes(4, "little") + (size_mb * 2048).to_bytes(4, "little")
    with disk.open("r+b") as handle:
        handle.seek(446)
        handle.write(entry)
        handle.seek(510)
        handle.write(b"\x55\xaa")
    return disk


def to_qcow2(raw: Path, qcow2: Path) -> Path:
    subprocess.run(
        ["qemu-img", "convert", "-f", "raw", "-O", "qcow2", str(raw), str(qcow2)], check=True
    )
    return qcow2


def exec_in(runc_root: Path, container: str, command: str) -> subprocess.CompletedProcess[str]:
    """Run a shell command inside a running instance, as its processes run (same limits and
    clocks)."""
    return subprocess.run(
        clocks.runc_argv(runc_root, container, "exec", container, "/bin/sh", "-c", command),
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def in_netns(netns: str, *command: str) -> str:
    """The output of ``command`` run in the host's network namespace ``netns`` (a router's, a
    subnet's DHCP server's); a failure raises."""
    done = subprocess.run(
        ["ip", "netns", "exec", netns, *command],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    return done.stdout
