"""Running users' Ansible playbooks against a served gateway, and reading what they did."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from interstack.client.served import BIN_DIR
from tests.support.gateway import ServedGateway

_RECAP = re.compile(
    r"^\S+\s*:\s*ok=(?P<ok>\d+)\s+changed=(?P<changed>\d+)\s+unreachable=(?P<unreachable>\d+)"
    r"\s+failed=(?P<failed>\d+)\s+skipped=(?P<skipped>\d+)",
    re.MULTILINE,
)
_TASK = re.compile(r"^TASK \[(?P<name>.*)\] \**$")


@dataclass(frozen=True)
class PlaybookRun:
    name: str
    returncode: int
    output: str

    def recap(self) -> dict[str, int]:
        """The PLAY RECAP counts, summed over its hosts (localhost and the inventory's)."""
        _, _, recap = self.output.rpartition("PLAY RECAP")
        found = list(_RECAP.finditer(recap))
        assert found, f"no PLAY RECAP in the output of {self.name}:\n{self.output}"
        return {key: sum(int(match[key]) for match in found) for key in _RECAP.groupindex}

    def changed_tasks(self) -> list[str]:
        """The names of the tasks that reported ``changed``, in the order they ran."""
        changed, task = [], ""
        for line in self.output.splitlines():
            if match := _TASK.match(line):
                task = match["name"]
            elif line.startswith("changed: ["):
                changed.append(task)
        return changed

    def assert_succeeded(self) -> dict[str, int]:
        assert "couldn't resolve module/action 'openstack.cloud." not in self.output, (
            "the openstack.cloud collection is missing: run `make venv`"
        )
        recap = self.recap()
        assert self.returncode == 0 and recap["failed"] == recap["unreachable"] == 0, (
            f"{self.name} failed ({self.returncode}):\n{self.output}"
        )
        return recap

    def assert_changed_nothing(self) -> None:
        recap = self.assert_succeeded()
        assert recap["changed"] == 0, (
            f"{self.name} is not idempotent: changed={recap['changed']} in "
            f"{self.changed_tasks()}\n{self.output}"
        )


#: the dynamic inventory users write for an OpenStack cloud: the gateway's servers as hosts
OPENSTACK_INVENTORY = Path(__file__).parents[1] / "e2e/playbooks/inventory/openstack.yml"


def ansible_env(gateway: ServedGateway, workdir: Path) -> dict[str, str]:
    """The gateway's clouds.yaml, this venv's python for local tasks (its waits looking often:
    :attr:`ServedGateway.client_env`), Ansible's state in ``workdir``."""
    env = gateway.client_env
    env.update(
        ANSIBLE_PYTHON_INTERPRETER=sys.executable,
        # Ansible's state (and any collections a user installed) stays out of this test
        ANSIBLE_HOME=str(workdir / "ansible-home"),
        ANSIBLE_LOCAL_TEMP=str(workdir / "ansible-home" / "tmp"),
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_RETRY_FILES_ENABLED="0",
    )
    return env


def _ansible(
    gateway: ServedGateway, workdir: Path, tool: str, args: list[str], timeout: float
) -> subprocess.CompletedProcess[str]:
    """One of this venv's Ansible commands in ``workdir``, with :func:`ansible_env`."""
    return subprocess.run(
        [str(BIN_DIR / tool), *args],
        cwd=workdir,
        env=ansible_env(gateway, workdir),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def run_playbook(
    gateway: ServedGateway, workdir: Path, playbook: Path, inventory: Path | None = None
) -> PlaybookRun:
    """``ansible-playbook`` with the variables in ``workdir/vars.json``, on localhost or on the
    hosts of ``inventory`` (e.g. :data:`OPENSTACK_INVENTORY`)."""
    result = _ansible(
        gateway,
        workdir,
        "ansible-playbook",
        [
            "-i",
            "localhost," if inventory is None else str(inventory),
            str(playbook),
            "--extra-vars",
            f"@{workdir / 'vars.json'}",
        ],
        timeout=600,
    )
    return PlaybookRun(playbook.name, result.returncode, result.stdout + result.stderr)


def list_inventory(
    gateway: ServedGateway, workdir: Path, inventory: Path = OPENSTACK_INVENTORY
) -> dict[str, Any]:
    """What ``ansible-inventory --list`` makes of ``inventory``: groups, and each host's
    variables under ``_meta.hostvars``."""
    result = _ansible(
        gateway, workdir, "ansible-inventory", ["-i", str(inventory), "--list"], timeout=120
    )
    assert result.returncode == 0, f"ansible-inventory failed:\n{result.stdout}{result.stderr}"
    listed: dict[str, Any] = _plain(json.loads(result.stdout))
    return listed


def _plain(value: Any) -> Any:
    """JSON without Ansible's ``{"__ansible_unsafe": ...}`` wrappers around strings."""
    if isinstance(value, dict):
        if value.keys() == {"__ansible_unsafe"}:
            return value["__ansible_unsafe"]
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value
