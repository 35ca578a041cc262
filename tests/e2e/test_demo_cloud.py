"""The demo's job on a simulated cloud, and the client helpers it shares with the benchmarks
and the tests (interstack.client.networks), driven through openstacksdk like a user's script."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from interstack.client import networks as cloud
from tests.support.gateway import ServedGateway
from tests.support.scripts import script_module

SIM_WITH_EXTERNAL = {
    "regions": [
        {
            "name": "RegionOne",
            "backend": "sim",
            "settings": {
                "boot_delay_seconds": 0.2,
                "action_delay_seconds": 0.1,
                "external_network": {"name": "public", "cidr": "198.51.100.0/24"},
            },
        }
    ]
}


@pytest.fixture(scope="module")
def sim_cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedGateway]:
    data = tmp_path_factory.mktemp("demo") / "data"
    with ServedGateway(data, config=SIM_WITH_EXTERNAL) as served:
        yield served


@pytest.fixture
def conn(sim_cloud: ServedGateway) -> Iterator[Any]:
    connection = sim_cloud.connect("interstack")
    yield connection
    connection.close()


def test_a_routed_network_with_a_floating_ip_and_what_undoes_it(conn: Any) -> None:
    made: list[tuple[str, Callable[[], object]]] = []

    def undo(what: str, delete: Callable[[], object]) -> None:
        made.append((what, delete))

    public = cloud.external_network(conn)
    assert public is not None and public.name == "public"
    routed = cloud.routed_network(conn, "helper", "10.77.0.0/24", public, undo)
    assert (routed.network.name, routed.subnet.name, routed.router.name) == (
        "helper-net",
        "helper-subnet",
        "helper-router",
    )
    assert routed.router.external_gateway_info["network_id"] == public.id
    port = conn.network.create_port(network_id=routed.network.id)
    fip = cloud.floating_ip(conn, public, port.id, undo)
    shown = conn.network.get_ip(fip.id)
    assert (shown.port_id, shown.router_id) == (port.id, routed.router.id)
    assert [what.split()[0] for what, _ in made] == [
        "network",
        "subnet",
        "router",
        "interface",
        "floating",
    ]

    conn.network.delete_port(port)  # the floating IP stays, unassociated
    for _, delete in reversed(made):
        delete()
    assert conn.network.find_ip(fip.floating_ip_address) is None
    assert conn.network.find_router(routed.router.id) is None
    assert conn.network.find_network(routed.network.id) is None


def test_the_demo_runs_its_job_on_a_sim_cloud_and_leaves_nothing(conn: Any, tmp_path: Path) -> None:
    demo_cloud = script_module("demo_cloud")
    output = io.StringIO()
    console = Console(file=output, width=120)
    cleanup = demo_cloud.Cleanup(console)
    try:
        demo_cloud.run_on_sim(demo_cloud.CloudDemo(conn, console, cleanup, tmp_path))
    finally:
        failures = cleanup.run()
    assert failures == []
    said = output.getvalue()
    assert "network demo-net with subnet demo-subnet 10.50.0.0/24" in said
    assert "router demo-router" in said
    assert f"{demo_cloud.SERVER_NAME} has 10.50.0." in said
    assert [n.name for n in conn.network.networks() if n.name == "demo-net"] == []
    assert [s.name for s in conn.compute.servers() if s.name == demo_cloud.SERVER_NAME] == []
