"""Two replicas on one PostgreSQL store: a revocation committed after another replica's later
one is still seen by a replica's cache. PostgreSQL numbers events as they are inserted, not as
they commit, so the highest event id alone does not move when the earlier-numbered event
commits last; the watch must see it move all the same (no timing: the commits' order is made
by hand, the look's interval by a clock the test moves)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

from interstack.errors import NotFound
from interstack.services.identity.auth import AuthService
from interstack.services.identity.bootstrap import bootstrap
from interstack.services.identity.fernet_keys import KeyRepository
from interstack.services.identity.model import AuthRequest, PasswordCredentials, ScopeRequest
from interstack.services.identity.tokens import TokenProvider
from interstack.store import Database
from interstack.store.models import User

CHECK_SECONDS = 1.0


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _service(db: Database, keys: KeyRepository, clock: Clock) -> AuthService:
    return AuthService(
        db,
        TokenProvider(keys, timedelta(hours=1)),
        cache_seconds=3600,
        revocation_check_seconds=CHECK_SECONDS,
        clock=clock,
    )


def _demo_token(service: AuthService, data_dir: Path) -> str:
    clouds = yaml.safe_load((data_dir / "clouds.yaml").read_text())["clouds"]
    credentials = PasswordCredentials(
        password=clouds["interstack"]["auth"]["password"], user_name="demo", domain_id="default"
    )
    scope = ScopeRequest(project_name="demo", project_domain_id="default")
    request = AuthRequest(methods=("password",), password=credentials, scope=scope)
    return service.authenticate(request).token


def test_a_revocation_committed_after_a_later_numbered_one_is_seen(
    db: Database, tmp_path: Path
) -> None:
    if db.dialect != "postgresql":
        pytest.skip("SQLite has one writer: its events commit in the order they are numbered")
    bootstrap(db, tmp_path, "http://127.0.0.1:1/v3", ["RegionOne"])
    keys = KeyRepository(tmp_path / "keys")
    keys.initialize()
    clock = Clock()
    replica_db = Database(db.url)
    try:
        replica = _service(replica_db, keys, clock)
        token = _demo_token(_service(db, keys, clock), tmp_path)
        assert replica.validate(token).project is not None
        with db.session() as session:
            demo = session.scalars(select(User.id).where(User.name == "demo")).one()
        with db.session() as slow:
            AuthService.record_revocation(slow, user_id=demo)
            slow.flush()  # numbered now, committed last
            with db.session() as fast:
                AuthService.record_revocation(fast, user_id="someone-else")
            clock.now += CHECK_SECONDS
            # the replica sees the later-numbered event and validates again: still valid
            assert replica.validate(token).project is not None
        clock.now += CHECK_SECONDS
        with pytest.raises(NotFound):
            replica.validate(token)
    finally:
        replica_db.dispose()
