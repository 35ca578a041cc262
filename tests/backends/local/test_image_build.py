"""The default image: built once from the Debian archive, fit to boot many instances."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

from interstack.backends.local.imagebuild import IMAGE_CLOUD_MODULES_PATH
from interstack.backends.local.imageformats import exists_in_root
from tests.support.local import image_cache_dir

INTERSTACK = Path(sys.executable).parent / "interstack"


def test_the_built_image_has_its_packages_and_nothing_instance_specific(
    default_image: Path,
) -> None:
    for program in (
        "/usr/sbin/sshd",
        "/usr/bin/python3",
        "/usr/bin/cloud-init",
        "/sbin/ip",
        "/usr/bin/sudo",
    ):
        assert exists_in_root(default_image, program), program
    assert (default_image / "etc/ssl/certs/ca-certificates.crt").exists()
    assert list((default_image / "etc/ssh").glob("ssh_host_*")) == []
    assert not (default_image / "usr/sbin/policy-rc.d").exists()
    assert (default_image / "etc/machine-id").read_text() == ""
    # localhost resolves without DNS (the instance's own name the guest init adds)
    assert "127.0.0.1\tlocalhost\n" in (default_image / "etc/hosts").read_text()
    assert not list((default_image / "var/cache/apt/archives").glob("*.deb"))


def test_the_built_image_sshd_keeps_the_default_key_exchanges(default_image: Path) -> None:
    """Its sshd offers what OpenSSH offers by default, the post-quantum hybrid
    sntrup761x25519 included: nothing the build adds narrows the key exchanges."""
    settings = [default_image / "etc/ssh/sshd_config"]
    settings += sorted((default_image / "etc/ssh/sshd_config.d").glob("*.conf"))
    kex_lines = [
        line
        for path in settings
        for line in path.read_text().splitlines()
        if line.strip().lower().startswith("kexalgorithms")
    ]
    assert kex_lines == []


def test_the_built_image_runs_only_cloud_init_modules_it_has(default_image: Path) -> None:
    """Its module lists name modules of the image's own cloud-init (a misspelt one would be
    skipped with a warning at every boot), and keep those that apply the hostname, the keys,
    passwords and user-data."""
    settings = yaml.safe_load((default_image / IMAGE_CLOUD_MODULES_PATH).read_text())
    modules = default_image / "usr/lib/python3/dist-packages/cloudinit/config"
    listed = [
        name
        for stage in ("cloud_init_modules", "cloud_config_modules", "cloud_final_modules")
        for name in settings[stage]
    ]
    missing = [n for n in listed if not (modules / f"cc_{n.replace('-', '_')}.py").is_file()]
    assert missing == []
    for needed in (
        "set_hostname",
        "update_hostname",
        "users-groups",
        "ssh",
        "set-passwords",
        "write-files",
        "runcmd",
        "scripts-user",
    ):
        assert needed in listed, needed


def test_the_cli_reports_a_cached_image_without_building_again(default_image: Path) -> None:
    done = subprocess.run(
        [str(INTERSTACK), "image", "build", "debian-12", "--cache-dir", str(image_cache_dir())],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"image debian-12 ready: {default_image}"


def test_the_cli_names_an_unknown_image_in_one_line(tmp_path: Path) -> None:
    done = subprocess.run(
        [str(INTERSTACK), "image", "build", "debian-99", "--cache-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 1
    assert "unknown built-in image 'debian-99'" in done.stderr
    assert "Traceback" not in done.stderr
