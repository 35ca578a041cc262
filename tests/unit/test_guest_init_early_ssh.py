"""The guest init's early-SSH decisions (:data:`.guest.GUEST_INIT`), run by the host's shells
on a scratch root: which instance's host keys go, whether the keypair's key is in place, what
the login plan is handed, and whether sshd starts before cloud-init. The key is the user's
text: nothing in it may run, expand or split in the init (it runs as root)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from interstack.backends.local.guest import GUEST_INIT, write_boot_options

#: the shells an image's /bin/sh may be (those on this host)
SHELLS = [
    shell for shell in (["dash"], ["busybox", "sh"], ["bash", "--posix"]) if shutil.which(shell[0])
]

#: the login plan's stand-in: records what it was handed and puts the key in place as
#: an image's plan does
PLAN = """\
printf '%s\\n' "$1" > "$ROOT/plan-got"
mkdir -p "$ROOT/home/debian/.ssh"
printf '%s\\n' "$1" > "$ROOT/home/debian/.ssh/authorized_keys"
"""


def early_ssh(root: Path, shell: list[str]) -> str:
    """Runs the init's early-SSH section with its absolute paths under ``root``; its output:
    what it says, then whether sshd started first."""
    section = GUEST_INIT[
        GUEST_INIT.index("early=/run/interstack/early-ssh") : GUEST_INIT.index(
            "# cloud-init's stages"
        )
    ]
    section = re.sub(r"(?<![\w.])/(run|etc|home|root|var)/", f"{root}/\\1/", section)
    stand_ins = 'say() { echo "$*"; }\nhas() { return 1; }\nstart_sshd() { echo sshd; }\n'
    done = subprocess.run(
        [*shell, "-c", f'{stand_ins}{section}echo "up=$up"'],
        cwd=root,
        env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "ROOT": str(root)},
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    return done.stdout + done.stderr


def make_root(tmp_path: Path, public_key: str | None, known_id: str | None) -> Path:
    root = tmp_path / "root"
    boot_dir = root / "run/interstack"
    boot_dir.mkdir(parents=True)
    write_boot_options(
        boot_dir, instance_id="i-1", public_key=public_key, early_ssh=True, local_datasource=True
    )
    (boot_dir / "login-plan").write_text(PLAN)
    (root / "etc/ssh").mkdir(parents=True)
    (root / "etc/ssh/ssh_host_ed25519_key").write_text("old host key")
    if known_id is not None:
        (root / "var/lib/cloud/data").mkdir(parents=True)
        (root / "var/lib/cloud/data/instance-id").write_text(known_id)
    return root


CRAFTED = [
    "ssh-ed25519 AAAA$(touch ran) c`touch ran`",
    "ssh-ed25519 AAAA* ; touch ran; x",
    "ssh-ed25519 -AAAA'\"\\ $ROOT ${x:-$(touch ran)} *",
    "  ssh-ed25519 AAAA\tspaced  ",
]


@pytest.mark.parametrize("shell", SHELLS, ids=lambda shell: shell[0])
@pytest.mark.parametrize("public_key", CRAFTED)
def test_a_key_reaches_the_login_plan_as_text_and_nothing_in_it_runs(
    tmp_path: Path, shell: list[str], public_key: str
) -> None:
    root = make_root(tmp_path, public_key, known_id="i-1\n")
    said = early_ssh(root, shell)
    assert not (root / "ran").exists() and not list(root.glob("**/ran"))
    assert (root / "plan-got").read_text() == public_key.strip() + "\n"
    assert "default login made by the image's login plan" in said
    assert said.endswith("sshd\nup=1\n"), said
    assert (root / "etc/ssh/ssh_host_ed25519_key").exists()  # the same instance's keys


@pytest.mark.parametrize("shell", SHELLS, ids=lambda shell: shell[0])
def test_a_key_in_place_is_not_put_again_and_sshd_starts(tmp_path: Path, shell: list[str]) -> None:
    key = "ssh-ed25519 AAAAC3Nza placed@host"
    root = make_root(tmp_path, key, known_id="i-1")  # cloud-init's file without a newline
    (root / "root/.ssh").mkdir(parents=True)
    (root / "root/.ssh/authorized_keys").write_text("ssh-ed25519 AAAAC3Nza other comment\n")
    said = early_ssh(root, shell)
    assert not (root / "plan-got").exists()
    assert said == "sshd\nup=1\n"
    assert (root / "etc/ssh/ssh_host_ed25519_key").exists()


@pytest.mark.parametrize("shell", SHELLS, ids=lambda shell: shell[0])
@pytest.mark.parametrize("known_id", [None, "", "i-2\n", " i-1\n"])
def test_another_instances_host_keys_go(
    tmp_path: Path, shell: list[str], known_id: str | None
) -> None:
    """No keypair: nothing to put in place, sshd starts at once, with host keys of its own."""
    root = make_root(tmp_path, None, known_id)
    assert early_ssh(root, shell) == "sshd\nup=1\n"
    assert not (root / "etc/ssh/ssh_host_ed25519_key").exists()


@pytest.mark.parametrize("shell", SHELLS, ids=lambda shell: shell[0])
def test_a_key_nothing_puts_in_place_leaves_sshd_to_cloud_init(
    tmp_path: Path, shell: list[str]
) -> None:
    root = make_root(tmp_path, "ssh-ed25519 AAAAC3Nza user@host", known_id="i-1\n")
    (root / "run/interstack/login-plan").write_text("exit 1\n")
    assert early_ssh(root, shell) == "up=\n"


def cloud_init_niceness(root: Path, shell: list[str], up: str, has: str = "return 0") -> str:
    """Runs the init's choice of cloud-init's niceness under ``root`` with sshd up (``up=1``)
    or not (``up=``), ``has`` telling which tools the guest has; what it chose to run
    cloud-init under."""
    section = GUEST_INIT[
        GUEST_INIT.index("# sshd up first") : GUEST_INIT.index("# cloud-init's stages")
    ]
    section = re.sub(r"(?<![\w.])/(run|etc|home|root|var)/", f"{root}/\\1/", section)
    done = subprocess.run(
        [*shell, "-c", f'has() {{ {has}; }}\nup={up}\n{section}echo "lower=$lower"'],
        cwd=root,
        env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    return done.stdout + done.stderr


@pytest.mark.parametrize("shell", SHELLS, ids=lambda shell: shell[0])
def test_cloud_init_yields_to_logins_only_with_sshd_up_and_no_boot_scripts(
    tmp_path: Path, shell: list[str]
) -> None:
    """sshd up first: cloud-init runs at nice 10 (logins first); sshd waiting for cloud-init,
    or a boot script that would inherit the niceness: at the init's own."""
    root = tmp_path / "root"
    (root / "var/lib/cloud/scripts/per-boot").mkdir(parents=True)
    (root / "var/lib/cloud/instance/scripts/vendor").mkdir(parents=True)  # empty: no script
    assert cloud_init_niceness(root, shell, "1") == "lower=nice -n 10\n"
    assert cloud_init_niceness(root, shell, "") == "lower=\n"
    for script in ("scripts/per-boot/start-daemon", "instance/scripts/vendor/part-001"):
        (root / "var/lib/cloud" / script).write_text("#!/bin/sh\n")
        assert cloud_init_niceness(root, shell, "1") == "lower=\n", script
        (root / "var/lib/cloud" / script).unlink()


@pytest.mark.parametrize("shell", SHELLS, ids=lambda shell: shell[0])
def test_cloud_init_keeps_its_niceness_when_the_images_settings_run_commands(
    tmp_path: Path, shell: list[str]
) -> None:
    """A bootcmd or runcmd in the image's cloud.cfg or cloud.cfg.d runs the user's commands
    under cloud-init (bootcmd at every boot): at the init's own niceness, as a boot script's;
    the module lists that merely name them do not count, and without grep to tell, no nice."""
    root = tmp_path / "root"
    settings = root / "etc/cloud/cloud.cfg.d"
    settings.mkdir(parents=True)
    (root / "etc/cloud/cloud.cfg").write_text("cloud_init_modules:\n - bootcmd\n - [runcmd]\n")
    (settings / "05_logging.cfg").write_text("# runcmd: not this one\n")
    (settings / "README").write_text("bootcmd: cloud-init reads only *.cfg\n")
    assert cloud_init_niceness(root, shell, "1") == "lower=nice -n 10\n"
    no_grep = 'case "$1" in grep) return 1 ;; esac; return 0'
    assert cloud_init_niceness(root, shell, "1", no_grep) == "lower=\n"
    for name, text in (
        ("cloud.cfg", "bootcmd:\n - [sh, -c, 'echo up']\n"),
        ("cloud.cfg.d/50_site.cfg", "runcmd :\n - touch /x\n"),
        ("cloud.cfg.d/60_quoted.cfg", '"bootcmd": [date]\n'),
    ):
        path = root / "etc/cloud" / name
        kept = path.read_text() if path.exists() else None
        path.write_text((kept or "") + text)
        assert cloud_init_niceness(root, shell, "1") == "lower=\n", name
        if kept is None:
            path.unlink()
        else:
            path.write_text(kept)
