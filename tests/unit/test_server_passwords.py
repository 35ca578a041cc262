"""A server's password: the guest posts it once, its owner (or an admin) reads and clears it,
another project sees no such server."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from interstack.errors import BadRequest, Conflict, NotFound
from interstack.services.compute.server_passwords import MAX_PASSWORD_LENGTH, ServerPasswords
from interstack.services.compute.server_tasks import DELETE
from interstack.store import Database
from interstack.store.models import Server, ServerPassword
from tests.support.compute import add_server, running_task
from tests.support.image import caller, started_services


@pytest.fixture
def passwords(db: Database) -> ServerPasswords:
    return ServerPasswords(db)


def test_posted_once_read_by_the_owner_cleared_then_posted_again(
    passwords: ServerPasswords,
) -> None:
    server_id = add_server(passwords.db, "p1", 1, 512, "active")
    owner = caller("p1")
    assert passwords.get(owner, "RegionOne", server_id) == ""
    passwords.set_once(server_id, "encrypted-1")
    with pytest.raises(Conflict):
        passwords.set_once(server_id, "encrypted-2")
    assert passwords.get(owner, "RegionOne", server_id) == "encrypted-1"
    assert passwords.get(caller("p9", "admin"), "RegionOne", server_id) == "encrypted-1"
    passwords.clear(owner, "RegionOne", server_id)
    assert passwords.stored(server_id) is None
    passwords.set_once(server_id, "encrypted-2")
    assert passwords.stored(server_id) == "encrypted-2"


def test_another_project_sees_no_such_server(passwords: ServerPasswords) -> None:
    server_id = add_server(passwords.db, "p1", 1, 512, "active")
    passwords.set_once(server_id, "encrypted")
    with pytest.raises(NotFound):
        passwords.get(caller("p2"), "RegionOne", server_id)
    with pytest.raises(NotFound):
        passwords.clear(caller("p2"), "RegionOne", server_id)
    with pytest.raises(NotFound):
        passwords.get(caller("p1"), "OtherRegion", server_id)
    assert passwords.stored(server_id) == "encrypted"


def test_a_password_longer_than_nova_keeps_is_refused(passwords: ServerPasswords) -> None:
    server_id = add_server(passwords.db, "p1", 1, 512, "active")
    with pytest.raises(BadRequest):
        passwords.set_once(server_id, "x" * (MAX_PASSWORD_LENGTH + 1))
    assert passwords.stored(server_id) is None


def test_a_deleted_server_never_shows_with_its_password_left(tmp_path: Path) -> None:
    """The delete task's last step forgets the password in the commit that marks the server
    deleted: a client that sees the server gone (a 404) never finds its password still kept.
    Every commit is checked, so a password forgotten in a later commit fails at once."""
    with started_services(tmp_path / "data") as services:
        db = services.db
        server_id = add_server(db, "p1", 1, 512, "active")
        services.compute.passwords.set_once(server_id, "encrypted")
        seen: list[tuple[bool, bool]] = []

        def after_commit(_session: Session) -> None:
            with db.engine.connect() as connection:
                deleted = connection.scalar(select(Server.deleted_at).where(Server.id == server_id))
                kept = connection.scalar(
                    select(func.count())
                    .select_from(ServerPassword)
                    .where(ServerPassword.server_id == server_id)
                )
            seen.append((deleted is not None, bool(kept)))

        db.on_commit(after_commit)
        finish = running_task(DELETE, server_id, {"phase": "finish"}, task_id="t-1")
        assert services.compute.server_tasks.delete(finish) is None
        assert (True, False) in seen  # the step did mark the server deleted
        assert (True, True) not in seen
        assert services.compute.passwords.stored(server_id) is None
