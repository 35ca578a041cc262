"""Two changes of one security group realized at once, in the order that lost a rule: the
second request runs while the first request's rules are being given to the backend.

The first request's backend call lets the second request run, in a thread, until it is done
or waits for the first one's realization (it logs that at debug; a replica's, on PostgreSQL, is
seen waiting for a lock in pg_stat_activity), and only then goes on. So
the second request's rules reach the backend first if nothing makes it wait (the first then
gives its older set last), and after the first's otherwise; no timing decides the order."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import text

from interstack.backends.contract import NativeRef, SecurityGroupSpec
from interstack.services import turns
from interstack.services.network.sg_rules import RuleCreate
from interstack.store import Database
from interstack.store.models import SecurityGroup

#: the bound on the wait for the second request (a hang made a failure, not a timing check)
BOUND = 120.0


class _WaitingFor(logging.Handler):
    """Sets ``event`` when a realization of ``group_id`` logs that it waits for its turn."""

    def __init__(self, event: threading.Event, group_id: str) -> None:
        super().__init__(logging.DEBUG)
        self.event = event
        self.group_id = group_id

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if message == f"security group {self.group_id}: waiting for its turn":
            self.event.set()


def ingress_tcp(group_id: str, port: int) -> RuleCreate:
    """A rule letting TCP in on ``port``."""
    return RuleCreate(group_id, "ingress", protocol="tcp", port_range_min=port, port_range_max=port)


def lock_waited(db: Database) -> Callable[[], bool]:
    """Whether a session of ``db`` (PostgreSQL) waits for a lock now."""
    waiting = text(
        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
        " AND datname = current_database()"
    )

    def waited() -> bool:
        with db.engine.connect() as watcher:
            return bool(watcher.execute(waiting).scalar())

    return waited


@contextmanager
def second_request_during_first_backend_call(
    network: Any,
    monkeypatch: pytest.MonkeyPatch,
    group_id: str,
    second: Callable[[], object],
    waits: Callable[[], bool] = lambda: False,
    call: str = "set_security_group_rules",
) -> Iterator[None]:
    """Within the block, the first ``call`` of ``network`` (by default the one giving a group
    its rules; ``create_security_group``: the one making it) runs ``second`` (the other
    request) as above, ``waits`` also telling that it waits; at the block's end the other
    request is done, and what it raised is raised."""
    backend_call = getattr(network, call)
    at_rest = threading.Event()
    threads: list[threading.Thread] = []
    raised: list[BaseException] = []

    def other_request() -> None:
        try:
            second()
        except BaseException as exc:
            raised.append(exc)
        finally:
            at_rest.set()

    def the_other_request_meanwhile(*args: Any) -> Any:
        if not threads:  # the first request's call
            threads.append(threading.Thread(target=other_request, name="second-request"))
            threads[0].start()
            deadline = time.monotonic() + BOUND
            while not at_rest.wait(0.02) and not waits():
                assert time.monotonic() < deadline, "the second request neither ended nor waited"
        return backend_call(*args)

    logger = logging.getLogger(turns.__name__)  # KeyedTurns logs a wait for a turn
    handler = _WaitingFor(at_rest, group_id)
    level = logger.level
    logger.setLevel(logging.DEBUG)
    logger.addHandler(handler)
    monkeypatch.setattr(network, call, the_other_request_meanwhile)
    try:
        yield
    finally:
        for thread in threads:
            thread.join(BOUND)
        logger.removeHandler(handler)
        logger.setLevel(level)
    assert threads, f"the first request made no {call}"
    assert not threads[0].is_alive(), "the second request did not end"
    if raised:
        raise raised[0]


def unmade_with_creates_counted(
    db: Database, network: Any, monkeypatch: pytest.MonkeyPatch, group_id: str
) -> list[str]:
    """The group as after a first realization that failed (the backend lacks it, the store
    records no ref), and the gateway ids of the groups ``network`` makes from now on."""
    with db.session() as session:
        row = session.get(SecurityGroup, group_id)
        assert row is not None and row.native_ref is not None
        made, row.native_ref = NativeRef(row.native_ref), None
    network.delete_security_group(made)
    creates: list[str] = []
    create = network.create_security_group

    def counted(spec: SecurityGroupSpec) -> NativeRef:
        creates.append(spec.gateway_id)
        return NativeRef(create(spec))

    monkeypatch.setattr(network, "create_security_group", counted)
    return creates
