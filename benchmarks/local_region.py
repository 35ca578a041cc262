"""The local region the boot benchmarks (:mod:`local_boot`, :mod:`local_disks`) boot in: a
served gateway with one ``local`` region on a temporary data dir, the demo project's routed
network with SSH allowed and ports with floating IPs made ahead, and how a server is seen to be
up (its statuses, the sshd greeting, the keypair's login).
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from tokens import Gateway

from interstack.backends.local.cleanup import stop_instances
from interstack.client import networks as cloud
from interstack.client.clouds import connect
from interstack.client.served import BIN_DIR

console = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 120)

REGION = "RegionOne"
CIDR = "10.90.0.0/22"  # room for the ports of a large --together
#: how often the statuses of the servers booted at once are listed (one request for all)
LIST_SECONDS = 0.1
CONNECT_SECONDS = 0.1  # one try at the sshd greeting, before the next
BOUND_SECONDS = 600.0  # any one wait; a bound, not a target


class LocalGateway(Gateway):
    """A served gateway with one local region; it may wait for another process (a test run)
    to let go of the host's networking, and takes its own off the host when done."""

    def __init__(
        self,
        root: Path,
        image_cache: Path,
        lock_wait: float,
        log_level: str = "warning",
        boot_workers: int | None = None,
        task_workers: int | None = None,
    ) -> None:
        config = root / "interstack.yaml"
        region: dict[str, Any] = {
            "name": REGION,
            "backend": "local",
            "settings": {
                "image_cache_dir": str(image_cache),
                "network_lock_wait_seconds": lock_wait,
            },
        }
        if boot_workers is not None:
            region["settings"]["boot_workers"] = boot_workers
        settings: dict[str, Any] = {"regions": [region]}
        if task_workers is not None:
            settings["task_workers"] = task_workers
        config.write_text(json.dumps(settings))  # JSON is YAML
        super().__init__(root, ["--config", str(config)])
        self.config = config
        self.start_bound = lock_wait + 120
        self.log_level = log_level

    def __exit__(self, *exc: object) -> None:
        super().__exit__(*exc)
        command = [str(BIN_DIR / "interstack"), "cleanup", "--config", str(self.config)]
        done = subprocess.run(
            [*command, "--data-dir", str(self.data_dir)],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:  # another gateway took the host's networking at once
            console.print(f"[yellow]interstack cleanup: {done.stderr.strip()[-300:]}[/]")
            try:
                stop_instances(self.data_dir / "backends" / REGION)  # needs no networking lock
            except Exception as error:  # the figures are measured: say it, keep them
                console.print(f"[red]instances left running: {error}[/]")


def key_accepted(key: Path, address: str) -> bool:
    """Whether sshd lets the default user in with the keypair's private key ``key``."""
    done = subprocess.run(
        [
            "ssh",
            "-i",
            str(key),
            "-o",
            "BatchMode=yes",
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "UserKnownHostsFile=/dev/null",
            "-o",
            "ConnectTimeout=2",
            "-o",
            "LogLevel=ERROR",
            f"debian@{address}",
            "true",
        ],
        capture_output=True,
        timeout=30,
        check=False,
    )
    return done.returncode == 0


def sshd_greets(address: str) -> bool:
    """Whether sshd on ``address`` sends its greeting. A connection that is not answered at
    once is given up after CONNECT_SECONDS and tried anew by the caller: a SYN sent before
    the server's address exists is lost, and waiting out its retransmission (a second) would
    measure the probe, not sshd."""
    try:
        with socket.create_connection((address, 22), timeout=CONNECT_SECONDS) as conn:
            conn.settimeout(2)
            return conn.recv(4) == b"SSH-"
    except OSError:
        return False


class Region:
    """The demo project's side of the region: a routed network, SSH allowed, ports with
    floating IPs made ahead, and a Nova client for the timed calls."""

    def __init__(self, gateway: Gateway, ports: int, key: Path | None = None) -> None:
        conn = connect(gateway.clouds_yaml, "interstack")
        #: with ``key``: servers boot with its keypair, and SSH counts once the key gets in
        self.key = key
        self.key_name: str | None = None
        if key is not None:
            public_key = key.with_suffix(".pub").read_text()
            self.key_name = conn.compute.create_keypair(name="bench", public_key=public_key).name
        admin = connect(gateway.clouds_yaml, "interstack-admin")
        project = conn.current_project_id
        admin.set_compute_quotas(project, instances=-1, cores=-1, ram=-1)
        admin.network.update_quota(project, ports=-1, floating_ips=-1)
        public = cloud.external_network(conn)
        if public is None:
            raise RuntimeError("the local region has no external network")
        network = cloud.routed_network(conn, "bench", CIDR, public).network
        group = cloud.ssh_group(conn, "bench-ssh")
        self.ports: list[tuple[str, str]] = []  # (port id, floating address)
        for index in range(ports):
            port = conn.network.create_port(
                network_id=network.id, name=f"bench-{index}", security_group_ids=[group.id]
            )
            floating = cloud.floating_ip(conn, public, port.id)
            self.ports.append((port.id, floating.floating_ip_address))
        self.image = conn.image.find_image("debian-12", ignore_missing=False).id
        self.flavor = conn.compute.find_flavor("m1.tiny", ignore_missing=False).id
        self.nova = httpx.Client(
            base_url=f"{gateway.url}/{REGION}/compute/v2.1",
            headers={"X-Auth-Token": gateway.token("interstack")},
            timeout=60,
        )

    def create(self, name: str, port: str) -> str:
        body: dict[str, Any] = {"name": name, "imageRef": self.image, "flavorRef": self.flavor}
        body["networks"] = [{"port": port}]
        if self.key_name is not None:
            body["key_name"] = self.key_name
        response = self.nova.post("/servers", json={"server": body})
        response.raise_for_status()
        return str(response.json()["server"]["id"])

    def status(self, server: str) -> str:
        response = self.nova.get(f"/servers/{server}")
        response.raise_for_status()
        return str(response.json()["server"]["status"])

    def delete(self, server: str) -> None:
        self.nova.delete(f"/servers/{server}").raise_for_status()
        deadline = time.monotonic() + BOUND_SECONDS
        while self.nova.get(f"/servers/{server}").status_code != 404:
            if time.monotonic() > deadline:
                raise RuntimeError(f"server {server} was not deleted")
            time.sleep(0.1)


class Statuses:
    """The statuses of many servers from one listing every LIST_SECONDS, on a thread of its
    own, for the boots that run at once: each boot's ACTIVE is when a listing first shows it
    (up to LIST_SECONDS late)."""

    def __init__(self, region: Region, prefix: str) -> None:
        self.region = region
        self.prefix = prefix
        self.seen: dict[str, str] = {}
        self.error: Exception | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def __enter__(self) -> Statuses:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join(BOUND_SECONDS)

    def _poll(self) -> None:
        while not self._stop.is_set():
            try:
                response = self.region.nova.get("/servers/detail", params={"name": self.prefix})
                response.raise_for_status()
                self.seen = {s["id"]: s["status"] for s in response.json()["servers"]}
            except Exception as error:  # the boots waiting on it say so
                self.error = error
                return
            self._stop.wait(LIST_SECONDS)

    def status(self, server: str) -> str:
        if self.error is not None:
            raise RuntimeError(f"listing the servers failed: {self.error}")
        return self.seen.get(server, "BUILD")
