"""Helpers for Swift tests: a project's storage URL, token clients, the ``swift`` CLI with the
credentials of a cloud in the gateway's clouds.yaml, and the served process's memory."""

from __future__ import annotations

import subprocess
import threading
from pathlib import Path

import httpx
from swiftclient import client as swiftclient

from interstack.client.served import BIN_DIR
from tests.support.gateway import ServedGateway


def storage_url(gateway: ServedGateway, token: str, region: str = "RegionOne") -> str:
    """The object-store endpoint of the token's catalog (so the catalog itself is exercised)."""
    response = httpx.get(
        f"{gateway.url}/v3/auth/tokens",
        headers={"X-Auth-Token": token, "X-Subject-Token": token},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    for service in response.json()["token"]["catalog"]:
        if service["type"] == "object-store":
            for endpoint in service["endpoints"]:
                if endpoint["region"] == region:
                    url: str = endpoint["url"]
                    return url
    raise AssertionError("no object-store endpoint in the catalog")


def swift_client(gateway: ServedGateway, token: str) -> httpx.Client:
    """An httpx client whose base URL is the token's account."""
    return httpx.Client(
        base_url=storage_url(gateway, token), headers={"X-Auth-Token": token}, timeout=60
    )


def swiftclient_connection(
    gateway: ServedGateway, cloud: str, region: str = "RegionOne"
) -> swiftclient.Connection:
    """A python-swiftclient connection that logs in with ``cloud``'s Keystone v3 credentials
    from the gateway's clouds.yaml, to ``region``'s object store."""
    auth = gateway.auth(cloud)
    return swiftclient.Connection(
        authurl=auth["auth_url"],
        user=auth["username"],
        key=auth["password"],
        auth_version="3",
        os_options={
            "user_domain_name": auth["user_domain_name"],
            "project_name": auth["project_name"],
            "project_domain_name": auth["project_domain_name"],
            "region_name": region,
        },
    )


def swift_cli(
    gateway: ServedGateway,
    cloud: str,
    *args: str,
    cwd: Path | None = None,
    check: bool = True,
    token: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run the ``swift`` CLI with the Keystone v3 credentials of ``cloud`` in clouds.yaml (the
    CLI has no ``--os-cloud``; these are the same values it would read from one).

    With ``token`` (issued for that cloud) the CLI skips the password login and goes to the
    token's storage URL, as ``swift --os-auth-token --os-storage-url`` does.
    """
    auth = gateway.auth(cloud)
    if token is not None:
        credentials = ["--os-auth-token", token, "--os-storage-url", storage_url(gateway, token)]
    else:
        credentials = [
            "--auth-version",
            "3",
            "--os-auth-url",
            auth["auth_url"],
            "--os-username",
            auth["username"],
            f"--os-password={auth['password']}",
            "--os-user-domain-name",
            auth["user_domain_name"],
            "--os-project-name",
            auth["project_name"],
            "--os-project-domain-name",
            auth["project_domain_name"],
            "--os-region-name",
            "RegionOne",
        ]
    cmd = [str(BIN_DIR / "swift"), *credentials, *args]
    result = subprocess.run(
        cmd, env=gateway.env, capture_output=True, text=True, timeout=600, cwd=cwd, check=False
    )
    if check and result.returncode != 0:
        output = f"{result.stdout}\n{result.stderr}"
        raise AssertionError(f"swift {' '.join(args)} failed ({result.returncode}):\n{output}")
    return result


def rss_bytes(pid: int, field: str = "VmRSS") -> int:
    """The resident set size of a process, from /proc/<pid>/status."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no {field} for process {pid}")


def peak_rss_bytes(pid: int) -> int:
    """The process's peak RSS (VmHWM) since it started or since :func:`reset_peak_rss`."""
    return rss_bytes(pid, "VmHWM")


def reset_peak_rss(pid: int) -> None:
    """Reset VmHWM to the current RSS (Linux's ``clear_refs`` 5; our own child process)."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")


class RssSampler:
    """Samples a process's RSS in a thread until stopped; ``peak`` is the largest seen."""

    def __init__(self, pid: int, interval: float = 0.05) -> None:
        self.pid = pid
        self.interval = interval
        self.samples: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append(rss_bytes(self.pid))
            self._stop.wait(self.interval)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def peak(self) -> int:
        return max(self.samples)
