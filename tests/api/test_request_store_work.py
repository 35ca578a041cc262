"""What every request costs the store before and after its own work: nothing once its token
is validated. A token is read from the store once (its validation and the first look at the
revocation events), not per request; a request without work of its own (an extension's
document) takes no statement and no unit of work, and one that reads (the key pairs) only its
own. Counted with the app served by uvicorn in this process, on a sim region."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from sqlalchemy import event

from interstack.config import RegionConfig, Settings
from tests.support.gateway import CHEAP_PASSWORD_HASHING, SIM_REGION, password_auth_body
from tests.support.in_process import served_in_process

REGION = SIM_REGION["name"]
#: (statements, units of work) each request may take at most
CEILINGS: dict[str, tuple[int, int]] = {
    # the token's user, domain, project and its domain, roles; revocations; the first look
    "first request of a token": (8, 2),
    "no work of its own": (0, 0),
    "list key pairs": (1, 1),
}


class StoreWork:
    """Statements and pool checkouts, outside the task runner's threads."""

    def __init__(self, app: Any) -> None:
        self.counts: Counter[str] = Counter()
        engine = app.state.services.db.engine
        event.listen(engine, "before_cursor_execute", self._count("statements"))
        event.listen(engine.pool, "checkout", self._count("units"))

    def _count(self, what: str) -> Any:
        def counted(*_args: Any) -> None:
            if not threading.current_thread().name.startswith("interstack-task-"):
                self.counts[what] += 1

        return counted

    def take(self) -> tuple[int, int]:
        taken = (self.counts["statements"], self.counts["units"])
        self.counts.clear()
        return taken


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[httpx.Client, StoreWork, dict[str, Any]]]:
    """The app served in a thread of this process, a client and its password login."""

    def settings(port: int) -> Settings:
        return Settings(
            data_dir=tmp_path / "data",
            port=port,
            regions=[RegionConfig(name=REGION, backend="sim")],
            # one look at the revocation events (the first request's), whatever the machine's
            # load: a look falling due later would be one statement more on any request
            revocation_check_seconds=3600,
            **CHEAP_PASSWORD_HASHING,
        )

    with served_in_process(settings) as (app, served):
        clouds = yaml.safe_load((served.data_dir / "clouds.yaml").read_text())["clouds"]
        with httpx.Client(base_url=served.base_url, timeout=60) as client:
            yield client, StoreWork(app), password_auth_body(clouds["interstack"]["auth"])


def test_a_request_reads_the_store_for_its_token_once(
    served: tuple[httpx.Client, StoreWork, dict[str, Any]],
) -> None:
    client, work, login = served
    extension = f"/{REGION}/network/v2.0/extensions/security-group"
    keypairs = f"/{REGION}/compute/v2.1/os-keypairs"
    seen: dict[str, list[tuple[int, int]]] = {}

    def call(step: str, url: str, token: str) -> None:
        work.take()
        response = client.get(url, headers={"X-Auth-Token": token})
        assert response.status_code == 200, response.text
        seen.setdefault(step, []).append(work.take())

    for _ in range(2):  # the second token: nothing is compiled or made for the first time
        issued = client.post("/v3/auth/tokens", json=login)
        assert issued.status_code == 201, issued.text
        token = issued.headers["X-Subject-Token"]
        call("first request of a token", extension, token)
        for _ in range(3):
            call("no work of its own", extension, token)
            call("list key pairs", keypairs, token)

    over = {
        step: taken
        for step, most in CEILINGS.items()
        for taken in seen[step]
        if taken[0] > most[0] or taken[1] > most[1]
    }
    assert not over, f"(statements, units of work) above the ceiling: {over}; all: {seen}"
