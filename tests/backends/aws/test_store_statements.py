"""The store work of the aws overhead benchmark's requests (benchmarks/aws_gateway.py), counted:
SQL statements and units of work (connections taken from the pool) per request, the boot and
delete tasks the requests run included. Each request is pinned at the figures it reaches, so
that a re-read or an extra unit of work creeping into the boot or delete path fails here. A
round after the first compiles nothing: SQLAlchemy's Python work of compiling a statement
(a literal value in it, an ``in_`` list of another length) would come back on every request.

The app runs in this process on an aws region on moto; the task runner's own threads (their
idle claims) are not counted, the request's threads are. Token validation reads the store
once per ``token_cache_seconds`` and looks at the revocation events once per
``revocation_check_seconds``: both set long here, so no request pays them by chance."""

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
from sqlalchemy.engine.default import DefaultExecutionContext
from sqlalchemy.engine.interfaces import CacheStats

from interstack.config import RegionConfig, Settings
from interstack.services.container import Services
from tests.support.gateway import CHEAP_PASSWORD_HASHING, password_auth_body
from tests.support.in_process import served_in_process
from tests.support.moto import an_ami, aws_settings

REGION = "aws-us-east-1"
PUBLIC_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGc1LMfaNjp0y6RBeSmEOJaHjxO2OlzAnCqJhE/ChbEV t"

#: the most statements and units of work each request of the sequence may take
CEILINGS: dict[str, tuple[int, int]] = {
    "create network": (3, 2),
    "create subnet": (10, 2),
    "create security group": (6, 3),
    "create rule": (5, 2),
    "create key pair": (2, 1),
    "boot": (25, 9),
    "show server": (4, 1),
    "list servers": (4, 1),
    "delete server": (16, 8),
    "delete key pair": (1, 1),
    "delete security group": (6, 2),
    "delete subnet": (7, 1),
    "delete network": (7, 1),
}


class StoreWork:
    """Statements and pool checkouts of the store, outside the task runner's threads."""

    def __init__(self, services: Services) -> None:
        self.counts: Counter[str] = Counter()
        #: statements compiled anew instead of taken from the engine's compiled cache
        self.compiled: list[str] = []
        engine = services.db.engine
        event.listen(engine, "before_cursor_execute", self._statement)
        event.listen(engine.pool, "checkout", self._checkout)

    @staticmethod
    def _counted() -> bool:
        return not threading.current_thread().name.startswith("interstack-task-")

    def _statement(
        self, _conn: Any, _cursor: Any, statement: str, _params: Any, context: Any, _many: bool
    ) -> None:
        if not self._counted():
            return
        self.counts["statements"] += 1
        compiled = isinstance(context, DefaultExecutionContext) and context.compiled is not None
        if compiled and context.cache_hit is not CacheStats.CACHE_HIT:
            self.compiled.append(" ".join(statement.split()))

    def _checkout(self, *_args: Any, **_kwargs: Any) -> None:
        if self._counted():
            self.counts["sessions"] += 1

    def take(self) -> tuple[int, int]:
        taken = (self.counts["statements"], self.counts["sessions"])
        self.counts.clear()
        return taken


def region_settings() -> dict[str, Any]:
    """The emulator's region as the benchmark configures it: its one AMI the only image."""
    ami = an_ami()
    return aws_settings(own_images=False, images=[{"filters": {"image-id": [ami]}}])


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[tuple[httpx.Client, StoreWork]]:
    """The app served by uvicorn in a thread of this process, and a client with a token."""

    def settings(port: int) -> Settings:
        return Settings(
            data_dir=tmp_path / "data",
            port=port,
            regions=[RegionConfig(name=REGION, backend="aws", settings=region_settings())],
            token_cache_seconds=3600,
            revocation_check_seconds=3600,
            **CHEAP_PASSWORD_HASHING,
        )

    with served_in_process(settings) as (app, served):
        auth = yaml.safe_load((served.data_dir / "clouds.yaml").read_text())["clouds"]
        with httpx.Client(base_url=served.base_url, timeout=60) as client:
            body = password_auth_body(auth["interstack"]["auth"])
            issued = client.post("/v3/auth/tokens", json=body)
            assert issued.status_code == 201, issued.text
            client.headers["X-Auth-Token"] = issued.headers["X-Subject-Token"]
            yield client, StoreWork(app.state.services)


def test_the_benchmark_sequence_stays_within_its_store_work(
    gateway: tuple[httpx.Client, StoreWork],
) -> None:
    client, work = gateway
    compute, network = f"/{REGION}/compute/v2.1", f"/{REGION}/network/v2.0"
    images = client.get(f"/{REGION}/image/v2/images").json()["images"]
    seen: dict[str, tuple[int, int]] = {}

    def call(step: str, method: str, url: str, body: dict[str, Any] | None = None) -> Any:
        work.take()
        response = client.request(method, url, json=body)
        assert response.status_code < 300, response.text
        seen[step] = work.take()
        return response.json() if response.content else None

    for n in (1, 2):  # the first round makes the project's VPC and default group
        work.compiled.clear()  # the first round compiles each statement once
        net = call("create network", "POST", f"{network}/networks", {"network": {"name": "n"}})
        net_id = net["network"]["id"]
        subnet = {"network_id": net_id, "cidr": f"10.{n}.0.0/24", "ip_version": 4}
        subnet_id = call("create subnet", "POST", f"{network}/subnets", {"subnet": subnet})[
            "subnet"
        ]["id"]
        group = {"security_group": {"name": f"g{n}"}}
        group_id = call("create security group", "POST", f"{network}/security-groups", group)[
            "security_group"
        ]["id"]
        rule = {
            "security_group_id": group_id,
            "direction": "ingress",
            "protocol": "tcp",
            "port_range_min": 22,
            "port_range_max": 22,
            "remote_ip_prefix": "0.0.0.0/0",
        }
        call(
            "create rule", "POST", f"{network}/security-group-rules", {"security_group_rule": rule}
        )
        keypair = {"keypair": {"name": f"k{n}", "public_key": PUBLIC_KEY}}
        call("create key pair", "POST", f"{compute}/os-keypairs", keypair)
        server = {
            "name": f"s{n}",
            "flavorRef": "t3.micro",
            "imageRef": images[0]["id"],
            "networks": [{"uuid": net_id}],
            "key_name": f"k{n}",
            "security_groups": [{"name": f"g{n}"}],
        }
        server_id = call("boot", "POST", f"{compute}/servers", {"server": server})["server"]["id"]
        # the emulator runs the instance at once: the boot's request made it ACTIVE
        shown = call("show server", "GET", f"{compute}/servers/{server_id}")["server"]
        assert shown["status"] == "ACTIVE"
        call("list servers", "GET", f"{compute}/servers/detail")
        call("delete server", "DELETE", f"{compute}/servers/{server_id}")
        assert client.get(f"{compute}/servers/{server_id}").status_code == 404
        call("delete key pair", "DELETE", f"{compute}/os-keypairs/k{n}")
        call("delete security group", "DELETE", f"{network}/security-groups/{group_id}")
        call("delete subnet", "DELETE", f"{network}/subnets/{subnet_id}")
        call("delete network", "DELETE", f"{network}/networks/{net_id}")

    over = {
        step: (seen[step], most)
        for step, most in CEILINGS.items()
        if seen[step][0] > most[0] or seen[step][1] > most[1]
    }
    assert not over, f"(statements, units of work) above the ceiling: {over}; all: {seen}"
    assert work.compiled == [], "statements the second round compiled again"
