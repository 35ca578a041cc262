"""The files the host writes into an instance's disk before a boot (its resolvers, the
cloud-init seed and settings, the config drive) never follow a symbolic link the guest left
there: each write stays inside the disk, or the boot fails saying where the link is."""

from __future__ import annotations

from pathlib import Path

import pytest

from interstack.backends.local import configdrive
from interstack.backends.local.guest import (
    READY_MARKER,
    RESOLV_CONF_HEADER,
    SEED_DIR,
    write_resolv_conf,
    write_seed,
)
from interstack.backends.local.instances import marked_up_in
from interstack.errors import BackendError


def _host_dir(tmp_path: Path) -> Path:
    """A directory of the host's that a guest's link points at, with a file of its own."""
    host = tmp_path / "host"
    host.mkdir()
    (host / "kept").write_text("the host's\n")
    return host


def _seed(disk: Path, *, metadata_service: bool = False) -> None:
    """The seed of a guest whose user data would run a command, were it written on the host."""
    write_seed(
        disk,
        instance_id="i-1",
        hostname="one",
        public_key=None,
        user_data=b"* * * * * root run-this-on-the-host\n",
        metadata_service=metadata_service,
    )


def test_a_link_on_the_way_to_the_seed_fails_the_write_and_the_host_is_untouched(
    tmp_path: Path,
) -> None:
    host = _host_dir(tmp_path)
    disk = tmp_path / "disk"
    (disk / SEED_DIR).parent.mkdir(parents=True)
    (disk / SEED_DIR).symlink_to(host)

    with pytest.raises(BackendError, match=f"/{SEED_DIR}"):
        _seed(disk)
    assert sorted(p.name for p in host.iterdir()) == ["kept"]


def test_a_link_at_a_files_own_name_or_its_temporary_name_is_replaced_not_followed(
    tmp_path: Path,
) -> None:
    host = _host_dir(tmp_path)
    disk = tmp_path / "disk"
    (disk / "etc").mkdir(parents=True)
    (disk / "etc/resolv.conf").symlink_to(host / "kept")
    for temporary in (".resolv.conf.tmp", ".resolv.conf.interstack"):
        (disk / "etc" / temporary).symlink_to(host / temporary)

    write_resolv_conf(disk, ["10.0.0.2", "10.0.0.3"])
    resolv = disk / "etc/resolv.conf"
    assert not resolv.is_symlink()
    assert resolv.read_bytes() == RESOLV_CONF_HEADER + b"nameserver 10.0.0.2\nnameserver 10.0.0.3\n"
    assert sorted(p.name for p in host.iterdir()) == ["kept"]
    assert (host / "kept").read_text() == "the host's\n"


def test_a_seed_that_is_a_link_goes_as_a_link_and_what_it_leads_to_stays(tmp_path: Path) -> None:
    host = _host_dir(tmp_path)
    disk = tmp_path / "disk"
    (disk / SEED_DIR).parent.mkdir(parents=True)
    (disk / SEED_DIR).symlink_to(host)

    _seed(disk, metadata_service=True)
    assert not (disk / SEED_DIR).exists() and not (disk / SEED_DIR).is_symlink()
    assert sorted(p.name for p in host.iterdir()) == ["kept"]


def test_a_config_drive_goes_into_the_disk_or_nowhere(tmp_path: Path) -> None:
    host = _host_dir(tmp_path)
    drive = tmp_path / "drive"
    configdrive.store(drive, {"openstack/latest/user_data": b"#!/bin/sh\n"})
    disk = tmp_path / "disk"
    (disk / "var/lib/cloud").mkdir(parents=True)
    (disk / "var/lib/cloud/seed").symlink_to(host)
    (host / "config_drive").mkdir()
    (host / "config_drive" / "kept").write_text("the host's\n")

    with pytest.raises(BackendError, match="/var/lib/cloud/seed"):
        configdrive.install(drive, disk)
    assert (host / "config_drive" / "kept").read_text() == "the host's\n"

    (disk / "var/lib/cloud/seed").unlink()
    assert configdrive.install(drive, disk)
    copied = disk / configdrive.SEED_DIR / "openstack/latest/user_data"
    assert copied.read_bytes() == b"#!/bin/sh\n"
    assert copied.stat().st_mode & 0o777 == 0o600


def test_a_first_boot_makes_the_disk_and_finds_nothing_to_remove(tmp_path: Path) -> None:
    disk = tmp_path / "disk"
    assert not configdrive.install(tmp_path / "no-drive", disk)
    _seed(disk)
    assert (disk / SEED_DIR / "user-data").read_bytes().startswith(b"* * * * *")


def test_without_dns_servers_the_backends_resolv_conf_names_none_and_the_images_stays(
    tmp_path: Path,
) -> None:
    """The servers the backend named may be gone (DHCP switched off), their addresses given to
    instances; a file the image (or its user) wrote is theirs."""
    ours, images = tmp_path / "ours", tmp_path / "image"
    write_resolv_conf(ours, ["10.0.0.2"])
    write_resolv_conf(ours, [])
    assert (ours / "etc/resolv.conf").read_bytes() == RESOLV_CONF_HEADER
    (images / "etc").mkdir(parents=True)
    (images / "etc/resolv.conf").write_text("nameserver 192.0.2.53\n")
    write_resolv_conf(images, [])
    assert (images / "etc/resolv.conf").read_text() == "nameserver 192.0.2.53\n"
    write_resolv_conf(tmp_path / "empty", [])
    assert not (tmp_path / "empty/etc/resolv.conf").exists()


def test_a_link_the_guest_left_at_its_readiness_marker_is_no_mark(tmp_path: Path) -> None:
    """The host reads the marker through ``/proc/<pid>/root``, where an absolute link resolves
    against the host's root: followed, it would tell the guest whether a host path exists."""
    host = _host_dir(tmp_path)
    guest = tmp_path / "guest"
    (guest / "run").mkdir(parents=True)
    assert not marked_up_in(guest)
    (guest / READY_MARKER).symlink_to(host / "kept")
    assert not marked_up_in(guest)
    (guest / READY_MARKER).unlink()
    (guest / "run").rmdir()
    (guest / "run").symlink_to(host)
    (host / Path(READY_MARKER).name).write_text("")
    assert not marked_up_in(guest)
    (guest / "run").unlink()
    (guest / "run").mkdir()
    (guest / READY_MARKER).write_text("")
    assert marked_up_in(guest)
