"""``make demo``: serve a gateway, log in through its clouds.yaml, show the catalog, then do the
main job on the default cloud (scripts/demo_cloud.py) and take everything down again.

Uses only what a user has: the ``interstack`` command, openstacksdk with the ``clouds.yaml`` the
gateway writes, and ``ssh``. The gateway's state lives in a temporary directory; the built
``debian-12`` image is kept in the user's cache directory so that the next run boots at once.
Exits 0 on success, 1 with a one-line error otherwise (also on Ctrl-C, after cleaning up).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from demo_cloud import Cleanup, CloudDemo, DemoError, run_on_local, run_on_sim, step
from rich.console import Console
from rich.table import Table

from interstack.backends.local.host import unavailable_reason
from interstack.client import served
from interstack.client.clouds import connect
from interstack.client.served import BIN_DIR, last_line

REGION = "RegionOne"
START_TIMEOUT_SECONDS = 180  # a local region may wait for another gateway to let go of the host
STOP_TIMEOUT_SECONDS = 60
console = Console(soft_wrap=True)


def image_cache() -> Path:
    """Built images outlive the demo's temporary data dir: the user's cache directory."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "interstack" / "images"


class Gateway:
    """``interstack serve`` in its own session, so that a Ctrl-C meant for the demo leaves it
    running until the demo has deleted what it created."""

    def __init__(
        self,
        work_dir: Path,
        config: Path | None,
        start_timeout: float = START_TIMEOUT_SECONDS,
        *,
        log: Path | None = None,
    ) -> None:
        self.data_dir = work_dir / "data"
        self.start_timeout = start_timeout  # includes any wait for the host's networking lock
        self.log = log or work_dir / "serve.log"  # elsewhere to outlive work_dir
        self.config = ["--config", str(config)] if config is not None else []
        self.port_file = work_dir / "serve.port"
        self.url = ""  # once it serves, on the port it chose
        self.process: subprocess.Popen[bytes] | None = None
        self.served = False  # answered once: it has state on the host to take down

    @property
    def clouds_yaml(self) -> Path:
        return self.data_dir / "clouds.yaml"

    def start(self) -> None:
        command = served.serve_command(self.data_dir, self.port_file, self.config)
        self.port_file.unlink(missing_ok=True)
        console.print(f"$ interstack {' '.join(command[1:])}", highlight=False)
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("wb") as output:
            self.process = subprocess.Popen(
                command,
                stdout=output,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        with step(console, "starting the gateway") as current:
            try:
                port = served.wait_until_serving(
                    self.process,
                    self.port_file,
                    self.start_timeout,
                    self.log,
                    lambda: current.detail(last_line(self.log)),
                )
            except served.NotServing as exc:
                raise DemoError(str(exc)) from None
        self.url = served.loopback_url(port)
        self.served = True
        console.print(f"serving on {self.url}; clouds.yaml: {self.clouds_yaml}")

    def stop(self) -> None:
        """SIGTERM and wait; an error if a gateway that served did not stop cleanly (one still
        starting dies of the signal)."""
        process = self.process
        if process is None or process.poll() is not None:
            return
        with step(console, "stopping the gateway"):
            served.stop(process, STOP_TIMEOUT_SECONDS)
        if process.returncode != 0 and self.served:
            raise DemoError(f"interstack serve stopped with exit code {process.returncode}")

    def clean_host(self) -> None:
        """Take the local region's bridges, namespaces and firewall tables off the host (a
        stopped gateway leaves them for its next start; this one will not start again).

        Another interstack process that has taken the host meanwhile (it waited for this
        gateway's lock) manages the host's networking from its own state: it keeps it."""
        done = subprocess.run(
            [
                str(BIN_DIR / "interstack"),
                "cleanup",
                *self.config,
                "--data-dir",
                str(self.data_dir),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        reason = done.stderr.strip() or done.stdout.strip()
        if done.returncode != 0 and "another interstack process" in reason:
            console.print("the host's networking has passed to another interstack process")
        elif done.returncode != 0:
            raise DemoError(f"interstack cleanup: {reason}")
        else:
            console.print("the local backend's networking is off the host")


def show_catalog(conn: Any, cloud: str) -> None:
    auth: Any = conn.session.auth
    access: Any = auth.get_access(conn.session)
    table = Table(title=f"Service catalog of cloud '{cloud}'")
    for column in ("Service type", "Name", "Region", "Interface"):
        table.add_column(column)
    table.add_column("URL", overflow="fold")  # a URL is only useful whole
    for service in access.service_catalog.catalog:
        for endpoint in service.get("endpoints", []):
            table.add_row(
                service.get("type", ""),
                service.get("name", ""),
                endpoint.get("region_id") or endpoint.get("region", ""),
                endpoint.get("interface", ""),
                endpoint.get("url", ""),
            )
    console.print(table)
    console.print(
        f"token: user [bold]{access.username}[/] ({access.user_id}), "
        f"project [bold]{access.project_name}[/] ({access.project_id}), "
        f"roles {', '.join(access.role_names)}, expires {access.expires.isoformat()}"
    )


def region_config(
    work_dir: Path,
    backend: str,
    sim_settings: dict[str, object] | None = None,
    *,
    lock_wait: float | None = None,
) -> Path:
    """The default region as the gateway would choose it, spelled out so that a local region
    keeps its built images in the user's cache (and a sim region stays sim for ``cleanup``);
    ``sim_settings`` go to a sim region; ``lock_wait`` is how long a local region queues for
    another process's hold on the host's networking (the backend's default if None)."""
    region: dict[str, object] = {"name": REGION, "backend": backend}
    if backend == "local":
        settings: dict[str, object] = {"image_cache_dir": str(image_cache())}
        if lock_wait is not None:
            settings["network_lock_wait_seconds"] = lock_wait
        region["settings"] = settings
    elif sim_settings:
        region["settings"] = sim_settings
    config = work_dir / "interstack.yaml"
    config.write_text(json.dumps({"regions": [region]}, indent=2) + "\n")  # JSON is YAML
    return config


@contextmanager
def uninterruptible() -> Iterator[None]:
    """A second Ctrl-C must not cut the deletion short: that would leave resources behind."""
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def run(work_dir: Path) -> None:
    reason = unavailable_reason()  # what the gateway asks to choose the default region
    if reason is None:
        console.print(
            f"default cloud: region {REGION} on the local backend; "
            f"built images cached in {image_cache()}"
        )
    else:
        console.print(f"default cloud: region {REGION} simulated (backend sim): {reason}")
    config = region_config(work_dir, "local" if reason is None else "sim")
    gateway = Gateway(work_dir, config)
    cleanup = Cleanup(console)
    problems: list[str] = []
    try:
        gateway.start()
        conn = connect(gateway.clouds_yaml, "interstack")
        show_catalog(conn, "interstack")
        demo = CloudDemo(conn, console, cleanup, work_dir)
        (run_on_local if reason is None else run_on_sim)(demo)
    finally:
        with uninterruptible():
            problems = teardown(gateway, cleanup, local=reason is None)
    if problems:
        raise DemoError(f"{len(problems)} thing(s) left behind (listed above)")


def teardown(gateway: Gateway, cleanup: Cleanup, *, local: bool) -> list[str]:
    """Delete the demo's resources, stop the gateway, clean the host; what is left behind,
    each printed (an error that stopped the demo stays the one reported)."""
    problems = cleanup.run()
    started = gateway.process is not None
    try:
        gateway.stop()
        if local and started:
            gateway.clean_host()
    except DemoError as exc:
        problems.append(str(exc))
    for problem in problems:
        console.print(f"[red]left behind:[/] {problem}", highlight=False)
    if started and not problems:
        console.print("nothing left behind")
    return problems


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="interstack-demo-", ignore_cleanup_errors=True) as tmp:
        run(Path(tmp))
    console.print("[bold green]demo done[/]")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except DemoError as exc:
        print(f"demo: error: {exc}", file=sys.stderr)
    except KeyboardInterrupt:
        print("demo: error: interrupted", file=sys.stderr)
    except Exception as exc:  # the demo promises a one-line error, never a trace
        print(f"demo: error: {type(exc).__name__}: {exc}", file=sys.stderr)
    sys.exit(1)
