"""The way from an instance to the metadata service: 169.254.169.254:80 in the subnet's DHCP
namespace, the proxy there, the region's unix socket. A stand-in service on the socket echoes
what the proxy told it, so the test sees exactly what the gateway would be told, and an
instance trying to lie about itself, or to reach anything else on that path, gets nowhere."""

from __future__ import annotations

import base64
import http.server
import json
import socketserver
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from interstack.backends.contract import (
    METADATA_NETWORK_HEADER,
    METADATA_SOURCE_HEADER,
    FixedIp,
    NativeRef,
    NetworkSpec,
    PortSpec,
    SecurityGroupRule,
    SecurityGroupSpec,
    SubnetSpec,
    metadata_socket,
)
from interstack.backends.contract.network import RuleDirection
from interstack.backends.local import LocalBackend
from interstack.backends.local.network import metadata_proxy
from tests.backends.local.helpers import boot, runc_root, spec
from tests.support.local import exec_in
from tests.support.waiting import eventually

#: run inside the instance: one raw request to host:port, the answer (or the error) printed
RAW_CLIENT = r"""
import socket, sys
host, port, request = sys.argv[1], int(sys.argv[2]), sys.argv[3].encode().decode("unicode_escape")
try:
    with socket.create_connection((host, port), timeout=3) as conn:
        conn.sendall(request.encode())
        data = b""
        while chunk := conn.recv(65536):
            data += chunk
    print(data.decode(errors="replace"))
except OSError as exc:
    print(f"REFUSED {type(exc).__name__}")
"""


class _Echo(http.server.BaseHTTPRequestHandler):
    """Answers every request with the identity headers it carried, as JSON."""

    protocol_version = "HTTP/1.1"

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        seen = {
            "path": self.path,
            "method": self.command,
            "network": self.headers.get_all(METADATA_NETWORK_HEADER),
            "source": self.headers.get_all(METADATA_SOURCE_HEADER),
            "body": body,
        }
        payload = json.dumps(seen).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = _answer

    def log_message(self, *_args: Any) -> None:
        """Quiet."""


class _UnixHTTPServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


@pytest.fixture(scope="module")
def echo_service(local_backend: LocalBackend) -> Iterator[Path]:
    path = metadata_socket(local_backend)
    path.unlink(missing_ok=True)
    server = _UnixHTTPServer(str(path), _Echo)
    path.chmod(0o600)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield path
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def isolated_network(local_backend: LocalBackend, echo_service: Path) -> Iterator[dict[str, Any]]:
    """A network without a router, a subnet with DHCP, and two servers on it."""
    network = local_backend.network
    network_id = str(uuid.uuid4())
    net = network.create_network(NetworkSpec(network_id, "md", "p1"))
    subnet = network.create_subnet(
        SubnetSpec(str(uuid.uuid4()), net, "10.94.0.0/24", "10.94.0.1", dhcp=True)
    )
    group = network.create_security_group(
        SecurityGroupSpec(
            str(uuid.uuid4()), "default", "p1", (SecurityGroupRule(RuleDirection.EGRESS),)
        )
    )
    ports = [
        network.create_port(
            PortSpec(str(uuid.uuid4()), net, mac, (FixedIp(subnet, address),), (group,))
        )
        for mac, address in (("fa:16:3e:00:94:05", "10.94.0.5"), ("fa:16:3e:00:94:06", "10.94.0.6"))
    ]
    servers = [boot(local_backend, spec(f"md-{i}", ports=(port,))) for i, port in enumerate(ports)]
    yield {"network_id": network_id, "subnet": subnet, "servers": [s.ref for s in servers]}
    for server in servers:
        local_backend.compute.delete_server(server.ref)
    for port in ports:
        network.delete_port(port)
    network.delete_security_group(group)
    network.delete_subnet(subnet)
    network.delete_network(net)


def raw(backend: LocalBackend, server: NativeRef, host: str, port: int, request: str) -> str:
    script = base64.b64encode(RAW_CLIENT.encode()).decode()
    escaped = request.replace("\r", "\\r").replace("\n", "\\n")
    done = exec_in(
        runc_root(backend),
        server,
        f"echo {script} | base64 -d > /tmp/raw.py && python3 /tmp/raw.py {host} {port} '{escaped}'",
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def body_of(answer: str) -> dict[str, Any]:
    # the instance's output came through text mode: line ends are plain newlines here
    head, _, body = answer.replace("\r\n", "\n").partition("\n\n")
    assert head.startswith("HTTP/1.1 200"), answer
    found: dict[str, Any] = json.loads(body)
    return found


def test_each_instance_is_named_by_its_network_and_address(
    local_backend: LocalBackend, isolated_network: dict[str, Any]
) -> None:
    first, second = isolated_network["servers"]
    request = "GET /openstack/latest/meta_data.json HTTP/1.1\r\nHost: x\r\n\r\n"
    seen = eventually(
        lambda: raw(local_backend, first, "169.254.169.254", 80, request),
        lambda out: out.startswith("HTTP/1.1 200"),
        "the metadata proxy to answer",
    )
    assert body_of(seen) == {
        "path": "/openstack/latest/meta_data.json",
        "method": "GET",
        "network": [isolated_network["network_id"]],
        "source": ["10.94.0.5"],
        "body": "",
    }
    other = body_of(raw(local_backend, second, "169.254.169.254", 80, request))
    assert other["source"] == ["10.94.0.6"]


def test_an_instance_cannot_claim_another_identity(
    local_backend: LocalBackend, isolated_network: dict[str, Any]
) -> None:
    first = isolated_network["servers"][0]
    forged = (
        "POST /openstack/latest/password HTTP/1.1\r\nHost: x\r\n"
        f"{METADATA_SOURCE_HEADER}: 10.94.0.6\r\n"
        f"{METADATA_NETWORK_HEADER.lower()}: {uuid.uuid4()}\r\n"
        "Content-Length: 6\r\n\r\nsecret"
    )
    seen = body_of(raw(local_backend, first, "169.254.169.254", 80, forged))
    assert seen["source"] == ["10.94.0.5"]
    assert seen["network"] == [isolated_network["network_id"]]
    assert seen["body"] == "secret"


@pytest.mark.parametrize(
    ("request_text", "status"),
    [
        ("GET http://10.94.0.1:22/ HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        ("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 411),
        ("POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", 400),
        ("GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400),
        ("DELETE / HTTP/1.1\r\n\r\n", 405),
        ("POST / HTTP/1.1\r\nContent-Length: 999999\r\n\r\n", 413),
    ],
)
def test_requests_the_proxy_cannot_read_unambiguously_are_refused(
    local_backend: LocalBackend, isolated_network: dict[str, Any], request_text: str, status: int
) -> None:
    answer = raw(local_backend, isolated_network["servers"][0], "169.254.169.254", 80, request_text)
    assert answer.startswith(f"HTTP/1.1 {status} "), answer


def test_nothing_else_is_reachable_on_the_metadata_path(
    local_backend: LocalBackend, isolated_network: dict[str, Any]
) -> None:
    first = isolated_network["servers"][0]
    request = "GET / HTTP/1.1\r\n\r\n"
    for host, port in (
        ("169.254.169.254", 22),
        ("169.254.169.254", 8080),
        ("10.94.0.254", 80),  # the DHCP namespace's own address: only DNS and DHCP there
    ):
        assert raw(local_backend, first, host, port, request).startswith("REFUSED"), (host, port)


def test_the_proxy_header_names_match_the_contract() -> None:
    assert metadata_proxy.NETWORK_HEADER == METADATA_NETWORK_HEADER
    assert metadata_proxy.SOURCE_HEADER == METADATA_SOURCE_HEADER


def metadata_route(backend: LocalBackend, server: NativeRef) -> str:
    """The instance's route to the metadata service (empty: none)."""
    done = exec_in(runc_root(backend), server, "ip -4 route show 169.254.169.254")
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_the_metadata_route_follows_the_subnets_dhcp_server(
    local_backend: LocalBackend, isolated_network: dict[str, Any]
) -> None:
    """The subnet's DHCP server stops (DHCP off), then serves on another address (on again,
    its port given another one): each running instance's route to 169.254.169.254 goes with
    it at once, as a Neutron guest's at its next lease, and never leads to the old address,
    which an instance may get. (Their resolv.conf, written as they boot, follows at their next
    boot.)"""
    servers, subnet = isolated_network["servers"], isolated_network["subnet"]
    network = local_backend.network
    old = metadata_route(local_backend, servers[0]).split(" via ")[1].split()[0]
    request = "GET /openstack/latest/meta_data.json HTTP/1.1\r\nHost: x\r\n\r\n"
    try:
        network.set_subnet_dhcp(subnet, None)
        assert [metadata_route(local_backend, s) for s in servers] == ["", ""]
        network.set_subnet_dhcp(subnet, "10.94.0.200", "fa:16:3e:00:94:c8")
        for server in servers:
            assert " via 10.94.0.200 " in metadata_route(local_backend, server) + " "
        seen = eventually(
            lambda: raw(local_backend, servers[1], "169.254.169.254", 80, request),
            lambda out: out.startswith("HTTP/1.1 200"),
            "the moved metadata proxy to answer",
        )
        assert body_of(seen)["source"] == ["10.94.0.6"]
    finally:
        network.set_subnet_dhcp(subnet, old)
    assert f" via {old} " in metadata_route(local_backend, servers[0]) + " "
