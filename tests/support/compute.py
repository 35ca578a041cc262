"""Helpers for compute tests: a Nova HTTP client at a microversion, Nova fault checks, and
openstacksdk waits that look often (the cloud layer's ``wait=True`` and the CLI's ``--wait``
look every 2-5 s, where waiting is not what a test proves); and a server row written straight
into the store, for tests of the services below the API."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import httpx

from interstack.backends.contract import Backend, Polling
from interstack.services.tasks import RetryAfter, Task, TaskStatus, utcnow
from interstack.store import Database
from interstack.store.models import Server
from tests.support.faults import assert_named_fault
from tests.support.gateway import ServedGateway
from tests.support.waiting import eventually

REGION = "RegionOne"


def compute_root(gateway: ServedGateway, region: str = REGION) -> str:
    """The unversioned compute endpoint of ``region`` (the test region unless told)."""
    return f"{gateway.url}/{region}/compute"


def nova(
    gateway: ServedGateway, token: str, version: str | None = None, region: str = REGION
) -> httpx.Client:
    """An httpx client on ``.../compute/v2.1`` of ``region``, asking for ``version`` if given."""
    headers = {"X-Auth-Token": token}
    if version is not None:
        headers["OpenStack-API-Version"] = f"compute {version}"
    base_url = f"{compute_root(gateway, region)}/v2.1"
    return httpx.Client(base_url=base_url, headers=headers, timeout=30)


#: Nova's fault body is one named object
assert_nova_fault = assert_named_fault


def cli_json(gateway: ServedGateway, cloud: str, *args: str, extra: Sequence[str] = ()) -> Any:
    """Run an ``openstack`` command with ``-f json`` (and the ``extra`` options before it) and
    parse what it prints."""
    return json.loads(gateway.cli(cloud, *args, "-f", "json", extra=extra).stdout)


def server_active(conn: Any, server: Any) -> Any:
    """The server once ACTIVE, looked at every 0.2 s (the cloud layer's ``wait=True`` looks
    every 5 s)."""
    return server_in(conn, server, "ACTIVE")


def server_in(conn: Any, server: Any, status: str, wait: float = 60) -> Any:
    """The server once in ``status``, looked at every 0.2 s (openstacksdk's
    ``wait_for_server`` looks every 2 s unless told)."""
    return conn.compute.wait_for_server(server, status=status, wait=wait, interval=0.2)


def wait_server_gone(conn: Any, server_id: str) -> None:
    """Until openstacksdk finds no server ``server_id``, looking every 0.05 s."""
    eventually(lambda: conn.compute.find_server(server_id), lambda found: found is None,
               f"server {server_id} deleted")  # fmt: skip


def delete_server(conn: Any, server_id: str) -> None:
    """Delete a server and see it gone (``wait=True`` looks every 2 s)."""
    conn.compute.delete_server(server_id, ignore_missing=False)
    wait_server_gone(conn, server_id)


def add_server(
    db: Database, project_id: str, vcpus: int, ram: int, vm_state: str, flavor: str = "m1.tiny"
) -> str:
    """A server of the flavor's ``vcpus`` and ``ram`` written straight into the store (for tests
    of the services below the API); its id. ``flavor`` is the flavor's name (an instance
    type's in a region whose flavors are its cloud's sizes)."""
    now = utcnow()
    server_id = str(uuid.uuid4())
    with db.session() as session:
        session.add(
            Server(
                id=server_id,
                region="RegionOne",
                project_id=project_id,
                user_id="u",
                name="s",
                flavor_id="1",
                flavor={"vcpus": vcpus, "ram": ram, "disk": 1, "original_name": flavor},
                vm_state=vm_state,
                availability_zone="nova",
                reservation_id="r-1",
                created_at=now,
                updated_at=now,
                deleted_at=now if vm_state == "deleted" else None,
            )
        )
    return server_id


def running_task(
    kind: str, server_id: str, payload: dict[str, Any] | None = None, task_id: str = ""
) -> Task:
    """A server's task of ``kind`` as a worker holds it when it runs a step (for tests that run
    the step themselves); its id ``t-<kind>`` unless given."""
    return Task(
        id=task_id or f"t-{kind}",
        kind=kind,
        region="RegionOne",
        resource_id=server_id,
        payload=payload or {},
        status=TaskStatus.RUNNING,
        attempts=1,
        error=None,
        run_after=utcnow(),
    )


def declare_polling(monkeypatch: Any, backend: Backend, declared: Polling) -> None:
    """Make ``backend`` declare ``declared`` as its polling for the test."""
    monkeypatch.setattr(type(backend), "polling", property(lambda _backend: declared))


def waits_of(run: Callable[[Task], RetryAfter | None], task: Task, steps: int) -> list[float]:
    """The wait each of ``steps`` steps of a task whose backend does not settle asks for."""
    waits = []
    for _ in range(steps):
        outcome = run(task)
        assert outcome is not None and outcome.payload is not None
        waits.append(outcome.seconds)
        task = replace(task, payload=dict(outcome.payload))
    return waits
