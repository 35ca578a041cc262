"""Changes to a running server through the backend contract, on every backend that declares
them: a port plugged in and out (``interface_attach``), the guest's password
(``set_admin_password``)."""

from __future__ import annotations

import pytest

from interstack.backends.contract import (
    Backend,
    FixedIp,
    NativeRef,
    NetworkSpec,
    PortSpec,
    PowerAction,
    ServerInfo,
    ServerSpec,
    ServerStatus,
    SubnetSpec,
)
from interstack.errors import Conflict
from tests.conformance.conftest import Cleanup
from tests.support.contract import gid, server_settled, sized
from tests.support.waiting import eventually


def boot(backend: Backend, ports: tuple[NativeRef, ...] = ()) -> ServerInfo:
    spec = ServerSpec(gid(), "changes", "p1", sized(backend), ports=ports)
    return server_settled(backend, backend.compute.create_server(spec).ref, ServerStatus.ACTIVE)


@pytest.mark.requires("compute", "networks", "interface_attach")
def test_a_port_is_plugged_into_a_running_server_and_out_again(
    backend: Backend, cleanup: Cleanup
) -> None:
    net = backend.network
    network = net.create_network(NetworkSpec(gateway_id=gid(), name="n", project_id="p1"))
    cleanup.add(net.delete_network, network)
    subnet = net.create_subnet(SubnetSpec(gid(), network, "10.61.0.0/24", "10.61.0.1", dhcp=False))
    cleanup.add(net.delete_subnet, subnet)
    ports = [
        net.create_port(
            PortSpec(gid(), network, f"fa:16:3e:61:00:{i:02x}", (FixedIp(subnet, f"10.61.0.{i}"),))
        )
        for i in (10, 11)
    ]
    for port in ports:
        cleanup.add(net.delete_port, port)
    server = boot(backend, ports=(ports[0],))

    backend.compute.attach_port(server.ref, ports[1])
    backend.compute.attach_port(server.ref, ports[1])  # attached already: a no-op
    assert backend.compute.get_server(server.ref).status is ServerStatus.ACTIVE
    backend.compute.detach_port(server.ref, ports[1])
    backend.compute.detach_port(server.ref, ports[1])  # detached already: a no-op
    net.delete_port(ports[1])  # nothing holds it any more

    backend.compute.delete_server(server.ref)
    eventually(
        lambda: server.ref in {s.ref for s in backend.compute.list_servers()},
        lambda present: not present,
        "the server to disappear",
    )
    net.delete_port(ports[0])
    net.delete_subnet(subnet)
    net.delete_network(network)


@pytest.mark.requires("compute", "set_admin_password")
def test_a_password_is_taken_while_the_server_runs_only(backend: Backend) -> None:
    server = boot(backend)
    backend.compute.set_admin_password(server.ref, "Conformance-1")
    backend.compute.power_action(server.ref, PowerAction.STOP)
    server_settled(backend, server.ref, ServerStatus.STOPPED)
    with pytest.raises(Conflict):
        backend.compute.set_admin_password(server.ref, "Conformance-2")
    backend.compute.delete_server(server.ref)
