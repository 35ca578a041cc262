"""After a restart the gateway compares its servers with the backend's (Nova's power-state
sync): a server stopped behind its back shows SHUTOFF, one whose instance vanished shows ERROR
with a fault, and a backend server the store does not know is logged, not deleted.

The sim backend keeps its servers in the store's ``sim_resources`` table, so the test changes
them there while the gateway is down, as a host reboot or a lost instance would.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import inspect, select

from interstack.store.models import SimResource
from tests.api.servers.conftest import FAST_SIM, IMAGE, upload_image
from tests.support.compute import server_active
from tests.support.gateway import ServedGateway
from tests.support.identity import client, unique


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[ServedGateway]:
    with ServedGateway(tmp_path / "data", config=FAST_SIM) as served:
        with client(served, served.token("interstack-admin")) as admin:
            upload_image(served, admin, IMAGE, "cirros-sim")
        yield served


def boot(conn: Any) -> Any:
    created = conn.compute.create_server(
        name=unique("sync"), flavor_id="1", image_id=IMAGE, networks="none"
    )
    return server_active(conn, created)


def behind_the_gateways_back(gateway: ServedGateway, server_id: str) -> Iterator[SimResource]:
    """The sim's row of the server, changed and committed once the caller is done with it."""
    with gateway.store() as db, db.session() as session:
        row = session.scalars(
            select(SimResource).where(
                SimResource.kind == "server", SimResource.gateway_id == server_id
            )
        ).one()
        yield row


def test_a_restart_shows_what_the_backend_did_while_the_gateway_was_down(
    gateway: ServedGateway,
) -> None:
    conn = gateway.connect("interstack")
    died, lost, fine = boot(conn), boot(conn), boot(conn)
    assert gateway.stop() == 0

    for row in behind_the_gateways_back(gateway, died.id):
        row.status, row.pending_status = "stopped", None  # the instance died
    stray, stray_ref = f"stray-{uuid.uuid4()}", f"sim-server-{uuid.uuid4().hex}"
    for row in behind_the_gateways_back(gateway, lost.id):
        session = inspect(row).session
        assert session is not None
        session.delete(row)  # the instance vanished
        # and a server tagged as the gateway's that its store never had
        fields = {c.key: getattr(row, c.key) for c in inspect(SimResource).column_attrs}
        session.add(SimResource(**{**fields, "ref": stray_ref, "gateway_id": stray}))
    gateway.start()

    conn = gateway.connect("interstack")
    stopped = conn.compute.get_server(died.id)
    assert (stopped.status, stopped.vm_state, stopped.power_state) == ("SHUTOFF", "stopped", 4)
    errored = conn.compute.get_server(lost.id)
    assert errored.status == "ERROR"
    assert "lost" in errored.fault["message"]
    assert errored.fault["code"] == 500
    assert conn.compute.get_server(fine.id).status == "ACTIVE"
    log = gateway.log()
    assert stray in log and stray_ref in log and "interstack cleanup" in log

    # the store and the backend agree again: the stopped server starts, the lost one deletes,
    # and the orphan is still there for `interstack cleanup`
    conn.compute.start_server(stopped)
    assert server_active(conn, stopped)
    conn.compute.delete_server(errored)
    conn.compute.wait_for_delete(errored, wait=60, interval=0.2)
    assert gateway.stop() == 0
    assert list(behind_the_gateways_back(gateway, stray))
    gateway.start()
    assert httpx.get(f"{gateway.url}/v3").status_code == 200
