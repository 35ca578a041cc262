"""A gateway whose cloud hangs or raises what the gateway does not map at start-up still
starts and serves: start-up only queues the network work (a subnet's DHCP port made before
the gateway gave each network one, a port's deletion cut short) and the task runner does it,
finishing it once the cloud answers. Before, the DHCP backfill ran inline at start-up: a cloud
that hung never let the gateway serve, one that raised unmapped stopped it. Through
openstacksdk against a served sim gateway whose network the test makes hang or break."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select, update

from interstack.services.network import dhcp_ports as dhcp_records
from interstack.services.network.deletion_sweep import PORT
from interstack.services.tasks import TaskStatus
from interstack.store.models import Port
from interstack.store.models import Task as TaskRow
from tests.support.cloud_gate import GatedGateway
from tests.support.gateway import ServedGateway
from tests.support.identity import unique
from tests.support.network import dhcp_ports
from tests.support.waiting import eventually


def _task_status(gateway: ServedGateway, kind: str, resource_id: str) -> str | None:
    with gateway.store() as database, database.session() as session:
        return session.scalars(
            select(TaskRow.status)
            .where(TaskRow.kind == kind, TaskRow.resource_id == resource_id)
            .order_by(TaskRow.created_at.desc())
        ).first()


def test_a_cloud_hanging_or_broken_at_start_up_leaves_requests_served_and_work_finished(
    tmp_path: Path,
) -> None:
    gate = tmp_path / "gate"
    with GatedGateway(tmp_path / "data", gate) as gateway:
        conn = gateway.connect("interstack")
        net = conn.network.create_network(name=unique("gated"))
        subnet = conn.network.create_subnet(network_id=net.id, cidr="10.82.0.0/24", ip_version=4)
        (dhcp,) = dhcp_ports(conn, net.id)
        serving = dhcp.fixed_ips[0]["ip_address"]
        going = conn.network.create_port(network_id=net.id)
        gateway.stop()
        # as an older gateway left it: the subnet's DHCP server holds no port; and a port's
        # deletion cut short
        with gateway.store() as database, database.session() as session:
            dhcp_records.remove_of_subnet(session, subnet.id)
            session.execute(update(Port).where(Port.id == going.id).values(deleting=True))
        (gate / "hang").touch()
        (gate / "broken").touch()

        gateway.start()  # before: never served, start-up waiting on the hanging cloud

        conn = gateway.connect("interstack")
        assert conn.network.get_subnet(subnet.id).id == subnet.id
        made = conn.network.create_port(network_id=net.id)
        eventually(
            lambda: _task_status(gateway, PORT, going.id),
            lambda status: status == TaskStatus.FAILED,
            "the port's task failed on the broken cloud",
        )
        assert conn.network.get_port(going.id).id == going.id  # still marked: shown
        assert dhcp_ports(conn, net.id) == []  # the cloud hangs: not given yet

        (gate / "hang").unlink()  # the cloud answers: the subnet's server gets its port
        (given,) = eventually(
            lambda: dhcp_ports(conn, net.id), lambda found: len(found) == 1, "the DHCP port"
        )
        address = given.fixed_ips[0]["ip_address"]
        # where the server was, unless the port made meanwhile took that address (the task
        # then moved the server): never one address twice
        assert address == serving or made.fixed_ips[0]["ip_address"] == serving
        assert address != made.fixed_ips[0]["ip_address"]

        (gate / "broken").unlink()
        gateway.restart()  # the next start queues the port's deletion again
        conn = gateway.connect("interstack")
        eventually(
            lambda: conn.network.find_port(going.id), lambda port: port is None, "the port gone"
        )
        conn.network.delete_port(made)
        conn.network.delete_network(net)
