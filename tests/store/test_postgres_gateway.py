"""A gateway on PostgreSQL, end to end: ``interstack serve --config`` with a database URL."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.support.gateway import ServedGateway


@pytest.fixture
def pg_gateway(tmp_path: Path, postgres_url: str) -> ServedGateway:
    return ServedGateway(tmp_path / "data", config={"database": postgres_url})


def test_serves_tokens_from_postgresql_and_they_survive_a_restart(
    pg_gateway: ServedGateway,
) -> None:
    try:
        pg_gateway.start()
        assert not (pg_gateway.data_dir / "interstack.db").exists()
        admin = pg_gateway.token("interstack-admin")
        subject = pg_gateway.token("interstack")
        headers = {"X-Auth-Token": admin, "X-Subject-Token": subject}
        before = httpx.get(f"{pg_gateway.url}/v3/auth/tokens", headers=headers, timeout=30)
        assert before.status_code == 200

        pg_gateway.restart()
        after = httpx.get(f"{pg_gateway.url}/v3/auth/tokens", headers=headers, timeout=30)
        assert after.status_code == 200
        assert after.json()["token"]["user"] == before.json()["token"]["user"]
        assert after.json()["token"]["project"] == before.json()["token"]["project"]
        result = pg_gateway.cli("interstack", "token", "issue", "-f", "value", "-c", "id")
        assert result.stdout.strip()
    finally:
        assert pg_gateway.stop() == 0
