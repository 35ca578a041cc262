"""A gateway on PostgreSQL, end to end: ``interstack serve --config`` with a database URL (the
store tests' shared ``pg_gateway``, restarted here and left running)."""

from __future__ import annotations

import httpx

from tests.support.gateway import ServedGateway


def test_serves_tokens_from_postgresql_and_they_survive_a_restart(
    pg_gateway: ServedGateway,
) -> None:
    assert not (pg_gateway.data_dir / "interstack.db").exists()
    admin = pg_gateway.token("interstack-admin")
    subject = pg_gateway.token("interstack")
    headers = {"X-Auth-Token": admin, "X-Subject-Token": subject}
    before = httpx.get(f"{pg_gateway.url}/v3/auth/tokens", headers=headers, timeout=30)
    assert before.status_code == 200

    stopped = pg_gateway.stop()
    pg_gateway.start()  # before the exit code's check: the other modules share this gateway
    assert stopped == 0
    after = httpx.get(f"{pg_gateway.url}/v3/auth/tokens", headers=headers, timeout=30)
    assert after.status_code == 200
    assert after.json()["token"]["user"] == before.json()["token"]["user"]
    assert after.json()["token"]["project"] == before.json()["token"]["project"]
    result = pg_gateway.cli("interstack", "token", "issue", "-f", "value", "-c", "id")
    assert result.stdout.strip()
