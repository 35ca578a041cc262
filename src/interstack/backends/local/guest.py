"""What runs inside an instance and what it is told: the guest init and the cloud-init seed.

The init is a POSIX shell script run by tini (PID 1, which reaps orphans and forwards signals):
it runs cloud-init's stages in the order systemd units would (``init --local``, ``init``, then
``modules --mode config`` and ``--mode final``; several in one Python process,
:mod:`.cloudinitstages`), starts sshd once the host keys exist (ed25519, generated at first
boot) and marks the instance up in ``/run/interstack-ready``, which the host reads through
``/proc/<pid>/root``; when sshd starts first, cloud-init runs at nice 10 so that logins come
before it (only if nothing of the user's would inherit that niceness). No systemd is involved:
``poweroff``, ``halt``, ``shutdown`` and ``reboot`` are a script of the backend's that signals
PID 1 (tini, which forwards the signal to the init): SIGTERM (or SIGINT) stops the init, SIGHUP
stops it with :data:`REBOOT_EXIT_CODE`, which tini passes on as its own exit code; the backend
then stops the instance as a VM powered off from inside, or boots it again on the same disk as
a VM rebooted from inside (:class:`.instances.Ending`). An image that brings systemd's own
commands keeps them: without systemd to talk to they fall back to sysvinit's ``/run/initctl``,
which the init serves (runlevel 0 powers off, 6 reboots). As a Debian boot does, the init
mounts the ext2/3/4 entries of ``/etc/fstab`` (through the host: :mod:`.volumes.guestmount`);
one that cannot be mounted (a volume detached since) is reported on the console and the boot
goes on, as with ``nofail``.

An instance with a port on an IPv4 subnet with DHCP reads its identity the way a Nova guest
does: cloud-init's OpenStack datasource at http://169.254.169.254 (the gateway's metadata
service, reached through the subnet's DHCP namespace); PID 1's environment says
``product_name=OpenStack Nova``, which is how cloud-init recognizes OpenStack without DMI. An
instance without such a port gets a NoCloud seed written into its disk layer before each boot
instead: ``meta-data`` (instance id, hostname from the server name, the keypair's public key)
and ``user-data`` exactly as the user sent it (``#cloud-config``, ``#!`` scripts, MIME
multipart), with the instance's ephemeral and swap disks named in cloud-init's
``device_aliases`` (NoCloud has no block-device mapping to announce them), so its default
``mounts`` puts ephemeral0 at ``/mnt`` and the swap disk in fstab as for a guest of the metadata
service. Either way the instance id is the server's id, so switching between them never
makes cloud-init run its once-per-instance modules again. The host configures the instance's
network, so cloud-init's network configuration is off.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path

from interstack.backends.local.cloudinitstages import CLOUD_INIT_STAGES, HOLD
from interstack.backends.local.diskfiles import begins_with, remove_from, write_into

#: the guest init's exit code for a reboot asked for inside the guest (0: powered off; any
#: other: it crashed)
REBOOT_EXIT_CODE = 6

GUEST_INIT = r"""#!/bin/sh
# interstack guest init: run by tini as PID 1 in the instance (no systemd).
say() { echo "interstack-init: $*"; }
stop() {
    say "$1"
    [ -f /run/sshd.pid ] && kill "$(cat /run/sshd.pid)" 2>/dev/null
    exit "$2"
}
trap 'stop stopping 0' TERM INT
trap 'stop rebooting @REBOOT_EXIT_CODE@' HUP
# (each program the init runs costs the instance's CPU at every boot: a shell builtin does
# what it can instead)
mkdir -p /run/lock /run/sshd /var/log /tmp /run/cloud-init
chmod 1777 /tmp
# no boot loader runs in an instance: without grub, cloud-init's grub-dpkg module would only
# start debconf (perl, a quarter of a second) to note that (/run is this boot's tmpfs)
if ! command -v grub-probe >/dev/null 2>&1 && ! command -v grub-install >/dev/null 2>&1; then
    echo 'grub_dpkg: {enabled: false}' >/run/cloud-init/cloud.cfg
fi
# volumes: mount(8) hands ext2/3/4 mounts to the host (see the backend's volumes.guestmount)
if [ -x /run/interstack/mount-volume ]; then
    for fs in ext4 ext3 ext2; do
        for tool in mount umount; do
            [ -e /sbin/$tool.$fs ] || ln -s /run/interstack/mount-volume /sbin/$tool.$fs
        done
    done
fi
# poweroff, halt, shutdown and reboot (no systemd to ask): /run/interstack/power signals PID 1
for tool in poweroff halt shutdown reboot; do
    [ -e /sbin/$tool ] || [ -L /sbin/$tool ] || ln -s /run/interstack/power /sbin/$tool 2>/dev/null
done
# systemd's own poweroff, reboot, halt and shutdown (an image may have them) find no systemd and
# write a sysvinit request to /run/initctl: its magic, the runlevel command, then runlevel 0 or 6
rm -f /run/initctl
if mkfifo -m 600 /run/initctl 2>/dev/null; then
    (
        exec 3<>/run/initctl
        while request=$(dd bs=384 count=1 iflag=fullblock <&3 2>/dev/null | od -An -v -tx1 |
            tr -d ' \n') && [ -n "$request" ]; do
            case "$request" in
                691909030100000030*) kill -TERM 1 ;;
                691909030100000036*) kill -HUP 1 ;;
            esac
        done
    ) &
fi
# the boot record (who -b, last reboot), systemd-update-utmp's on a VM: written by the host
if [ -f /run/interstack/utmp ]; then
    install -m 664 -g utmp /run/interstack/utmp /run/utmp 2>/dev/null || {
        cp /run/interstack/utmp /run/utmp && chmod 664 /run/utmp && chgrp utmp /run/utmp 2>/dev/null
    }
    [ -d /var/log ] && cat /run/interstack/utmp >> /var/log/wtmp
fi
read -r name </proc/sys/kernel/hostname || name=$(hostname)
say "booting $name"
# the instance's own name resolves without DNS, as in a Debian install's /etc/hosts (127.0.1.1
# <name>): sudo looks it up at every run, and waited out the resolver's timeouts for it. A line
# naming it stays; an older 127.0.1.1 line (a rebuild or rename, another instance's disk) gives
# way to it; an image without the file gets one. Shell builtins only: a file write at most.
if [ -n "$name" ] && [ ! -L /etc/hosts ]; then
    hosts= named= replaced=
    if [ -f /etc/hosts ]; then
        while IFS= read -r line || [ -n "$line" ]; do
            case "$line" in
                \#*) ;;
                *[[:space:]]"$name" | *[[:space:]]"$name"[[:space:]#]*) named=1 ;;
                127.0.1.1[[:space:]]*)
                    [ -z "$replaced" ] || continue
                    line="127.0.1.1 $name" replaced=1
                    ;;
            esac
            hosts="$hosts$line
"
        done </etc/hosts
    else
        hosts="127.0.0.1 localhost
"
    fi
    if [ -z "$named" ]; then
        [ -n "$replaced" ] || hosts="${hosts}127.0.1.1 $name
"
        printf '%s' "$hosts" >/etc/hosts || say "/etc/hosts: $name not written"
    fi
fi
# fstab, as a Debian boot mounts it: the volumes' filesystems (the host mounts those)
if [ -x /run/interstack/mount-volume ] && [ -f /etc/fstab ]; then
    while read -r source target type options _; do
        case "$source $type" in \#* | " "*) continue ;; esac
        case "$type" in ext4 | ext3 | ext2 | auto) ;; *) continue ;; esac
        case ",$options," in *,noauto,*) continue ;; esac
        [ "$target" != / ] && ! mountpoint -q "$target" || continue
        mount "$target" </dev/null
        mountpoint -q "$target" || say "fstab: $source not mounted on $target: going on"
    done </etc/fstab
fi
has() { command -v "$1" >/dev/null 2>&1; }
start_sshd() {
    if [ -x /usr/sbin/sshd ]; then
        [ -s /etc/ssh/ssh_host_ed25519_key ] ||
            ssh-keygen -q -t ed25519 -N '' -f /etc/ssh/ssh_host_ed25519_key
        /usr/sbin/sshd -o PidFile=/run/sshd.pid && say "sshd started"
    fi
    : > /run/interstack-ready
    say "up"
}
# sshd may start before cloud-init when the host allows it (no user-data: nothing of the
# user's must run first) and nothing cloud-init does first is needed to log in: no keypair,
# or its key is in place (since an earlier boot, or put there now as cloud-init's users-groups
# and ssh modules will: by the image's login plan, else by the seed-login helper with
# cloud-init's own code). A new instance
# (another one's disk, from a snapshot) first loses the host keys it came with, which
# cloud-init would otherwise delete.
early=/run/interstack/early-ssh
plan=/run/interstack/login-plan
early_sudo=/etc/sudoers.d/00-interstack-early-login
up=
key_in_place() {
    [ -z "$key" ] || grep -qsF -- "$key" /home/*/.ssh/authorized_keys /root/.ssh/authorized_keys
}
if [ -f "$early" ]; then
    # its lines: the instance id, then the keypair's public key (or none)
    early_id= public_key= known_id=
    { IFS= read -r early_id; IFS= read -r public_key; } <"$early"
    [ ! -f /var/lib/cloud/data/instance-id ] ||
        IFS= read -r known_id </var/lib/cloud/data/instance-id
    [ "$early_id" = "$known_id" ] || rm -f /etc/ssh/ssh_host_*
    key=${public_key#* }  # the key's second field: its base64 data
    key=${key%% *}
    if key_in_place; then
        :
    # the image's login plan replays what cloud-init's code did in the image (no Python)
    elif [ -f "$plan" ] && sh "$plan" "$public_key" "$early_sudo"; then
        say "default login made by the image's login plan"
    elif has cloud-init && has python3; then
        python3 -I /run/interstack/seed-login "$public_key" "$early_sudo" ||
            say "the keypair waits for cloud-init"
    fi
    if key_in_place; then
        start_sshd
        up=1
    fi
fi
# sshd up first: cloud-init runs at nice 10, so that a login's key exchange and shell come
# before it on the instance's vCPUs (a first login shared its one vCPU half and half with
# cloud-init's import and metadata crawl). What cloud-init starts inherits the niceness and a
# guest cannot undo it: only when nothing of the user's would run under it (no user-data, which
# is the host's condition for early SSH, no boot scripts on the disk, and no bootcmd or runcmd
# in the image's own cloud-init settings; without grep to tell, as if there were)
lower=
if [ -n "$up" ] && has nice; then
    lower="nice -n 10"
    for script in /var/lib/cloud/scripts/per-*/* /var/lib/cloud/instance/scripts/* \
        /var/lib/cloud/instance/scripts/vendor/*; do
        [ -f "$script" ] && lower=
    done
    for config in /etc/cloud/cloud.cfg /etc/cloud/cloud.cfg.d/*.cfg; do
        [ -f "$config" ] || continue
        has grep && ! grep -qsE '^[[:space:]]*["'"'"']?(bootcmd|runcmd)["'"'"']?[[:space:]]*:' \
            "$config" || lower=
    done
fi
# cloud-init's stages, several in one interpreter (importing cloud-init is most of a stage's CPU)
stages() { $lower python3 -I /run/interstack/cloud-init-stages "$@"; }
if has cloud-init; then
    # the local stage finds only a seed or a config drive; the metadata service needs the network
    set -- network
    [ -f /run/interstack/no-local-datasource ] || set -- local network
    if [ -n "$up" ]; then
        stages "$@" config final
    else
        stages "$@"
        start_sshd
        stages config final
    fi
    # cloud-init's users-groups module wrote the default user's sudo rule in its own file now
    rm -f "$early_sudo"
    say "cloud-init finished"
else
    [ -n "$up" ] || start_sshd
fi
while :; do
    sleep 3600 &
    wait $!
done
""".replace("@REBOOT_EXIT_CODE@", str(REBOOT_EXIT_CODE))

#: ``poweroff``, ``halt``, ``shutdown`` and ``reboot`` in a guest: PID 1 (tini) forwards the
#: signal to the init, which stops sshd and exits, and the instance with it: SIGTERM powers off
#: (the backend lists it stopped), SIGHUP reboots (the backend boots it again)
GUEST_POWER = r"""#!/bin/sh
# interstack: power off or reboot this instance (it has no systemd)
signal=TERM
case "$(basename "$0") $*" in
    shutdown*-c*) exit 0 ;;
    reboot*" -p"* | reboot*--poweroff*) ;;
    reboot* | shutdown*-r* | shutdown*--reboot* | halt*--reboot* | poweroff*--reboot*) signal=HUP ;;
esac
[ "$(id -u)" = 0 ] || { echo "$0: must be root" >&2; exit 1; }
echo "interstack: $(basename "$0") requested in the guest" >>/proc/1/fd/1 2>/dev/null
kill -$signal 1
"""

#: the start of :data:`GUEST_SEED_LOGIN` (argv: the public key, the sudoers file): the image's
#: default user (``user``), its settings (``config``) and sudo rule (``sudo``) as cloud-init's
#: users-groups module finds them; shared with the login plan's recorder (:mod:`.loginplan`)
SEED_LOGIN_USER = r"""
import sys

from cloudinit import distros, helpers, ssh_util, util
from cloudinit.distros import ug_util
from cloudinit.settings import CFG_BUILTIN

key, sudo_file = sys.argv[1:3]
cfg = util.mergemanydict([util.read_conf_with_confd("/etc/cloud/cloud.cfg"), CFG_BUILTIN])
if not util.get_cfg_option_bool(cfg, "allow_public_ssh_keys", True):
    sys.exit("interstack-init: the image takes no public keys")
system = dict(cfg.get("system_info") or {})
name = system.pop("distro", "ubuntu")
distro = distros.fetch(name)(name, system, helpers.Paths(system.get("paths") or {}))
user, config = ug_util.extract_default(ug_util.normalize_users_groups(cfg, distro)[0])
if not user:
    sys.exit("interstack-init: the image has no default user")
sudo = config.pop("sudo", None)
"""
#: run by the guest init before sshd on a first boot with a keypair (argv: the public key, the
#: sudoers file for the default user's rule until cloud-init writes its own): the image's
#: default user and its authorized key, made by cloud-init's own code from the image's
#: cloud-init settings, so its users-groups and ssh modules find them done as they would have
#: made them. Exits non-zero (sshd then waits for cloud-init) if the image refuses public keys
#: or has no default user.
GUEST_SEED_LOGIN = (
    SEED_LOGIN_USER
    + r"""distro.create_user(user, **config)
if sudo:
    distro.write_sudo_rules(user, sudo, sudo_file)
ssh_util.setup_user_keys({key}, user)
"""
)

#: cloud-init settings for instances: where to look for their data, which host keys to make
CLOUD_CONFIG = """\
# written by interstack: NoCloud seed or config drive first, the metadata service next
datasource_list: [NoCloud, ConfigDrive, OpenStack, None]
ssh_genkeytypes: [ed25519]
# the image has no locales package: update-locale would fail and cloud-init report an error
# (a string: its schema takes no boolean here, and warned of an invalid config at every boot)
locale: "false"
"""
#: the same for an instance that reaches the metadata service
METADATA_CLOUD_CONFIG = """\
# written by interstack: a config drive first, the metadata service next
datasource_list: [ConfigDrive, OpenStack, None]
datasource:
  OpenStack:
    metadata_urls: ["http://169.254.169.254"]
    max_wait: 30
    timeout: 5
    apply_network_config: false
network: {config: disabled}
ssh_genkeytypes: [ed25519]
locale: "false"
"""
#: what PID 1's environment tells cloud-init about the platform (no DMI in a container)
PLATFORM_ENV = "product_name=OpenStack Nova"
CLOUD_CONFIG_PATH = "etc/cloud/cloud.cfg.d/90_interstack.cfg"
SEED_DIR = "var/lib/cloud/seed/nocloud"
RESOLV_CONF = "etc/resolv.conf"
#: the first line of a resolv.conf the backend wrote (without it: the image's or the user's)
RESOLV_CONF_HEADER = b"# interstack: the DNS servers of this instance's subnets\n"
READY_MARKER = "run/interstack-ready"
#: files of the boot directory that tell the guest init how to boot (:func:`write_boot_options`)
EARLY_SSH = "early-ssh"
LOGIN_PLAN = "login-plan"
NO_LOCAL_DATASOURCE = "no-local-datasource"
#: added to the cloud-init settings of an instance whose sshd may start first: the guest init
#: replaced the host keys of another instance already, and sshd serves the ones it found
KEEP_HOST_KEYS = "ssh_deletekeys: false\n"


def write_file(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Replace ``path`` whole (a new file renamed over it): a reader sees the old or the new."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o755)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def write_seed(
    disk: Path,
    *,
    instance_id: str,
    hostname: str,
    public_key: str | None,
    user_data: bytes | None,
    metadata_service: bool = False,
    config_drive: bool = False,
    keep_host_keys: bool = False,
    local_disks: Mapping[str, str] | None = None,
) -> None:
    """Write the cloud-init settings into the disk layer ``disk``, and the NoCloud seed unless
    the instance has a config drive or reads the metadata service (then a seed of an earlier
    boot goes). ``keep_host_keys``: cloud-init keeps the host keys it finds (the guest init
    starts sshd early, with keys of this instance). ``local_disks``: Nova's name of each
    ephemeral and swap disk -> its device, for a seeded guest's ``mounts``."""
    extra = KEEP_HOST_KEYS if keep_host_keys else ""
    if metadata_service or config_drive:
        remove_from(disk, SEED_DIR)
        write_into(disk, CLOUD_CONFIG_PATH, (METADATA_CLOUD_CONFIG + extra).encode())
        return
    meta: dict[str, object] = {"instance-id": instance_id, "local-hostname": hostname}
    if public_key:
        meta["public-keys"] = [public_key.strip()]
    # JSON is YAML: no YAML writer needed, and no quoting surprises in key comments
    write_into(disk, f"{SEED_DIR}/meta-data", json.dumps(meta, indent=1).encode(), 0o600)
    write_into(disk, f"{SEED_DIR}/user-data", user_data if user_data is not None else b"", 0o600)
    write_into(disk, f"{SEED_DIR}/vendor-data", b"", 0o600)
    if local_disks:
        extra += f"device_aliases: {json.dumps(dict(local_disks))}\n"
    write_into(disk, CLOUD_CONFIG_PATH, (CLOUD_CONFIG + extra).encode())


def write_resolv_conf(disk: Path, resolvers: list[str]) -> None:
    """The instance's ``/etc/resolv.conf``: the resolvers of its subnets (it runs no DHCP
    client to learn them). Without any, a file the backend wrote names none (the servers it
    named are gone, and IPAM may give their addresses to instances); the image's own stays."""
    unique = list(dict.fromkeys(resolvers))[:3]  # the resolver library reads three
    if unique or begins_with(disk, RESOLV_CONF, RESOLV_CONF_HEADER):
        lines = [RESOLV_CONF_HEADER.decode(), *(f"nameserver {r}\n" for r in unique)]
        write_into(disk, RESOLV_CONF, "".join(lines).encode())


def write_boot_dir(boot_dir: Path, tini: Path, login_plan: Path | None = None) -> None:
    """The host directory mounted read-only at ``/run/interstack``: the init, its power tool,
    the cloud-init stages, the seed-login helper, the image's login plan if it has one
    (:mod:`.loginplan`) and tini."""
    boot_dir.mkdir(parents=True, exist_ok=True)
    write_file(boot_dir / "init", GUEST_INIT.encode(), 0o755)
    write_file(boot_dir / "power", GUEST_POWER.encode(), 0o755)
    write_file(boot_dir / "cloud-init-stages", CLOUD_INIT_STAGES.encode(), 0o644)
    write_file(boot_dir / "seed-login", GUEST_SEED_LOGIN.encode(), 0o644)
    if login_plan is not None and login_plan.is_file():
        write_file(boot_dir / LOGIN_PLAN, login_plan.read_bytes(), 0o644)
    else:
        (boot_dir / LOGIN_PLAN).unlink(missing_ok=True)
    target = boot_dir / "tini"
    if not target.exists():
        tmp = boot_dir / ".tini.tmp"
        tmp.write_bytes(tini.read_bytes())
        os.chmod(tmp, 0o755)  # noqa: S103 - tini must be executable by every instance
        os.replace(tmp, target)


def write_boot_options(
    boot_dir: Path,
    *,
    instance_id: str,
    public_key: str | None,
    early_ssh: bool,
    local_datasource: bool,
) -> None:
    """What the guest init is told for this boot, as files in ``/run/interstack``:
    ``early-ssh`` (the instance id, then the keypair's key) lets it start sshd before
    cloud-init (see :data:`GUEST_INIT`), ``no-local-datasource`` spares cloud-init's local
    stage, which finds nothing when the only source is the metadata service."""
    (boot_dir / HOLD).unlink(missing_ok=True)  # the gateway holds its own boots only
    early = boot_dir / EARLY_SSH
    if early_ssh:
        key = (public_key or "").strip().splitlines()[:1]
        write_file(early, "\n".join([instance_id, *key, ""]).encode())
    else:
        early.unlink(missing_ok=True)
    no_local = boot_dir / NO_LOCAL_DATASOURCE
    if local_datasource:
        no_local.unlink(missing_ok=True)
    else:
        write_file(no_local, b"")
