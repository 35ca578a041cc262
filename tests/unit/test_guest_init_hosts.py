"""The guest init's /etc/hosts line for the instance's own name (:data:`.guest.GUEST_INIT`),
run by the host's shells on a scratch file: sudo finds the name there instead of asking DNS."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from interstack.backends.local.guest import GUEST_INIT
from interstack.backends.local.imagebuild import ETC_HOSTS

#: the shells an image's /bin/sh may be (those on this host)
SHELLS = [
    shell for shell in (["dash"], ["busybox", "sh"], ["bash", "--posix"]) if shutil.which(shell[0])
]


def hosts_after_boot(tmp_path: Path, shell: list[str], before: str | None) -> str | None:
    """/etc/hosts (``before``; None: no file) once the init's section for it ran with the host
    name ``web-1``; None if there is still none."""
    hosts = tmp_path / "hosts"
    if before is not None:
        hosts.write_text(before)
    section = GUEST_INIT[
        GUEST_INIT.index('if [ -n "$name" ] && [ ! -L /etc/hosts ]') : GUEST_INIT.index(
            "# fstab, as a Debian boot"
        )
    ].replace("/etc/hosts", str(hosts))
    subprocess.run(
        [*shell, "-c", f'say() {{ echo "$*"; }}\nname=web-1\n{section}'],
        env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
        check=True,
        timeout=30,
    )
    return hosts.read_text() if hosts.exists() else None


@pytest.mark.parametrize("shell", SHELLS, ids=lambda s: s[0])
def test_the_image_hosts_file_gets_the_instance_name_once(tmp_path: Path, shell: list[str]) -> None:
    named = ETC_HOSTS + "127.0.1.1 web-1\n"
    assert hosts_after_boot(tmp_path, shell, ETC_HOSTS) == named
    assert hosts_after_boot(tmp_path, shell, named) == named  # the next boot's: as it was


@pytest.mark.parametrize("shell", SHELLS, ids=lambda s: s[0])
def test_an_older_name_gives_way_and_a_line_naming_it_stays(
    tmp_path: Path, shell: list[str]
) -> None:
    # cloud-init's rendering for the name the instance had (a rebuild under a new name)
    renamed = "# managed\n127.0.1.1 old.novalocal old\n127.0.0.1 localhost\n127.0.1.1 older\n"
    assert hosts_after_boot(tmp_path, shell, renamed) == (
        "# managed\n127.0.1.1 web-1\n127.0.0.1 localhost\n"
    )
    kept = "# web-1 is here\n10.0.0.5\tweb-1.example web-1 # the user's\n"
    assert hosts_after_boot(tmp_path, shell, kept) == kept
    # a name it only begins, or a comment naming it, is not the name
    assert hosts_after_boot(tmp_path, shell, "# web-1\n127.0.0.1 web-10\n") == (
        "# web-1\n127.0.0.1 web-10\n127.0.1.1 web-1\n"
    )


@pytest.mark.parametrize("shell", SHELLS, ids=lambda s: s[0])
def test_an_image_without_the_file_gets_localhost_and_its_name(
    tmp_path: Path, shell: list[str]
) -> None:
    assert hosts_after_boot(tmp_path, shell, None) == "127.0.0.1 localhost\n127.0.1.1 web-1\n"
