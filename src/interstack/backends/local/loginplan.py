"""The default user's login of a built image as a shell script: cloud-init's work, recorded once.

A first boot with a keypair starts sshd before cloud-init (see :mod:`.guest`), so the image's
default user, its sudo rule and the key must be in place first, exactly as cloud-init's
users-groups and ssh modules will make them. Importing cloud-init to do that costs a quarter of
a CPU second at every such boot. Instead, when a built image is first used, cloud-init's own
code does it once in a throwaway overlay over the image's root (in namespaces of its own:
nothing is left mounted, and the host's network, processes and name are out of reach): the
commands it runs (``useradd``, ``passwd -l``, ``groupadd``) are recorded, and so are the sudoers
text it writes and the directories and file of the authorized keys with their modes and owners.
That becomes :data:`PLAN_FILE`, a shell script the guest init runs with the key and the sudoers
file as arguments: the same commands, the same files. It exits non-zero without touching
anything when the instance's disk no longer has the image's accounts (the user exists already);
the guest init then falls back on cloud-init's code in the guest. Only images this backend built
get a plan: recording runs the image's own programs as root on the host, which an uploaded image
must never get to do.
"""

from __future__ import annotations

import json
import re
import shlex
import tempfile
from pathlib import Path
from typing import Any

from interstack.backends.local.guest import SEED_LOGIN_USER, write_file
from interstack.backends.local.host import run
from interstack.errors import BackendError

#: beside the image's ``root``: the script (or one that only says why there is none); its
#: version changes with what it does, so that a cached image gets a new one
PLAN_FILE = "login-plan.v1.sh"
#: the first line cloud-init writes in a sudoers file: its version, then the time (dated anew
#: when the plan runs, as ``date -R``, cloud-init's format)
SUDOERS_HEADER = re.compile(r"(# Created by cloud-init v\. \S+ on )[^\n]*\n")
#: the key the recording puts in place (any valid public key: only where it goes matters)
SAMPLE_KEY = (
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKjUXqeR5cMnb0/Xt7rpbl6V1EgbmA4RR3fCNPjZmxa8 sample"
)
SAMPLE_SUDOERS = "/etc/sudoers.d/00-interstack-sample"

#: run by the image's python3 in the throwaway overlay: the guest's seed-login helper
#: (:data:`.guest.GUEST_SEED_LOGIN`) with cloud-init's commands recorded; prints the record
RECORDER = (
    SEED_LOGIN_USER
    + r"""
import grp, json, os, pwd

from cloudinit import subp

commands = []
real_subp = subp.subp


def recorded(args, *rest, **options):
    if rest or set(options) - {"logstring", "capture", "rcs"} or isinstance(args, str):
        sys.exit("cloud-init ran a command that cannot be replayed: %r" % (args,))
    if any(key in a or sudo_file in a for a in map(str, args)):
        sys.exit("cloud-init ran a command with the key or the sudoers file: %r" % (args,))
    commands.append([str(a) for a in args])
    return real_subp(args, *rest, **options)


def read(path):
    with open(path, encoding="utf-8") as file:
        return file.read()


subp.subp = recorded
sudoers = read("/etc/sudoers") if os.path.exists("/etc/sudoers") else None
distro.create_user(user, **config)
if sudo:
    distro.write_sudo_rules(user, sudo, sudo_file)
if (read("/etc/sudoers") if os.path.exists("/etc/sudoers") else None) != sudoers:
    sys.exit("cloud-init changed /etc/sudoers")
home = pwd.getpwnam(user).pw_dir
existing = {home}
for top, dirs, files in os.walk(home):
    existing.update(os.path.join(top, entry) for entry in dirs + files)
ssh_util.setup_user_keys({key}, user)
keys_file = ssh_util.extract_authorized_keys(user)[0]
if read(keys_file) != key + "\n":
    sys.exit("cloud-init wrote the key differently")
made = []
path = keys_file
while path not in existing and path != "/":
    st = os.lstat(path)
    owner = pwd.getpwuid(st.st_uid).pw_name + ":" + grp.getgrgid(st.st_gid).gr_name
    made.insert(0, [path, os.path.isdir(path), "%o" % (st.st_mode & 0o7777), owner])
    path = os.path.dirname(path)
if not made or made[-1][1]:
    sys.exit("the authorized keys file was there before")
sudo_mode = "%o" % (os.stat(sudo_file).st_mode & 0o7777) if sudo else None
print(json.dumps({
    "user": user,
    "commands": commands,
    "sudoers": read(sudo_file) if sudo else None,
    "sudoers_mode": sudo_mode,
    "made": made,
}))
"""
)


def plan_path(image_root: Path) -> Path:
    """Where the login plan of the image whose root is ``image_root`` is kept."""
    return image_root.parent / PLAN_FILE


def render(record: dict[str, Any]) -> str:
    """The guest's script from a recording: ``$1`` the key, ``$2`` the sudoers file."""
    q = shlex.quote
    user = q(str(record["user"]))
    lines = [
        "#!/bin/sh",
        "# interstack: the default user's login as cloud-init's code made it in this image",
        "# ($1: the keypair's public key, $2: the sudoers file for the user's rule)",
        "set -e",
        f"! getent passwd {user} >/dev/null || exit 3  # not the image's accounts any more",
        *(
            " ".join(q(str(arg)) for arg in command) + " >/dev/null"
            for command in record["commands"]
        ),
    ]
    sudoers = record["sudoers"]
    if sudoers is not None:
        header = SUDOERS_HEADER.match(sudoers)
        if header is None:
            lines.append(f'printf %s {q(sudoers)} > "$2"')
        else:
            dated = q(header.group(1)) + '"$(date -R)"'
            lines.append(f'printf "%s\\n%s" {dated} {q(sudoers[header.end() :])} > "$2"')
        lines.append(f'chmod {q(str(record["sudoers_mode"]))} "$2"')
    for path, is_dir, mode, owner in record["made"]:
        target = q(path)
        if is_dir:
            lines.append(f"mkdir {target}")
        else:
            lines.append(f"printf '%s\\n' \"$1\" > {target}")
        lines += [f"chmod {q(str(mode))} {target}", f"chown {q(str(owner))} {target}"]
    return "\n".join([*lines, ""])


def no_plan(reason: str) -> str:
    """A plan that only says why there is none: the guest falls back on cloud-init's code."""
    said = " ".join(reason.split())
    return f"#!/bin/sh\n# interstack: no login plan for this image: {said}\nexit 1\n"


def record_plan(image_root: Path) -> None:
    """Record the login plan of the image at ``image_root`` (see the module's docstring).
    A recording that fails leaves a plan saying why, so that it is not tried at every boot."""
    with tempfile.TemporaryDirectory(dir=image_root.parent, prefix=".login-plan-") as scratch:
        work = Path(scratch)
        for part in ("upper", "work", "merged"):
            (work / part).mkdir()
        options = f"lowerdir={image_root},upperdir={work / 'upper'},workdir={work / 'work'}"
        mount_and_record = (
            'mount -t overlay overlay -o "$1" "$2" && root=$2 && shift 2 && '
            'exec chroot "$root" "$@"'
        )
        try:
            out = run(
                [
                    # its own mounts, and no way to the host's network, processes or name
                    *("unshare", "--mount", "--propagation", "private", "--net", "--ipc"),
                    *("--uts", "--pid", "--fork", "--"),
                    *("sh", "-c", mount_and_record, "sh", options, str(work / "merged")),
                    *("/usr/bin/python3", "-I", "-c", RECORDER, SAMPLE_KEY, SAMPLE_SUDOERS),
                ],
                what="record the image's default login",
            )
            script = render(json.loads(out))
        except (BackendError, ValueError, KeyError, TypeError) as exc:
            script = no_plan(str(exc))
    write_file(plan_path(image_root), script.encode(), 0o644)
