"""A real ``interstack serve`` process on a loopback port, driven as users drive it."""

from __future__ import annotations

import contextlib
import os
import shlex
import subprocess
import uuid
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx
import yaml

from interstack.client import clouds, served
from interstack.client.served import BIN_DIR
from interstack.store import Database

SIM_REGION = {"name": "RegionOne", "backend": "sim"}
#: argon2 at a throwaway gateway's cost (8 MiB, one pass: ~6 ms a login instead of ~200 ms of CPU):
#: the tests log in thousands of times; tests/unit/test_passwords.py proves the default cost
CHEAP_PASSWORD_HASHING = {"password_hash_time_cost": 1, "password_hash_memory_kib": 8192}
#: a ``sitecustomize`` for the Python of the clients the tests start (the ``openstack`` CLI,
#: Ansible's modules): their waits look every 0.2 s (tests/support/sdk_looks.py says why)
CLIENT_PYTHON = Path(__file__).parent / "client_python"


class ServedGateway:
    """Starts ``interstack serve`` with its own data dir; restartable, stopped by :meth:`stop`."""

    def __init__(self, data_dir: Path, config: dict[str, Any] | None = None) -> None:
        self.data_dir = data_dir
        #: the loopback port it serves on: the kernel's choice at its first start, kept by its
        #: restarts (its clouds.yaml and catalog name it)
        self.port = 0
        self.url = ""
        # a config without regions gets a sim one: the default region would be the local
        # backend on a host that can run it, and API tests want the fast simulated cloud
        config = {"regions": [SIM_REGION], **CHEAP_PASSWORD_HASHING, **(config or {})}
        self.config_file = data_dir.parent / f"{data_dir.name}-config.yaml"
        self.config_file.write_text(yaml.safe_dump(config))
        self.log_file = data_dir.parent / f"{data_dir.name}-serve.log"
        self.port_file = data_dir.parent / f"{data_dir.name}-serve.port"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def clouds_yaml(self) -> Path:
        return self.data_dir / "clouds.yaml"

    @property
    def env(self) -> dict[str, str]:
        """Environment for CLI subprocesses: the gateway's clouds.yaml, nothing else of ours."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
        env["OS_CLIENT_CONFIG_FILE"] = str(self.clouds_yaml)
        env["PATH"] = f"{BIN_DIR}:{env.get('PATH', '')}"
        return env

    @property
    def client_env(self) -> dict[str, str]:
        """:attr:`env` for a client's process, its waits looking often (:data:`CLIENT_PYTHON`)."""
        env = self.env
        env["PYTHONPATH"] = os.pathsep.join(
            filter(None, [str(CLIENT_PYTHON), env.get("PYTHONPATH")])
        )
        return env

    def command(self) -> list[str]:
        options = ["--config", str(self.config_file)]
        return served.serve_command(self.data_dir, self.port_file, options, self.port)

    def start(self, timeout: float = 60.0) -> ServedGateway:
        """Start and wait until it answers; one that exits early is kept (its exit code is the
        test's to see), one that does not answer in time is stopped."""
        self.port_file.unlink(missing_ok=True)
        with self.log_file.open("ab") as log:
            self.process = subprocess.Popen(
                self.command(), stdout=log, stderr=subprocess.STDOUT, env=self.env
            )
        try:
            self.port = served.wait_until_serving(
                self.process, self.port_file, timeout, self.log_file
            )
            self.url = served.loopback_url(self.port)
        except served.NotServing as exc:
            if self.process.poll() is None:
                self.stop()
            raise RuntimeError(f"{exc}\n{self.log()}") from exc
        return self

    def stop(self) -> int | None:
        """SIGTERM and wait; returns the exit code."""
        if self.process is None:
            return None
        code = served.stop(self.process, timeout=30)
        self.process = None
        return code

    def __enter__(self) -> ServedGateway:
        """Started; stopped at the end of the ``with`` (a fixture's set-up that fails after
        the start too)."""
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def restart(self) -> ServedGateway:
        self.stop()
        return self.start()

    @contextlib.contextmanager
    def store(self) -> Iterator[Database]:
        """The gateway's own (default, SQLite) store, opened beside it: for a test that looks or
        changes something behind the gateway's back."""
        database = Database(f"sqlite:///{self.data_dir / 'interstack.db'}")
        try:
            yield database
        finally:
            database.dispose()

    def log(self) -> str:
        return self.log_file.read_text(errors="replace") if self.log_file.exists() else ""

    def auth(self, cloud: str) -> dict[str, Any]:
        """The ``auth`` section of a cloud in the gateway's clouds.yaml."""
        auth: dict[str, Any] = yaml.safe_load(self.clouds_yaml.read_text())["clouds"][cloud]["auth"]
        return auth

    def password(self, cloud: str) -> str:
        password: str = self.auth(cloud)["password"]
        return password

    def connect(self, cloud: str, region_name: str | None = None) -> Any:
        """An openstacksdk Connection for a cloud in the gateway's clouds.yaml (one region of
        it when ``region_name`` is given)."""
        return clouds.connect(self.clouds_yaml, cloud, region_name)

    def cli(
        self, cloud: str, *args: str, check: bool = True, extra: Sequence[str] = ()
    ) -> subprocess.CompletedProcess[str]:
        """Run the ``openstack`` CLI against this gateway."""
        cmd = [str(BIN_DIR / "openstack"), "--os-cloud", cloud, *extra, *args]
        result = subprocess.run(
            cmd, env=self.client_env, capture_output=True, text=True, timeout=120, check=False
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"{' '.join(cmd)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
            )
        return result

    def cli_batch(
        self, cloud: str, *commands: Sequence[str], region: str | None = None
    ) -> list[str]:
        """What each of ``commands`` prints, run in order by one ``openstack`` process (its
        interactive mode, fed on stdin; in ``region`` when given, else the cloud's): one
        start-up of the CLI, most of a command's second, for all of them. Each must succeed:
        the CLI logs a command's failure on stderr and says so on stdout of a command it does
        not know (its exit code tells neither in that mode). The CLI's global options are the
        environment's here: in that mode it takes its own arguments for commands."""
        marker = f"--- end of command {uuid.uuid4().hex} ---"
        script = "".join(f"{shlex.join(command)}\n!echo {marker}\n" for command in commands)
        env = {**self.client_env, "OS_CLOUD": cloud}
        if region is not None:
            env["OS_REGION_NAME"] = region
        cmd = [str(BIN_DIR / "openstack")]
        result = subprocess.run(
            cmd, input=script, env=env, capture_output=True, text=True, timeout=300, check=False
        )
        *outputs, rest = result.stdout.split(f"{marker}\n")
        unknown = "is not an openstack command" in result.stdout
        if result.stderr or unknown or len(outputs) != len(commands) or rest.strip():
            raise AssertionError(
                f"openstack (OS_CLOUD={cloud}) failed on:\n{script}\n{result.stdout}\n"
                f"{result.stderr}"
            )
        return outputs

    def token(self, cloud: str) -> str:
        """A project-scoped token for a cloud, issued over plain HTTP."""
        body = password_auth_body(self.auth(cloud))
        response = httpx.post(f"{self.url}/v3/auth/tokens", json=body, timeout=30)
        response.raise_for_status()
        return response.headers["X-Subject-Token"]


def password_auth_body(auth: Mapping[str, Any]) -> dict[str, Any]:
    """The Keystone v3 password request, scoped to the project, of a clouds.yaml ``auth``."""
    return {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {
                    "user": {
                        "name": auth["username"],
                        "domain": {"name": auth["user_domain_name"]},
                        "password": auth["password"],
                    }
                },
            },
            "scope": {
                "project": {
                    "name": auth["project_name"],
                    "domain": {"name": auth["project_domain_name"]},
                }
            },
        }
    }
