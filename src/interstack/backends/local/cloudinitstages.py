"""The cloud-init stages script the guest init runs (``/run/interstack/cloud-init-stages``):
cloud-init's stages in one Python process, with a few of cloud-init's costs that change nothing
it does spared (see :data:`CLOUD_INIT_STAGES`). Kept apart from :mod:`.guest`, which writes it
into an instance's boot directory with the init that runs it.
"""

from __future__ import annotations

#: in the boot directory while the host holds back the cloud-init of an instance that is up
#: (:mod:`.cloudinithold`): the stages wait until it goes, at most HOLD_SECONDS
HOLD = "cloud-init-hold"
HOLD_SECONDS = 10.0
#: in the guest, from when its cloud-init first waits: the host counts it among the cloud-inits
#: it let go until cloud-init writes its result (:data:`RESULT`)
HELD = "run/interstack-cloud-init-held"
RESULT = "run/cloud-init/result.json"

#: cloud-init's stages (``local``, ``network``, ``config``, ``final``) one after another in one
#: Python process, as ``cloud-init init [--local]`` and ``cloud-init modules --mode …`` would
#: run them each in its own: importing cloud-init costs a quarter of a CPU second each time, more
#: than a stage's own work on this backend. A cloud-init that cannot be imported (another
#: Python's, a different layout) runs as its command, stage by stage.
#: Before it runs, four of cloud-init's costs that change nothing it does are spared
#: (``lighten``: schema documentation, settings parsed again and again;
#: ``skip_ssh_status_without_pwauth``: an sshd status asked for nothing; ~0.1 CPU s a boot; and
#: ``resolve_addresses_without_dns``: DNS lookups before a metadata address is used).
CLOUD_INIT_STAGES = (
    r"""
import os
import subprocess
import sys
import time
import traceback

HOLD = "@HOLD@"
HOLD_SECONDS = @HOLD_SECONDS@
HELD = "/@HELD@"
ARGUMENTS = {
    "local": ["init", "--local"],
    "network": ["init"],
    "config": ["modules", "--mode", "config"],
    "final": ["modules", "--mode", "final"],
}


# Less of cloud-init's own work, with the same result: the documentation each module builds
# from its schema when imported (only `cloud-init devel` shows it) is left unbuilt, and a YAML
# text is parsed once: cloud-init reads its settings files again at every step, and parsing
# them in pure Python was a fifth of its CPU. Each caller gets its own copy.
def lighten():
    import copy

    from cloudinit import util
    from cloudinit.config import schema

    schema.get_meta_doc = lambda *args, **kwargs: ""
    parse = util.load_yaml
    parsed = {}

    def load_yaml(blob, *args, **kwargs):
        if not isinstance(blob, (str, bytes)):
            return parse(blob, *args, **kwargs)
        key = (blob, repr(args), repr(sorted(kwargs.items())))
        if key not in parsed:
            parsed[key] = parse(blob, *args, **kwargs)
        return copy.deepcopy(parsed[key])

    util.load_yaml = load_yaml


# The set-passwords module (config stage) asks `service ssh status` (a shell, the init script
# and its LSB functions: ~10 ms of the instance's CPU) before it looks at ssh_pwauth, and with
# none given it then only logs that it leaves sshd's setting as it is: that is all it does now.
def skip_ssh_status_without_pwauth():
    from cloudinit.config import cc_set_passwords

    handle_ssh_pwauth = cc_set_passwords.handle_ssh_pwauth

    def ssh_pwauth(pw_auth, *args, **kwargs):
        if pw_auth is not None:
            return handle_ssh_pwauth(pw_auth, *args, **kwargs)
        cc_set_passwords.LOG.debug(
            "Leaving SSH config 'PasswordAuthentication' unchanged. ssh_pwauth=None")

    cc_set_passwords.handle_ssh_pwauth = ssh_pwauth


# Before cloud-init resolves a metadata URL it asks the resolver for three names that must not
# exist (util.is_resolvable: a guard against DNS servers that answer every name), even when
# the URL's host is an address, which needs no resolver: the datasources' URLs here are
# (169.254.169.254). With the subnet's DNS server not answering, those lookups waited out the
# resolver's timeouts, ~15 s of the network stage, and a stop or a reboot meanwhile waited for
# it. An address is resolvable as it was (getaddrinfo gives it back without a lookup); a name
# goes through cloud-init's own check, guard included.
def resolve_addresses_without_dns():
    import ipaddress
    import socket

    from cloudinit import util

    is_resolvable = util.is_resolvable

    def resolvable(name):
        try:
            ipaddress.ip_address((name or "").split("%")[0])  # fe80::a9fe:a9fe%eth0
        except ValueError:
            return is_resolvable(name)
        try:
            socket.getaddrinfo(name, None, flags=socket.AI_NUMERICHOST)
        except OSError:
            return False
        return True

    util.is_resolvable = resolvable


# While the host's other instances still boot, the host holds back the cloud-init of one that
# is up (its boot directory holds the file HOLD): its work, at the init's lowered niceness only
# (nothing of the user's runs under it), waits until the file goes, at most HOLD_SECONDS.
def wait_while_held():
    if os.nice(0) <= 0 or not os.path.exists(HOLD):
        return
    open(HELD, "w").close()  # the host counts it among those it let go until its result
    started = time.monotonic()
    while os.path.exists(HOLD) and time.monotonic() - started < HOLD_SECONDS:
        time.sleep(0.02)
    print("interstack-init: cloud-init waited %.1f s for the host's other boots" % (
        time.monotonic() - started), flush=True)


def run(stages):
    os.environ.setdefault("TZ", ":/etc/localtime")  # what cloud-init's own script sets
    wait_while_held()
    try:
        try:
            resolve_addresses_without_dns()
        except Exception:  # another cloud-init's layout: it runs as it is
            traceback.print_exc()
        try:
            lighten()
            if "config" in stages:
                skip_ssh_status_without_pwauth()
        except Exception:  # another cloud-init's layout: it runs as it is
            traceback.print_exc()
        from cloudinit.cmd.main import main as cloud_init
    except Exception:
        cloud_init = None
    niceness = os.nice(0)  # the init's choice (see it): said, so that the console shows it
    print("interstack-init: cloud-init " + " ".join(stages) + (
        " in one interpreter" if cloud_init else " as commands") + (
        " at nice %d" % niceness if niceness else ""), flush=True)
    failed = False
    for stage in stages:
        argv = ["cloud-init", *ARGUMENTS[stage]]
        if cloud_init is None:
            failed |= subprocess.run(argv, check=False).returncode != 0
            continue
        try:
            failed |= bool(cloud_init(argv))
        except SystemExit as stopped:
            failed |= bool(stopped.code)
        except Exception:
            traceback.print_exc()
            failed = True
        sys.stdout.flush()
        sys.stderr.flush()
    return 1 if failed else 0


sys.exit(run(sys.argv[1:]))
""".replace("@HOLD@", f"/run/interstack/{HOLD}")
    .replace("@HOLD_SECONDS@", repr(HOLD_SECONDS))
    .replace("@HELD@", HELD)
)
