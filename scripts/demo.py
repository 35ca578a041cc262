"""``make demo``: serve a gateway, log in through its clouds.yaml, show the catalog, stop.

Uses only what a user has: the ``interstack serve`` command and openstacksdk with the
``clouds.yaml`` the gateway writes. Exits 0 on success, 1 with a one-line error otherwise.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

BIN_DIR = Path(sys.executable).parent
console = Console(soft_wrap=True)


class DemoError(Exception):
    pass


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_until_serving(process: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            last = log.read_text(errors="replace").strip().splitlines()[-1:] or ["no output"]
            raise DemoError(f"interstack serve exited with {process.returncode}: {last[0]}")
        try:
            with urllib.request.urlopen(f"{url}/v3", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.1)
    raise DemoError(f"interstack serve did not answer on {url} within 60 s")


def show(clouds_yaml: Path, cloud: str) -> None:
    import openstack.config
    import openstack.connection

    config = openstack.config.OpenStackConfig(config_files=[str(clouds_yaml)])
    conn = openstack.connection.Connection(config=config.get_one(cloud=cloud))
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
    conn.close()


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="interstack-demo-") as temporary:
        data_dir = Path(temporary) / "data"
        log = Path(temporary) / "serve.log"
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        command = [
            str(BIN_DIR / "interstack"),
            "serve",
            "--data-dir",
            str(data_dir),
            "--port",
            str(port),
        ]
        console.print(f"$ interstack serve --data-dir {data_dir} --port {port}")
        with log.open("wb") as output:
            process = subprocess.Popen(
                command, stdout=output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
        try:
            wait_until_serving(process, url, log)
            clouds_yaml = data_dir / "clouds.yaml"
            console.print(f"serving on {url}; clouds.yaml: {clouds_yaml}")
            show(clouds_yaml, "interstack")
            console.print(
                "your own: run 'interstack serve', then OS_CLIENT_CONFIG_FILE="
                "~/.local/share/interstack/clouds.yaml openstack --os-cloud interstack token issue"
            )
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        if process.returncode != 0:
            raise DemoError(f"interstack serve stopped with exit code {process.returncode}")
        console.print("gateway stopped cleanly")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except DemoError as exc:
        print(f"demo: error: {exc}", file=sys.stderr)
        sys.exit(1)
    except Exception as exc:  # the demo promises a one-line error, never a trace
        print(f"demo: error: {type(exc).__name__}: {exc}", file=sys.stderr)
        sys.exit(1)
