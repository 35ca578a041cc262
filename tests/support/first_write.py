"""A competing request run just before a unit of work writes for the first time: before it
takes the store's lock. A check that unit of work makes before its first write (SQLite's
write lock, a row lock) misses what the competing request commits; one made after the lock
sees it. No timing: the request runs to its end while the unit of work waits."""

from __future__ import annotations

import concurrent.futures
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event

from interstack.store import Database


def _locks(statement: Any) -> bool:
    """A write, or a read that locks its rows (``SELECT … FOR UPDATE``: PostgreSQL's lock for
    a deletion, lock_for_deletion, takes no write)."""
    return bool(getattr(statement, "is_dml", False)) or (
        getattr(statement, "_for_update_arg", None) is not None
    )


@contextmanager
def before_first_write(db: Database, request: Callable[[], object]) -> Iterator[list[object]]:
    """Within, the first write (or row-locking) statement of a unit of work of this thread
    first runs ``request`` in another thread (once) to its end; the list holds what it
    answered or raised, once it ran."""
    caller = threading.get_ident()
    answered: list[object] = []
    writing: set[int] = set()  # the DBAPI connections that wrote in their transaction

    def before(conn: Any, statement: Any, *_args: Any) -> None:
        if answered or threading.get_ident() != caller or not _locks(statement):
            return
        dbapi = id(conn.connection.dbapi_connection)
        if dbapi in writing:  # not its first write
            return
        writing.add(dbapi)
        with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
            made = pool.submit(request)
            try:
                answered.append(made.result(timeout=60))
            except Exception as exc:  # what the request answered
                answered.append(exc)

    def ended(conn: Any) -> None:
        writing.discard(id(conn.connection.dbapi_connection))

    # before the statement is compiled and run: before the store's own listener on its
    # cursor, which takes the process's write lock
    event.listen(db.engine, "before_execute", before)
    event.listen(db.engine, "commit", ended)
    event.listen(db.engine, "rollback", ended)
    try:
        yield answered
    finally:
        event.remove(db.engine, "before_execute", before)
        event.remove(db.engine, "commit", ended)
        event.remove(db.engine, "rollback", ended)
