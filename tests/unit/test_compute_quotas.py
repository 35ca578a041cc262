"""Compute quota usage is counted from the servers themselves; the server check refuses
what would exceed a limit with Nova's message."""

from __future__ import annotations

import pytest

from interstack.errors import QuotaExceeded
from interstack.services.compute.quotas import QuotaService
from interstack.store import Database
from interstack.store.models import QuotaLimit
from tests.support.compute import add_server


def test_usage_counts_live_servers_of_the_project(db: Database) -> None:
    add_server(db, "p1", 2, 2048, "active")
    add_server(db, "p1", 4, 4096, "stopped")
    add_server(db, "p1", 8, 8192, "deleted")
    add_server(db, "p2", 1, 512, "active")
    quotas = QuotaService(db)
    with db.session() as session:
        used = quotas.usage("p1", session)
    assert (used["instances"], used["cores"], used["ram"]) == (2, 6, 6144)


def test_server_check_refuses_beyond_the_limit(db: Database) -> None:
    add_server(db, "p1", 16, 1024, "active")
    quotas = QuotaService(db)
    with db.session() as session:
        quotas.check_servers(session, "p1", 1, 4, 1024)  # 20 cores: exactly the limit
        with pytest.raises(QuotaExceeded) as raised:
            quotas.check_servers(session, "p1", 1, 5, 1024)
    assert raised.value.message == (
        "Quota exceeded for cores: Requested 5, but already used 16 of 20 cores"
    )


def test_unlimited_is_never_exceeded(db: Database) -> None:
    quotas = QuotaService(db)
    with db.session() as session:
        session.add(QuotaLimit(project_id="p1", resource="instances", hard_limit=-1))
    with db.session() as session:
        quotas.check_servers(session, "p1", 500, 0, 0)
        with pytest.raises(QuotaExceeded):
            quotas.check_servers(session, "p2", 11, 0, 0)
