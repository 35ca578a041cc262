"""Engine and session handling for SQLite (default) and PostgreSQL (replicas).

One :class:`Database` per gateway, built by the app factory. Migrations are applied with
:meth:`Database.migrate` at start, so a fresh data dir and an upgraded install behave alike.

SQLite has one writer at a time, and a writer that finds the lock taken sleeps in SQLite's busy
handler (1 ms growing to 100 ms per try) instead of waking when the lock is free. Concurrent
writers of one gateway therefore queue on a lock of the process (:class:`_SqliteWriters`) and
each finds SQLite's lock free; SQLite's busy handler still guards against other processes.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

from alembic import command
from alembic.config import Config
from sqlalchemy import (
    Column,
    Connection,
    CursorResult,
    Engine,
    Insert,
    Table,
    create_engine,
    event,
    func,
    insert,
    inspect,
    select,
)
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql import Executable
from sqlalchemy.sql.dml import UpdateBase

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
#: seconds a writer waits for the process's write lock before it goes on to SQLite's own
_WRITER_WAIT = 10.0
#: the first statement of a write transaction (pysqlite begins one only before these)
_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE", "CREATE", "DROP", "ALTER")


def rowcount(result: Any) -> int:
    """The rows an UPDATE or DELETE statement's ``session.execute`` result touched."""
    return cast(CursorResult[Any], result).rowcount


def table_of(model: type[Any]) -> Table:
    """A mapped class's table, for Core statements on it (typed: ``__table__`` is a
    ``FromClause`` to mypy)."""
    return cast(Table, model.__table__)


#: what a unit of work's ``session.info`` keeps the tables its Core statements wrote in
_CORE_WRITTEN = "interstack.store.core_written"


def run_core(
    session: Session,
    statement: Executable,
    params: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None,
) -> CursorResult[*tuple[Any, ...]]:
    """Run a Core statement on the unit of work's connection, in its transaction, and return
    its plain rows (``params`` a list: executemany). For hot statements built once at import
    (every value a ``bindparam`` given in ``params``): ``session.execute`` would build the
    ORM's compile state and, for an entity, load objects into the identity map — about three
    times the Python work of the statement itself. The session is flushed first, as its own
    ``execute`` autoflushes (not within ``no_autoflush``): the statement sees what the unit of
    work changed so far; a flush with nothing to write costs about 0.15 µs, a statement ~16.
    Objects the session holds are not refreshed by the statement: one it changes is read as
    it was loaded, or expired by the caller. The tables an INSERT, UPDATE or DELETE writes
    are kept in the unit of work (:func:`core_written`): the session's own events, which
    caches listen to, do not see a statement run on its connection."""
    if session.autoflush:
        session.flush()
    if isinstance(statement, UpdateBase):
        table = getattr(statement.table, "name", None)
        session.info.setdefault(_CORE_WRITTEN, set()).add(table)
    return session.connection().execute(statement, params or {})


def core_written(session: Session) -> set[str]:
    """The names of the tables the unit of work's :func:`run_core` statements wrote so far."""
    written: set[str] = session.info.get(_CORE_WRITTEN, set())
    return written


#: model -> (attribute, column) of each of its attributes that is a column of its table
_WRITTEN: dict[type[Any], tuple[tuple[str, str], ...]] = {}


def _written_columns(model: type[Any]) -> tuple[tuple[str, str], ...]:
    found = _WRITTEN.get(model)
    if found is None:
        table = table_of(model)
        found = _WRITTEN[model] = tuple(
            (attribute.key, column.key)
            for attribute in inspect(model).column_attrs
            for column in attribute.columns[:1]
            if isinstance(column, Column) and column.table is table
        )
    return found


def insert_rows(session: Session, rows: Sequence[Any]) -> None:
    """Insert the new rows ``rows`` (ORM objects of one model, made and never added to a
    session) with one Core INSERT (executemany for several), in the unit of work's
    transaction, now: the ORM's flush of new objects costs several times the statement. The
    objects stay out of the session, as values to read: they learn no column default, so set
    every column read after (each the same columns; one left unset gets its default in the
    table)."""
    if not rows:
        return
    columns = _written_columns(type(rows[0]))
    values = [
        {column: state[attribute] for attribute, column in columns if attribute in state}
        for state in (inspect(row).dict for row in rows)
    ]
    run_core(session, _insert(table_of(type(rows[0]))), values[0] if len(rows) == 1 else values)


@functools.cache
def _insert(table: Table) -> Insert:
    return insert(table)


def take_turns(session: Session, key: str) -> None:
    """Make the units of work that call this with ``key`` run one after the other until they
    end, so that each one's count (a quota's) sees the rows of every one before it: on
    PostgreSQL a transaction-scoped advisory lock; SQLite has one writer at a time already
    (call it after the unit of work's first write)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(func.pg_advisory_xact_lock(func.hashtext(key))))


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


class _SqliteWriters:
    """One write transaction of the process at a time: taken at a connection's first write
    statement, given back when the connection returns to the pool (after commit or rollback).

    A thread that already writes on another connection cannot get the lock; after
    ``_WRITER_WAIT`` it goes on and meets SQLite's busy timeout, as without this lock.
    """

    def __init__(self, engine: Engine) -> None:
        self._lock = threading.Lock()
        event.listen(engine, "before_cursor_execute", self._before_execute)
        event.listen(engine.pool, "checkin", self._checkin)
        event.listen(engine.pool, "invalidate", self._checkin)

    def _before_execute(
        self, conn: Any, _cursor: Any, statement: str, *_args: Any, **_kwargs: Any
    ) -> None:
        info = conn.connection.info
        if "writer" in info or not statement.lstrip()[:7].upper().startswith(_WRITES):
            return
        info["writer"] = self._lock.acquire(timeout=_WRITER_WAIT)

    @property
    def held(self) -> bool:
        """Whether a write transaction of this process is open."""
        return self._lock.locked()

    def _checkin(self, _dbapi_connection: Any, record: Any, *_args: Any) -> None:
        if record is not None and record.info.pop("writer", False):
            self._lock.release()


class Database:
    """A connection pool and a session factory for one database URL."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        if self.is_sqlite:
            path = url.removeprefix("sqlite:///")
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            self.engine: Engine = create_engine(
                url, connect_args={"check_same_thread": False, "timeout": 10}, pool_size=20
            )
            event.listen(self.engine, "connect", _sqlite_pragmas)
            self.writers: _SqliteWriters | None = _SqliteWriters(self.engine)
        else:
            self.engine = create_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True)
            self.writers = None
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def migrate(self) -> None:
        """Bring the schema to the newest revisions (idempotent); parallel branches all apply."""
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS_DIR))
        with self.migrating() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "heads")

    @contextmanager
    def migrating(self) -> Iterator[Connection]:
        """A transaction for migrations. On SQLite, foreign keys are off while it runs (the
        pragma can change only outside a transaction), as Alembic's batch mode needs: it copies
        a table and drops the old one, and that drop cascades — a copy of object_containers
        (0004_object_versions' downgrade) deleted every object. The keys are checked before the
        commit and turned on again after."""
        sqlite = self.engine.dialect.name == "sqlite"
        with self.engine.connect() as connection:
            if sqlite:
                connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
                connection.commit()
            try:
                with connection.begin():
                    yield connection
                    if sqlite:
                        broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
                        if broken:
                            raise RuntimeError(f"migration broke foreign keys: {broken[:5]}")
            finally:
                if sqlite:
                    connection.exec_driver_sql("PRAGMA foreign_keys=ON")
                    connection.commit()

    def on_commit(self, callback: Callable[[Session], None]) -> None:
        """Call ``callback`` after every committed unit of work (e.g. to drop cached reads)."""
        event.listen(self._sessions, "after_commit", callback)

    def on_session_event(self, name: str, callback: Callable[..., None]) -> None:
        """Call ``callback`` on the SQLAlchemy session event ``name`` of every unit of work
        (``after_flush``, ``do_orm_execute``: to see what a unit of work writes)."""
        event.listen(self._sessions, name, callback)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: committed when the block ends, rolled back if it raises."""
        session = self._sessions()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def dispose(self) -> None:
        self.engine.dispose()
