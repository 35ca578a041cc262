"""Two replicas on one PostgreSQL store: a revocation committed after another replica's later
one is still seen by a replica's cache. PostgreSQL numbers events as they are inserted, not as
they commit, so the highest event id alone does not move when the earlier-numbered event
commits last; the watch must see it move all the same (no timing: the commits' order is made
by hand, the look's interval by a clock the test moves)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from interstack.errors import NotFound
from interstack.services.identity.auth import AuthService
from interstack.services.identity.bootstrap import bootstrap
from interstack.services.identity.fernet_keys import KeyRepository
from interstack.store import Database
from interstack.store.models import User
from tests.support.token_replicas import CHECK_SECONDS, Clock, auth_service, demo_token


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
        replica = auth_service(replica_db, keys, clock)
        token = demo_token(auth_service(db, keys, clock), tmp_path)
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
