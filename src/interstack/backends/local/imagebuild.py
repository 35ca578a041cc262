"""Building the default image ``debian-12`` from the Debian archive, once, into a cache.

mmdebstrap installs a minimal bookworm with openssh-server, python3, cloud-init, iproute2,
ifupdown (cloud-init's network renderer), sudo and ca-certificates. Daemons are kept from
starting during the build by a ``policy-rc.d``; afterwards the tree is made fit to boot many
times: no SSH host keys (each instance makes its own at first boot), an empty machine-id, apt
caches cleaned and indexes kept compressed (or an instance's disk grows by hundreds of MB after
its first ``apt-get update``), the cloud-init settings and the guest init as ``/sbin/init``;
beside the root, the default user's login as cloud-init makes it (:mod:`.loginplan`). The image
runs only the cloud-init modules that have something to do in an instance of this backend
(:data:`IMAGE_CLOUD_MODULES`): importing the others was much of what a first boot cost. Its
sshd keeps OpenSSH's default key exchanges, the post-quantum hybrid sntrup761x25519 first,
though a client taking it spends more CPU per login: an instance's SSH traffic stays safe
against one recorded now and decrypted later.

A cache entry's name carries :data:`REVISION`: a cache built by older code, without what the
image holds now, is built anew beside it instead of being booted, and the older entries go once
nothing can still use them (:mod:`.imagecache`).

The build happens in a temporary directory beside the cache entry and is renamed into place
when complete (one a killed build left goes at a later hand-out, :mod:`.imagecache`); a file
lock makes concurrent builders (two gateways, two test workers) wait for one build instead of
making two.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol

from interstack.backends.local.guest import CLOUD_CONFIG, CLOUD_CONFIG_PATH, GUEST_INIT
from interstack.backends.local.host import last_line
from interstack.backends.local.imagecache import (
    host_mounts,
    mark_used,
    mounts_name,
    remove_old_revisions,
    staging_prefix,
)
from interstack.backends.local.loginplan import plan_path, record_plan
from interstack.errors import BackendError

DEFAULT_IMAGE = "debian-12"
SUITE = "bookworm"
PACKAGES = (
    "openssh-server",
    "python3",
    "cloud-init",
    "iproute2",
    "ifupdown",
    "sudo",
    "ca-certificates",
)
HOST_APT_SOURCES = Path("/etc/apt/sources.list.d/debian.sources")
POLICY_RC_D = "#!/bin/sh\n# no daemon starts while the image is built\nexit 101\n"
APT_SETTINGS = 'Acquire::GzipIndexes "true";\nAcquire::CompressionTypes::Order:: "gz";\n'
BUILT_IMAGES = {DEFAULT_IMAGE}
#: what the built image holds changed (a new cache entry; see the module's docstring): 2 added
#: IMAGE_CLOUD_MODULES and an sshd drop-in without the sntrup761x25519 key exchange, 3 removed
#: that drop-in again (its sshd offers OpenSSH's default key exchanges), 4 added /etc/hosts
REVISION = 4
#: the image's /etc/hosts, as a Debian install has it (mmdebstrap writes none): without it,
#: localhost and the instance's own name were looked up in DNS (sudo waited out the resolver for
#: the name at every run). The instance's own line (127.0.1.1 <name>) comes at each boot from
#: the guest init (:data:`.guest.GUEST_INIT`), which knows the name runc gave before sshd
#: starts; not from cloud-init's manage_etc_hosts: it runs after sshd (a first login's sudo
#: would still wait), and after a rebuild under a new name it rendered the name its cached
#: datasource had, the old one
ETC_HOSTS = """\
127.0.0.1\tlocalhost
::1\t\tlocalhost ip6-localhost ip6-loopback
ff02::1\t\tip6-allnodes
ff02::2\t\tip6-allrouters
"""
#: cloud-init's modules in the built image: Debian's lists less those with nothing to do in an
#: instance here (a container on an overlay root: no partition to grow or filesystem to resize,
#: no boot loader, keyboard, clock to keep, udev, snapd, locales package or ssh-import-id; no
#: byobu, landscape, lxd, fan or PowerVM RMC). Importing each costs CPU at every first boot.
#: What user-data may ask for stays: bootcmd, write_files, mounts, users, ca_certs, passwords,
#: apt, timezone, runcmd, packages, configuration managers, scripts, phone_home, power_state.
IMAGE_CLOUD_MODULES = """\
# written by interstack when it built this image (see its imagebuild module)
cloud_init_modules: [migrator, seed_random, bootcmd, write-files, disk_setup, mounts,
  set_hostname, update_hostname, update_etc_hosts, ca-certs, rsyslog, users-groups, ssh]
cloud_config_modules: [set-passwords, apt-pipelining, apt-configure, timezone,
  disable-ec2-metadata, runcmd]
cloud_final_modules: [package-update-upgrade-install, write-files-deferred, puppet, chef,
  mcollective, salt-minion, scripts-vendor, scripts-per-once, scripts-per-boot,
  scripts-per-instance, scripts-user, ssh-authkey-fingerprints, keys-to-console, phone-home,
  final-message, power-state-change]
"""
IMAGE_CLOUD_MODULES_PATH = "etc/cloud/cloud.cfg.d/10_interstack_image.cfg"


class BuildProgress(Protocol):
    """Told what the build is doing, one line at a time (a Rich display, a console log)."""

    def step(self, line: str) -> None: ...


class SilentProgress:
    def step(self, line: str) -> None:
        """Say nothing."""


def image_root(cache_dir: Path, name: str) -> Path:
    """Where the built image ``name`` lives once complete (its entry named by its revision)."""
    return cache_dir / f"{name}.r{REVISION}" / "root"


def _lock_file(cache_dir: Path, name: str) -> Path:
    return cache_dir / f".{name}.lock"


@contextmanager
def _build_lock(cache_dir: Path, name: str) -> Iterator[None]:
    cache_dir.mkdir(parents=True, exist_ok=True)
    with open(_lock_file(cache_dir, name), "w", encoding="utf-8") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def ensure_built(
    cache_dir: Path,
    name: str = DEFAULT_IMAGE,
    *,
    progress: BuildProgress | None = None,
    apt_sources: Path | None = None,
) -> Path:
    """The root of image ``name``, building it first if the cache does not hold it yet;
    older revisions of it that nothing uses any more leave the cache (:mod:`.imagecache`)."""
    if name not in BUILT_IMAGES:
        raise BackendError(f"unknown built-in image {name!r} (known: {sorted(BUILT_IMAGES)})")
    root = image_root(cache_dir, name)
    if not (root.is_dir() and plan_path(root).exists()):
        _build(cache_dir, name, progress or SilentProgress(), apt_sources)
    mark_used(root.parent)
    remove_old_revisions(cache_dir, name, REVISION, _lock_file(cache_dir, name))
    return root


def _build(cache_dir: Path, name: str, report: BuildProgress, apt_sources: Path | None) -> None:
    """Build the current revision of ``name`` into the cache, unless another builder did."""
    root = image_root(cache_dir, name)
    with _build_lock(cache_dir, name):
        if root.is_dir():  # another builder finished while this one waited, or built it earlier
            if not plan_path(root).exists():
                record_plan(root)
            return
        # a directory of its own: one a killed build of the same pid left may still have
        # mounts inside (removed at a hand-out once unmounted, :mod:`.imagecache`)
        staging = Path(tempfile.mkdtemp(dir=cache_dir, prefix=staging_prefix(name)))
        staging.chmod(0o755)  # the cache entry it becomes
        try:
            _debootstrap(staging / "root", report, apt_sources)
            _prepare_for_boot(staging / "root")
            record_plan(staging / "root")
            report.step("image ready")
            os.replace(staging, root.parent)
        finally:
            mounts = host_mounts() if staging.exists() else []
            if mounts is not None and not mounts_name(staging, mounts):  # else a hand-out's
                shutil.rmtree(staging, ignore_errors=True)


def _sources(apt_sources: Path | None) -> list[str]:
    """mmdebstrap pastes an existing sources file; without one it uses its default archive."""
    if apt_sources is not None:
        return [str(apt_sources)]
    return [str(HOST_APT_SOURCES)] if HOST_APT_SOURCES.is_file() else []


def _debootstrap(target: Path, progress: BuildProgress, apt_sources: Path | None) -> None:
    if shutil.which("mmdebstrap") is None:
        raise BackendError("cannot build the image: mmdebstrap is missing (Debian package)")
    target.parent.mkdir(parents=True, exist_ok=True)
    hook = (
        f"printf '%s' '{POLICY_RC_D}' > \"$1/usr/sbin/policy-rc.d\" && "
        'chmod 755 "$1/usr/sbin/policy-rc.d"'
    )
    argv = [
        "mmdebstrap",
        "--mode=root",
        "--variant=minbase",
        f"--include={','.join(PACKAGES)}",
        f"--essential-hook={hook}",
        SUITE,
        str(target),
        *_sources(apt_sources),
    ]
    progress.step(f"debootstrap {SUITE} with {', '.join(PACKAGES)}")
    started = time.monotonic()
    tail: list[str] = []
    with subprocess.Popen(  # noqa: S603 - argument list, no shell
        argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, errors="replace"
    ) as proc:
        assert proc.stderr is not None
        for raw in proc.stderr:
            line = raw.strip()
            if line:
                tail = [*tail[-20:], line]
                progress.step(line)
        status = proc.wait()
    if status != 0:
        raise BackendError(
            f"building image {DEFAULT_IMAGE} failed: {last_line(chr(10).join(tail))}"
        )
    progress.step(f"debootstrap done in {time.monotonic() - started:.0f} s")


def _prepare_for_boot(root: Path) -> None:
    (root / "usr/sbin/policy-rc.d").unlink(missing_ok=True)
    for key in (root / "etc/ssh").glob("ssh_host_*"):
        key.unlink()
    (root / "etc/machine-id").write_text("")
    (root / "etc/hosts").write_text(ETC_HOSTS)
    for leftover in ("var/cache/apt/archives", "var/lib/apt/lists"):
        for entry in (root / leftover).glob("*"):
            if entry.is_file():
                entry.unlink()
    (root / "etc/apt/apt.conf.d/90interstack-gzip-indexes").write_text(APT_SETTINGS)
    (root / CLOUD_CONFIG_PATH).write_text(CLOUD_CONFIG)
    (root / IMAGE_CLOUD_MODULES_PATH).write_text(IMAGE_CLOUD_MODULES)
    init = root / "sbin/init"
    init.unlink(missing_ok=True)
    init.write_text(GUEST_INIT)
    init.chmod(0o755)
