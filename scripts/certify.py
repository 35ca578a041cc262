"""``make certify``: serve the embedded cloud and certify it against 2020.06 OpenStack Powered
Compute, as anyone would certify a cloud: ``interstack certify`` with the gateway's clouds.yaml.

The default region is ``local`` where the host can run it (real instances: SSH validation on,
``debian-12`` from the user's image cache, built on the first run, and a copy of it through
Glance as the second image), else ``sim``, which the script configures with the external
network an operator's cloud has and gives a public image to boot (SSH validation off: sim has
no guests to log in to). Tempest makes its own accounts with the admin cloud and runs 2
workers. Extra arguments go to ``interstack certify`` after these (``make certify
CERTIFY_ARGS='--capability identity-*'``). Results land in ./certify-results (or the ``--out``
given), the gateway's log ``serve.log`` next to the cloud's report, as the run says; the exit code
is certify's (0 all required capabilities passed, 1 some failed, 2 setup error).

One local gateway manages a host's networking at a time: a local run queues for another's hold
on it (a sibling checkout's tests or gateway) for up to ``INTERSTACK_CERTIFY_LOCK_WAIT`` seconds
(default 1800) instead of failing.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import typer.main
from demo import START_TIMEOUT_SECONDS, Gateway, region_config
from demo_cloud import DemoError, step
from rich.console import Console

from interstack.backends.local.host import unavailable_reason
from interstack.certify.cli import certify_app
from interstack.client.clouds import connect
from interstack.client.served import BIN_DIR

console = Console(soft_wrap=True)
IMAGE_BYTES = 1024 * 1024  # a sim server boots from anything: Tempest only uploads a few bytes
EXTERNAL_CIDR = "198.51.100.0/24"  # TEST-NET-2: never routed
LOCK_WAIT_ENV = "INTERSTACK_CERTIFY_LOCK_WAIT"
DEFAULT_LOCK_WAIT_SECONDS = 1800.0  # a sibling's long run (another certify) may hold the host
CLOUD, ADMIN_CLOUD, RESULTS = "interstack", "interstack-admin", "certify-results"


#: the sim region brings an external network, as the local backend brings ``public``
SIM_SETTINGS: dict[str, object] = {"external_network": {"name": "public", "cidr": EXTERNAL_CIDR}}


def prepare_sim(admin: Any) -> None:
    """Public images, as the operator of a fresh cloud provides (the external network comes
    with the region)."""
    for name in ("certify-image", "certify-image-alt"):
        admin.image.create_image(
            name=name,
            disk_format="raw",
            container_format="bare",
            visibility="public",
            data=os.urandom(IMAGE_BYTES),
        )
    console.print(f"sim: public images uploaded; external network public ({EXTERNAL_CIDR})")


def prepare_local(admin: Any, work: Path) -> None:
    """A second bootable image, a copy of ``debian-12`` through Glance: Tempest's rebuild and
    filter-by-image tests need two distinct images (its own image list test skips otherwise)."""
    tarball = work / "debian-12.tar"
    with step(console, "copying debian-12 to debian-12-alt through Glance (built on first use)"):
        source = admin.image.find_image("debian-12", ignore_missing=False)
        admin.image.download_image(source, output=str(tarball))
        admin.image.create_image(
            name="debian-12-alt",
            filename=str(tarball),
            disk_format=source.disk_format,
            container_format=source.container_format,
            visibility="public",
            os_distro="debian",
            wait=True,
        )
    tarball.unlink()


def results_dir(args: list[str]) -> Path:
    """The results directory ``interstack certify`` writes for these arguments after the
    script's own ``--out``: the last ``--out``/``-o`` given, read by certify's own parser."""
    command = typer.main.get_command(certify_app)
    with command.make_context("certify", ["--out", RESULTS, *args], resilient_parsing=True) as ctx:
        return Path(ctx.params["out"])


def main(extra: list[str]) -> int:
    reason = unavailable_reason()  # what the gateway asks to choose the default region
    local = reason is None
    # the gateway's log outlives the temporary directory: a failed test's 500 is explained there
    log = results_dir(extra) / CLOUD / "serve.log"
    with tempfile.TemporaryDirectory(
        prefix="interstack-certify-", ignore_cleanup_errors=True
    ) as temporary:
        work = Path(temporary)
        if local:
            lock_wait = float(os.environ.get(LOCK_WAIT_ENV) or DEFAULT_LOCK_WAIT_SECONDS)
            config = region_config(work, "local", lock_wait=lock_wait)
            timeout = lock_wait + START_TIMEOUT_SECONDS
            gateway = Gateway(work, config, start_timeout=timeout, log=log)
        else:
            gateway = Gateway(work, region_config(work, "sim", SIM_SETTINGS), log=log)
        console.print(f"gateway log: {log}")
        try:
            gateway.start()
            certify = [str(BIN_DIR / "interstack"), "certify", "--cloud", CLOUD]
            certify += ["--admin-cloud", ADMIN_CLOUD, "--concurrency", "2"]
            certify += ["--guideline", "2020.06", "--target", "compute", "--out", RESULTS]
            admin = connect(gateway.clouds_yaml, ADMIN_CLOUD)
            if local:
                prepare_local(admin, work)
            else:
                console.print(f"default cloud simulated (backend sim): {reason}")
                prepare_sim(admin)
                certify += ["--no-ssh-validation"]
            certify += extra
            env = dict(os.environ, OS_CLIENT_CONFIG_FILE=str(gateway.clouds_yaml))
            console.print(f"$ {' '.join(certify[1:])}   (gateway on {gateway.url})")
            return subprocess.run(certify, env=env, check=False).returncode
        finally:
            try:
                gateway.stop()
            finally:
                console.print(f"gateway log kept: {log}")
            if local and gateway.served:
                gateway.clean_host()


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except DemoError as exc:
        print(f"certify: error: {exc}", file=sys.stderr)
        sys.exit(2)
