"""Nova's quota under concurrent server creates holds on PostgreSQL too, where writers do not
queue as on SQLite: the servers of creates that come at once never pass a project's quota."""

from __future__ import annotations

import concurrent.futures
import threading
import time
import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from interstack.errors import QuotaExceeded
from interstack.services.compute.quotas import QuotaService
from interstack.store import Database
from interstack.store.models import QuotaLimit, Server
from tests.api.servers.conftest import IMAGE, create_at_once, nova, upload_image
from tests.support.gateway import ServedGateway
from tests.support.identity import client, new_member


def test_concurrent_server_creates_keep_the_instances_quota(pg_gateway: ServedGateway) -> None:
    with client(pg_gateway, pg_gateway.token("interstack-admin")) as admin:
        upload_image(pg_gateway, admin, IMAGE, "cirros-pg")
        member = new_member(admin)
    with nova(pg_gateway, pg_gateway.token("interstack-admin")) as admin_api:
        quota = {"quota_set": {"instances": 3}}
        put = admin_api.put(f"/os-quota-sets/{member.project_id}", json=quota)
        assert put.status_code == 200, put.text
    with nova(pg_gateway, member.token(pg_gateway)) as api:
        responses = create_at_once(api, 10)
        codes = sorted(r.status_code for r in responses)
        assert codes == [202] * 3 + [403] * 7, [r.text for r in responses]
        assert len(api.get("/servers").json()["servers"]) == 3


def _server(project_id: str) -> Server:
    now = datetime.now(UTC)
    return Server(
        id=uuid.uuid4().hex,
        region="r",
        project_id=project_id,
        user_id="u",
        name="at-once",
        flavor_id="1",
        flavor={"vcpus": 1, "ram": 512},
        vm_state="building",
        availability_zone="nova",
        reservation_id="r-1",
        created_at=now,
        updated_at=now,
    )


def _waits_for_a_lock(database: Database, application_name: str) -> bool:
    query = text(
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE application_name = :name AND wait_event_type = 'Lock'"
    )
    with database.session() as session:
        return bool(session.scalar(query, {"name": application_name}))


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_create_counts_only_after_a_concurrent_one_has_committed(db: Database) -> None:
    """The race of the test above, made to happen every time: the first create has added its
    server and counted (1 of a quota of 1) and not committed yet; the second one's count must
    wait for that commit and then see the first's server. Without the turn per project it
    would count at once, see only its own server and pass (two of a quota of one)."""
    quotas = QuotaService(db)
    project = uuid.uuid4().hex
    with db.session() as session:
        session.add(QuotaLimit(project_id=project, resource="instances", hard_limit=1))
    second_name = f"second-{project[:8]}"
    outcome: concurrent.futures.Future[None] = concurrent.futures.Future()

    def second() -> None:
        try:
            with db.session() as session:
                set_name = text("SELECT set_config('application_name', :name, true)")
                session.execute(set_name, {"name": second_name})
                session.add(_server(project))
                session.flush()
                quotas.check_servers(session, project, 1, 1, 512, added=True)
        except BaseException as error:
            outcome.set_exception(error)
        else:
            outcome.set_result(None)

    with db.session() as first:
        first.add(_server(project))
        first.flush()
        quotas.check_servers(first, project, 1, 1, 512, added=True)
        worker = threading.Thread(target=second)
        worker.start()
        deadline = time.monotonic() + 60  # a bound on the wait, not a figure under test
        while not outcome.done() and not _waits_for_a_lock(db, second_name):
            assert time.monotonic() < deadline, "the second create neither ended nor waited"
            time.sleep(0.05)
        assert not outcome.done(), f"the second create counted without waiting: {outcome}"
    worker.join()
    with pytest.raises(QuotaExceeded, match="instances"):
        outcome.result()
    with db.session() as session:
        assert quotas.usage(project, session)["instances"] == 1
