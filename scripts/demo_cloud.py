"""The main job of ``make demo`` on the default cloud, done as a user does it with openstacksdk.

On a ``local`` cloud: a network behind a router on the external network, a security group that
lets SSH in, a keypair, a ``debian-12`` server with a floating IP, then ``ssh`` into it. On a
``sim`` cloud the same through the API only (no external network, no SSH; the server boots
from a small uploaded image). Everything created is recorded in a ``Cleanup`` and deleted in
reverse order, whatever happens.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from interstack.client import networks as cloud

SERVER_NAME = "interstack-demo"
CIDR = "10.50.0.0/24"
BOOT_TIMEOUT_SECONDS = 1800  # the first boot builds debian-12 (minutes, more on a busy host)
SSH_TIMEOUT_SECONDS = 180
DELETE_TIMEOUT_SECONDS = 120
SSH_COMMAND = "hostname; uname -a; timeout 120 cloud-init status --wait --long"


class DemoError(Exception):
    """What went wrong, in one line for the person running the demo."""


class Step:
    """One long step on screen: a spinner, the time so far and its latest detail."""

    def __init__(self, progress: Progress, title: str) -> None:
        self._progress = progress
        self._task = progress.add_task("", title=title, total=None)

    def detail(self, text: str) -> None:
        self._progress.update(self._task, description=text[:100])


@contextmanager
def step(console: Console, title: str) -> Iterator[Step]:
    progress = Progress(
        SpinnerColumn(finished_text="[green]done[/]"),
        TextColumn("[bold]{task.fields[title]}[/]"),
        TimeElapsedColumn(),
        TextColumn("{task.description}"),
        console=console,
    )
    with progress:
        current = Step(progress, title)
        yield current
        current.detail("")
        progress.update(progress.task_ids[0], total=1, completed=1)


def wait_for(check: Callable[[], bool], what: str, timeout: float, interval: float = 1.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise DemoError(f"{what} did not happen within {timeout:.0f} s")
        time.sleep(interval)


class Cleanup:
    """What the demo created, each with how to delete it; deleted last-created first."""

    def __init__(self, console: Console) -> None:
        self._console = console
        self._undo: list[tuple[str, Callable[[], object]]] = []

    def add(self, what: str, delete: Callable[[], object]) -> None:
        self._undo.append((what, delete))

    def run(self) -> list[str]:
        """Delete everything; what could not be deleted, one line each."""
        failures = []
        if self._undo:
            with step(self._console, "deleting what the demo created") as current:
                while self._undo:
                    what, delete = self._undo.pop()
                    current.detail(what)
                    try:
                        delete()
                    except Exception as exc:
                        failures.append(f"{what}: {type(exc).__name__}: {exc}")
        return failures


class CloudDemo:
    """The resources of the demo on one cloud (``conn``), created in order, cleaned up after."""

    def __init__(self, conn: Any, console: Console, cleanup: Cleanup, work_dir: Path) -> None:
        self.conn = conn
        self.console = console
        self.cleanup = cleanup
        self.work_dir = work_dir

    def say(self, text: str) -> None:
        self.console.print(f"  [green]+[/] {text}", highlight=False)

    def network(self, external: Any | None) -> Any:
        """A network and subnet behind a router (with a gateway on ``external`` if given)."""
        routed = cloud.routed_network(self.conn, "demo", CIDR, external, self.cleanup.add)
        network, subnet, router = routed.network, routed.subnet, routed.router
        self.say(f"network {network.name} with subnet {subnet.name} {subnet.cidr}")
        outside = _gateway_address(router)
        self.say(f"router {router.name}" + (f", gateway {outside}" if outside else ""))
        return network

    def security_group(self) -> Any:
        group = cloud.ssh_group(
            self.conn, "demo-ssh", self.cleanup.add, description="SSH from anywhere"
        )
        self.say(f"security group {group.name} allowing tcp/22")
        return group

    def keypair(self) -> tuple[Any, Path]:
        compute = self.conn.compute
        keypair = compute.create_keypair(name="demo-key")
        self.cleanup.add(f"keypair {keypair.name}", lambda: compute.delete_keypair(keypair))
        key_file = self.work_dir / "demo-key"
        key_file.write_text(keypair.private_key)
        key_file.chmod(0o600)
        self.say(f"keypair {keypair.name} (private key in {key_file})")
        return keypair, key_file

    def server(self, image: Any, network: Any, group: Any, keypair: Any) -> Any:
        """Boot and wait for ACTIVE, showing the console's latest line (the image build's
        progress on a first boot) while it builds."""
        compute = self.conn.compute
        flavor = compute.find_flavor("m1.tiny", ignore_missing=False)
        server = compute.create_server(
            name=SERVER_NAME,
            image_id=image.id,
            flavor_id=flavor.id,
            networks=[{"uuid": network.id}],
            security_groups=[{"name": group.name}],
            key_name=keypair.name,
        )
        self.cleanup.add(f"server {SERVER_NAME}", lambda: self._delete_server(server))
        with step(self.console, f"booting {SERVER_NAME} from {image.name}") as current:
            deadline = time.monotonic() + BOOT_TIMEOUT_SECONDS
            while True:
                server = compute.get_server(server.id)
                if server.status == "ACTIVE":
                    break
                if server.status == "ERROR":
                    fault = (server.fault or {}).get("message", "no fault recorded")
                    raise DemoError(f"server {SERVER_NAME} failed to boot: {fault}")
                if time.monotonic() > deadline:
                    raise DemoError(f"server {SERVER_NAME} still {server.status}: timed out")
                current.detail(f"{server.status}: {self._console_line(server)}")
                time.sleep(2)
        self.say(f"server {SERVER_NAME} ACTIVE on {flavor.name}, image {image.name}")
        return server

    def _console_line(self, server: Any) -> str:
        try:
            output = self.conn.compute.get_server_console_output(server, length=5)
        except Exception:  # the console may not exist yet; the status says enough then
            return ""
        lines = [line for line in output.get("output", "").splitlines() if line.strip()]
        return lines[-1].strip() if lines else ""

    def _delete_server(self, server: Any) -> None:
        compute = self.conn.compute
        compute.delete_server(server)
        compute.wait_for_delete(server, wait=DELETE_TIMEOUT_SECONDS)

    def floating_ip(self, external: Any, server: Any) -> str:
        port = cloud.server_port(self.conn, server)
        fip = cloud.floating_ip(self.conn, external, port.id, self.cleanup.add)
        self.say(f"floating IP {fip.floating_ip_address} -> {port.fixed_ips[0]['ip_address']}")
        return str(fip.floating_ip_address)

    def ssh(self, key_file: Path, address: str) -> str:
        """What ``SSH_COMMAND`` prints inside the server, once sshd lets the key in."""
        last = subprocess.CompletedProcess[str]([], 255, "", "no answer yet")

        def logged_in() -> bool:
            nonlocal last
            last = _ssh(key_file, address, "true")
            return last.returncode == 0

        with step(self.console, f"ssh debian@{address}") as current:
            current.detail("waiting for sshd to let the key in")
            try:
                wait_for(logged_in, f"SSH to {address}", SSH_TIMEOUT_SECONDS, interval=2)
            except DemoError as exc:
                raise DemoError(f"{exc}: {last.stderr.strip() or last.returncode}") from None
            current.detail("waiting for cloud-init to finish")
            answer = _ssh(key_file, address, SSH_COMMAND)
        if answer.returncode not in (0, 2):  # 2: cloud-init finished with recoverable errors
            said = (answer.stderr.strip() or answer.stdout.strip()).splitlines()[-1:] or [""]
            raise DemoError(
                f"ssh {address} {SSH_COMMAND!r}: exit status {answer.returncode} {said[0]}"
            )
        return answer.stdout


def _gateway_address(router: Any) -> str:
    info = router.external_gateway_info or {}
    return ", ".join(ip["ip_address"] for ip in info.get("external_fixed_ips", []))


def _ssh(key_file: Path, address: str, command: str) -> subprocess.CompletedProcess[str]:
    options = {
        "StrictHostKeyChecking": "no",
        "UserKnownHostsFile": "/dev/null",
        "BatchMode": "yes",
        "ConnectTimeout": "5",
        "LogLevel": "ERROR",
    }
    argv = ["ssh", "-i", str(key_file)]
    for name, value in options.items():
        argv += ["-o", f"{name}={value}"]
    try:
        return subprocess.run(
            [*argv, f"debian@{address}", command],
            capture_output=True,
            text=True,
            timeout=150,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return subprocess.CompletedProcess(argv, 255, "", "timed out")


def run_on_local(demo: CloudDemo) -> None:
    """The whole job: boot debian-12 behind a router, reach it over a floating IP with ssh."""
    conn = demo.conn
    external = cloud.external_network(conn)
    if external is None:
        raise DemoError("the cloud has no external network for a router gateway")
    image = conn.image.find_image("debian-12", ignore_missing=False)
    network = demo.network(external)
    group = demo.security_group()
    keypair, key_file = demo.keypair()
    server = demo.server(image, network, group, keypair)
    address = demo.floating_ip(external, server)
    inside = [line for line in demo.ssh(key_file, address).splitlines() if line.strip()]
    demo.console.print(f"[bold]inside {SERVER_NAME}[/] ($ {SSH_COMMAND}):", highlight=False)
    for line in inside:
        demo.console.print(f"  {line}", highlight=False)
    if not inside or inside[0] != SERVER_NAME:
        raise DemoError(f"the server's hostname is {inside[:1]}, not {SERVER_NAME}")


def run_on_sim(demo: CloudDemo) -> None:
    """The same through the API only: a simulated cloud has no external network and no
    instances to log in to, so the server boots from a small uploaded image."""
    conn = demo.conn
    image = conn.image.create_image(
        name="demo-image", disk_format="raw", container_format="bare", data=b"\0" * 4096
    )
    demo.cleanup.add(f"image {image.name}", lambda: conn.image.delete_image(image))
    demo.say(f"image {image.name} uploaded")
    network = demo.network(None)
    group = demo.security_group()
    keypair, _ = demo.keypair()
    server = demo.server(image, network, group, keypair)
    for network_name, addresses in server.addresses.items():
        for address in addresses:
            demo.say(f"{SERVER_NAME} has {address['addr']} on {network_name}")
