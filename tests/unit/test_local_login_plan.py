"""The login plan a built image's recording becomes: the recorded commands and files, replayed
by ``sh`` in the guest, or nothing at all where the instance's accounts are not the image's."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import Any

from interstack.backends.local.loginplan import no_plan, render

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKjUXqeR5cMnb0/Xt7rpbl6V1EgbmA4RR3fCNPjZmxa8 a b"
SUDO_RULES = "\n# User rules for debian\ndebian ALL=(ALL) NOPASSWD:ALL\n"


def _record(home: Path) -> dict[str, Any]:
    """A recording as the image's cloud-init makes it, with the home under ``home``."""
    return {
        "user": "debian",
        "commands": [
            ["useradd", "debian", "--comment", "Debian Admin", "--groups", "adm,sudo", "-m"],
            ["passwd", "-l", "debian"],
        ],
        "sudoers": "# Created by cloud-init v. 22.4.2 on Mon, 02 Jan 2023 10:00:00 +0000\n"
        + SUDO_RULES,
        "sudoers_mode": "440",
        "made": [
            [str(home / ".ssh"), True, "700", "debian:debian"],
            [str(home / ".ssh/authorized_keys"), False, "600", "debian:debian"],
        ],
    }


def _stubs(directory: Path, user_exists: bool) -> dict[str, str]:
    """``getent``, ``useradd``, ``passwd`` and ``chown`` that only log their arguments."""
    directory.mkdir()
    log = directory / "calls"
    for tool in ("useradd", "passwd", "chown", "getent"):
        status = 0 if tool != "getent" or user_exists else 2
        stub = directory / tool
        stub.write_text(f'#!/bin/sh\necho "{tool} $*" >> {log}\nexit {status}\n')
        stub.chmod(0o755)
    return {**os.environ, "PATH": f"{directory}:{os.environ['PATH']}"}


def _run(script: str, tmp_path: Path, user_exists: bool) -> subprocess.CompletedProcess[str]:
    plan = tmp_path / "plan.sh"
    plan.write_text(script)
    return subprocess.run(
        ["sh", str(plan), KEY, str(tmp_path / "sudoers")],
        env=_stubs(tmp_path / "bin", user_exists),
        capture_output=True,
        text=True,
        check=False,
    )


def test_the_plan_replays_cloud_inits_commands_and_files_with_the_key(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    done = _run(render(_record(home)), tmp_path, user_exists=False)
    assert done.returncode == 0, done.stderr
    calls = (tmp_path / "bin/calls").read_text().splitlines()
    assert calls == [
        "getent passwd debian",
        "useradd debian --comment Debian Admin --groups adm,sudo -m",
        "passwd -l debian",
        f"chown debian:debian {home / '.ssh'}",
        f"chown debian:debian {home / '.ssh/authorized_keys'}",
    ]
    sudoers = (tmp_path / "sudoers").read_text()
    # cloud-init's header, dated when the plan runs (as cloud-init dates it), then its rules
    assert re.fullmatch(
        r"# Created by cloud-init v\. 22\.4\.2 on \w{3}, \d\d \w{3} \d{4} [\d:]{8} [+-]\d{4}\n",
        sudoers.split("\n", 1)[0] + "\n",
    )
    assert "Mon, 02 Jan 2023" not in sudoers
    assert sudoers.split("\n", 1)[1] == SUDO_RULES
    assert (tmp_path / "sudoers").stat().st_mode & 0o777 == 0o440
    assert (home / ".ssh").stat().st_mode & 0o777 == 0o700
    keys = home / ".ssh/authorized_keys"
    assert keys.read_text() == KEY + "\n"
    assert keys.stat().st_mode & 0o777 == 0o600


def test_the_plan_does_nothing_when_the_user_exists_already(tmp_path: Path) -> None:
    """Not the image's accounts any more: cloud-init's own code decides (the guest init falls
    back on it when the plan fails)."""
    home = tmp_path / "home"
    home.mkdir()
    done = _run(render(_record(home)), tmp_path, user_exists=True)
    assert done.returncode == 3
    assert (tmp_path / "bin/calls").read_text().splitlines() == ["getent passwd debian"]
    assert not (tmp_path / "sudoers").exists()
    assert not (home / ".ssh").exists()


def test_an_image_without_a_plan_says_why_and_fails(tmp_path: Path) -> None:
    script = no_plan("the image has no\ndefault user")
    assert "no login plan for this image: the image has no default user" in script
    assert _run(script, tmp_path, user_exists=False).returncode == 1


def test_the_plan_replays_shell_syntax_in_a_recording_as_plain_text(tmp_path: Path) -> None:
    """Every recorded value is quoted: none runs, expands or formats in the guest's shell."""
    home = tmp_path / "home $HOME"
    home.mkdir()
    pwned = tmp_path / "pwned"
    record = _record(home)
    record["user"] = "deb'ian"
    record["commands"] = [["useradd", f"$(touch {pwned})", f"`touch {pwned}`; touch {pwned}"]]
    record["sudoers"] = f"# Created by cloud-init v. 1 on x\n'; touch {pwned}; %s \\n '\n"
    done = _run(render(record), tmp_path, user_exists=False)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "bin/calls").read_text().splitlines() == [
        "getent passwd deb'ian",
        f"useradd $(touch {pwned}) `touch {pwned}`; touch {pwned}",
        f"chown debian:debian {home / '.ssh'}",
        f"chown debian:debian {home / '.ssh/authorized_keys'}",
    ]
    assert not pwned.exists()
    rules = (tmp_path / "sudoers").read_text().split("\n", 1)[1]
    assert rules == f"'; touch {pwned}; %s \\n '\n"
    assert (home / ".ssh/authorized_keys").read_text() == KEY + "\n"
