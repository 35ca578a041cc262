"""Nova's quota under concurrent server creates holds on PostgreSQL too, where writers do not
queue as on SQLite: the servers of creates that come at once never pass a project's quota."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.api.servers.conftest import IMAGE, create_at_once, nova, upload_image
from tests.support.gateway import ServedGateway
from tests.support.identity import client, new_member


@pytest.fixture
def pg_gateway(tmp_path: Path, postgres_url: str) -> Iterator[ServedGateway]:
    served = ServedGateway(tmp_path / "data", config={"database": postgres_url}).start()
    yield served
    served.stop()


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
