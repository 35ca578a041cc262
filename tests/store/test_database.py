"""The store on both databases it supports: migrations, round trips, constraints, rollback."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import bindparam, func, inspect, select
from sqlalchemy.exc import IntegrityError

from interstack.store import Database, insert_rows, run_core, table_of
from interstack.store.db import MIGRATIONS_DIR
from interstack.store.models import Base, Domain, Project, Role, RoleAssignment, User

IDENTITY_TABLES = {"domains", "projects", "users", "roles", "role_assignments"}


def _id() -> str:
    return uuid.uuid4().hex


def _domain(name: str = "d") -> Domain:
    return Domain(id=_id(), name=f"{name}-{_id()[:8]}", description="", enabled=True, extra={})


def _project(domain_id: str, name: str = "p") -> Project:
    return Project(
        id=_id(),
        name=name,
        domain_id=domain_id,
        description="a project",
        enabled=True,
        tags=["a", "b"],
        extra={"k": "v"},
    )


def _user(domain_id: str, name: str = "u") -> User:
    return User(
        id=_id(),
        name=name,
        domain_id=domain_id,
        password_hash="hash",
        enabled=True,
        description="",
        extra={},
        created_at=datetime(2026, 1, 2, 3, 4, 5),
    )


def test_migrations_apply_from_empty_and_are_idempotent(database_url: str) -> None:
    database = Database(database_url)
    try:
        assert not set(inspect(database.engine).get_table_names()) & IDENTITY_TABLES
        database.migrate()
        tables = set(inspect(database.engine).get_table_names())
        assert tables >= IDENTITY_TABLES | {"alembic_version"}
        assert tables - {"alembic_version"} == set(Base.metadata.tables)
        database.migrate()
        assert set(inspect(database.engine).get_table_names()) == tables
        with database.engine.connect() as connection:
            versions = connection.exec_driver_sql("SELECT version_num FROM alembic_version").all()
        # one row per head: each area's branch of migrations is applied to its newest revision
        assert {v for (v,) in versions} == set(ScriptDirectory(str(MIGRATIONS_DIR)).get_heads())
    finally:
        database.dispose()


def test_a_second_database_object_sees_the_migrated_schema(database_url: str) -> None:
    first = Database(database_url)
    first.migrate()
    first.dispose()
    second = Database(database_url)
    try:
        second.migrate()
        with second.session() as session:
            assert session.scalar(select(func.count()).select_from(Domain)) == 0
    finally:
        second.dispose()


def test_identity_rows_round_trip(db: Database) -> None:
    domain = _domain()
    project = _project(domain.id)
    user = _user(domain.id)
    role = Role(id=_id(), name="member", domain_id=None, description="", extra={})
    with db.session() as session:
        session.add_all([domain, project, user, role])
        session.flush()
        session.add(
            RoleAssignment(
                actor_id=user.id,
                target_type="project",
                target_id=project.id,
                role_id=role.id,
                inherited=False,
            )
        )

    with db.session() as session:
        got_domain = session.get(Domain, domain.id)
        got_project = session.get(Project, project.id)
        got_user = session.get(User, user.id)
        got_role = session.get(Role, role.id)
        assert got_domain is not None and got_domain.name == domain.name
        assert got_project is not None
        assert (got_project.name, got_project.domain_id) == ("p", domain.id)
        assert got_project.tags == ["a", "b"] and got_project.extra == {"k": "v"}
        assert got_user is not None and got_user.password_hash == "hash"
        assert got_user.created_at == datetime(2026, 1, 2, 3, 4, 5)
        assert got_user.default_project_id is None and got_user.email is None
        assert got_role is not None and got_role.domain_id is None
        assignments = session.scalars(
            select(RoleAssignment).where(RoleAssignment.actor_id == user.id)
        ).all()
        assert [(a.target_type, a.target_id, a.role_id) for a in assignments] == [
            ("project", project.id, role.id)
        ]


def test_updates_and_deletes_persist(db: Database) -> None:
    domain = _domain()
    project = _project(domain.id)
    with db.session() as session:
        session.add_all([domain, project])
    with db.session() as session:
        stored = session.get(Project, project.id)
        assert stored is not None
        stored.enabled = False
        stored.tags = ["c"]
    with db.session() as session:
        stored = session.get(Project, project.id)
        assert stored is not None and not stored.enabled and stored.tags == ["c"]
        session.delete(stored)
    with db.session() as session:
        assert session.get(Project, project.id) is None


@pytest.mark.parametrize("model", [Project, User])
def test_name_is_unique_within_a_domain(db: Database, model: type[Project] | type[User]) -> None:
    domain, other = _domain(), _domain()
    make = _project if model is Project else _user
    with db.session() as session:
        session.add_all([domain, other])
        session.flush()
        session.add_all([make(domain.id, "same"), make(other.id, "same")])
    with pytest.raises(IntegrityError), db.session() as session:
        session.add(make(domain.id, "same"))
    with db.session() as session:
        count = session.scalar(select(func.count()).select_from(model))
        assert count == 2


def test_domain_name_is_unique(db: Database) -> None:
    first = _domain()
    with db.session() as session:
        session.add(first)
    with pytest.raises(IntegrityError), db.session() as session:
        session.add(Domain(id=_id(), name=first.name, description="", enabled=True, extra={}))


def test_role_assignment_is_unique(db: Database) -> None:
    domain = _domain()
    user = _user(domain.id)
    role = Role(id=_id(), name="reader", domain_id=None, description="", extra={})
    with db.session() as session:
        session.add_all([domain, user, role])
        session.flush()
        session.add(
            RoleAssignment(actor_id=user.id, target_type="system", target_id="all", role_id=role.id)
        )
    with pytest.raises(IntegrityError), db.session() as session:
        session.add(
            RoleAssignment(
                actor_id=user.id,
                target_type="system",
                target_id="all",
                role_id=role.id,
                inherited=False,
            )
        )


def test_foreign_keys_are_enforced(db: Database) -> None:
    with pytest.raises(IntegrityError), db.session() as session:
        session.add(_project("no-such-domain"))


def test_a_rolled_back_session_leaves_nothing(db: Database) -> None:
    class Abort(Exception):
        pass

    domain = _domain()
    with pytest.raises(Abort), db.session() as session:
        session.add(domain)
        session.add(_project(domain.id))
        session.flush()
        assert session.get(Domain, domain.id) is not None
        raise Abort
    with db.session() as session:
        assert session.get(Domain, domain.id) is None
        assert session.scalar(select(func.count()).select_from(Project)) == 0


def test_timestamps_are_naive_utc(db: Database) -> None:
    """DateTime columns carry no zone: what goes in as naive UTC comes back unchanged."""
    domain = _domain()
    now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    user = _user(domain.id)
    user.created_at = now
    with db.session() as session:
        session.add_all([domain, user])
    with db.session() as session:
        stored = session.get(User, user.id)
        assert stored is not None and stored.created_at == now


def test_a_core_statement_sees_what_the_unit_of_work_changed(db: Database) -> None:
    """run_core flushes first, as the session's own execute does: a Core read in a unit of
    work sees the rows it added and the changes it made (a quota's count, an address's look
    missed them), and a Core insert may refer to a row added just before. Within
    ``no_autoflush`` nothing is flushed."""
    domains = table_of(Domain).c
    names = select(domains.name).where(domains.id == bindparam("domain_id"))
    domain = _domain()
    with db.session() as session:
        session.add(domain)
        assert run_core(session, names, {"domain_id": domain.id}).scalar() == domain.name
        domain.name = "renamed"
        assert run_core(session, names, {"domain_id": domain.id}).scalar() == "renamed"
        project = _project(domain.id)
        insert_rows(session, [project])  # its domain's row is written first
        with session.no_autoflush:
            domain.name = "again"
            assert run_core(session, names, {"domain_id": domain.id}).scalar() == "renamed"
