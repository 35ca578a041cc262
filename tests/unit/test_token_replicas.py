"""A validated token is kept until it expires; what makes it stale is seen at once in this
process, and within the revocation check interval in another replica on the same store."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cryptography.fernet import MultiFernet
from sqlalchemy import delete, select

from interstack.errors import NotFound
from interstack.services.identity.assignments import DOMAIN, PROJECT, AssignmentService
from interstack.services.identity.auth import AuthService
from interstack.services.identity.bootstrap import bootstrap
from interstack.services.identity.directory import DirectoryService
from interstack.services.identity.fernet_keys import KeyRepository
from interstack.services.identity.model import ScopeRequest
from interstack.services.identity.records import DomainChanges, UserChanges
from interstack.services.identity.role_definitions import RoleService
from interstack.services.identity.users import UserService
from interstack.store import Database, run_core, table_of
from interstack.store.models import Role, RoleAssignment, User
from tests.support.token_replicas import (
    CHECK_SECONDS,
    Clock,
    auth_service,
    bootstrap_password,
    demo_token,
    password_token,
)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def keys(tmp_path: Path) -> KeyRepository:
    repository = KeyRepository(tmp_path / "keys")
    repository.initialize()
    return repository


@pytest.fixture
def here(db: Database, keys: KeyRepository, clock: Clock, tmp_path: Path) -> AuthService:
    """This process's auth service (the store bootstrapped)."""
    bootstrap(db, tmp_path, "http://127.0.0.1:1/v3", ["RegionOne"])
    return auth_service(db, keys, clock)


@pytest.fixture
def replica(
    here: AuthService, db: Database, keys: KeyRepository, clock: Clock
) -> Iterator[AuthService]:
    """Another replica: its own engine and sessions on the same store, the same keys."""
    other = Database(db.url)
    yield auth_service(other, keys, clock)
    other.dispose()


def _ids(db: Database) -> dict[str, str]:
    with db.session() as session:
        found = {f"role:{r.name}": r.id for r in session.scalars(select(Role))}
        found |= {f"user:{u.name}": u.id for u in session.scalars(select(User))}
    return found


def _look_again(clock: Clock) -> None:
    clock.now += CHECK_SECONDS


def test_a_token_is_read_from_the_store_once_while_nothing_changes(
    here: AuthService, tmp_path: Path, clock: Clock
) -> None:
    token = demo_token(here, tmp_path)
    first = here.validate(token)
    clock.now += 600  # many checks later: the revocation mark did not move
    assert here.cached(token) is None  # the mark is due
    assert here.validate(token) is first  # looked at, nothing moved: the same validation
    assert here.cached(token) is first


def test_another_replicas_revocation_is_seen_within_the_check_interval(
    here: AuthService, replica: AuthService, tmp_path: Path, clock: Clock
) -> None:
    token = demo_token(here, tmp_path)
    assert replica.validate(token).project is not None
    here.revoke(token)
    # the documented window: until its next look, the replica answers from its cache
    assert replica.cached(token) is not None
    _look_again(clock)
    assert replica.cached(token) is None
    with pytest.raises(NotFound):
        replica.validate(token)


def _disable_demo(db: Database, _project_id: str) -> None:
    UserService(db).update_user(_ids(db)["user:demo"], UserChanges(enabled=False))


def _unassign_demo(db: Database, project_id: str) -> None:
    ids = _ids(db)
    AssignmentService(db).revoke_grant(ids["user:demo"], PROJECT, project_id, ids["role:member"])


def _new_password_for_demo(db: Database, _project_id: str) -> None:
    """Keystone ends a user's tokens when the password changes."""
    UserService(db).update_user(_ids(db)["user:demo"], UserChanges(password="another-secret"))


def _delete_demo_project(db: Database, project_id: str) -> None:
    DirectoryService(db).delete_project(project_id)


@pytest.mark.parametrize(
    "take_away", [_disable_demo, _unassign_demo, _new_password_for_demo, _delete_demo_project]
)
def test_a_right_taken_away_on_another_replica_is_refused_after_its_look(
    here: AuthService,
    replica: AuthService,
    db: Database,
    tmp_path: Path,
    clock: Clock,
    take_away: Callable[[Database, str], None],
) -> None:
    token = demo_token(here, tmp_path)
    project = replica.validate(token).project
    assert project is not None
    take_away(db, project.id)
    _look_again(clock)
    with pytest.raises(NotFound):
        replica.validate(token)


def test_a_domain_disabled_on_another_replica_ends_its_domain_scoped_tokens(
    here: AuthService, replica: AuthService, db: Database, tmp_path: Path, clock: Clock
) -> None:
    """The admin (of the default domain) holds a role on a domain without users or projects
    of its own: no user's or project's revocation names its domain-scoped token."""
    directory = DirectoryService(db)
    domain = directory.create_domain("elsewhere")
    ids = _ids(db)
    AssignmentService(db).grant(ids["user:admin"], DOMAIN, domain.id, ids["role:admin"])
    scope = ScopeRequest(domain_id=domain.id)
    token = password_token(here, "admin", bootstrap_password(tmp_path, "interstack-admin"), scope)
    assert replica.validate(token).domain is not None
    directory.update_domain(domain.id, DomainChanges(enabled=False))
    _look_again(clock)
    with pytest.raises(NotFound):
        replica.validate(token)


def test_a_role_granted_in_this_process_is_seen_at_once(
    here: AuthService, db: Database, tmp_path: Path
) -> None:
    token = demo_token(here, tmp_path)
    info = here.validate(token)
    assert "admin" not in {r.name for r in info.roles}
    assert info.project is not None
    ids = _ids(db)
    AssignmentService(db).grant(ids["user:demo"], PROJECT, info.project.id, ids["role:admin"])
    assert here.cached(token) is None
    assert "admin" in {r.name for r in here.validate(token).roles}


def test_a_look_that_sees_a_revocation_trusts_no_cached_token_until_it_emptied_the_cache(
    here: AuthService,
    replica: AuthService,
    tmp_path: Path,
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A request answered from the cache (on the event loop) while another request's look
    is under way: once the look is done, the cache it found stale is gone."""
    token = demo_token(here, tmp_path)
    assert replica.validate(token).project is not None
    here.revoke(token)
    _look_again(clock)
    answered_meanwhile = []
    keys = replica.tokens.keys
    fernet = keys.fernet

    def keys_read_during_the_look() -> MultiFernet:
        answered_meanwhile.append(replica.cached(token))
        return fernet()

    monkeypatch.setattr(keys, "fernet", keys_read_during_the_look)
    with pytest.raises(NotFound):
        replica.validate(token)
    assert answered_meanwhile
    assert all(answer is None for answer in answered_meanwhile)


def test_a_domain_deleted_on_another_replica_ends_the_tokens_its_roles_were_in(
    here: AuthService, replica: AuthService, db: Database, tmp_path: Path, clock: Clock
) -> None:
    """The demo user holds a role of another domain on its own (default) domain — a token
    never carries a domain-specific role, and a grant on a domain ends all the holder's tokens
    when removed: the domain's disabling names neither, its deletion takes the role and the
    grant along."""
    directory = DirectoryService(db)
    domain = directory.create_domain("elsewhere")
    role = RoleService(db).create_role("auditor", domain_id=domain.id)
    token = demo_token(here, tmp_path)
    assert here.validate(token).project is not None
    AssignmentService(db).grant(_ids(db)["user:demo"], DOMAIN, "default", role.id)
    _look_again(clock)
    assert "auditor" not in {r.name for r in replica.validate(token).roles}
    directory.update_domain(domain.id, DomainChanges(enabled=False))
    _look_again(clock)
    assert replica.validate(token).project is not None
    directory.delete_domain(domain.id)
    _look_again(clock)
    with pytest.raises(NotFound):
        replica.validate(token)


def test_an_identity_write_by_a_core_statement_on_the_connection_is_seen_at_once(
    here: AuthService, db: Database, tmp_path: Path
) -> None:
    """run_core's statements bypass the session's events: the demo user's grants deleted so
    (no revocation event) must still end its cached token in this process."""
    token = demo_token(here, tmp_path)
    assert here.validate(token).project is not None
    grants = table_of(RoleAssignment)
    with db.session() as session:
        run_core(session, delete(grants).where(grants.c.actor_id == _ids(db)["user:demo"]))
    assert here.cached(token) is None
    with pytest.raises(NotFound):
        here.validate(token)
