"""The aws overhead benchmark's third side: the REST requests openstacksdk sends for the
sequence, sent by a thin HTTP client instead (httpx, one kept-alive connection, the token and
endpoints fetched once, untimed). What openstacksdk itself costs (building its resources,
microversion handling, its logging) is then out of the figure, and what remains is the
gateway's time plus the bare cost of sending a request and decoding its JSON.

It asks for the base microversion (none sent) where openstacksdk negotiates the newest; the
request bodies hold the same fields openstacksdk sends."""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Any

import httpx
import yaml
from aws_steps import PUBLIC_KEY, Meters, Timings, timed, waiting

from support import password_auth_body


class ThinClient:
    """A project-scoped token and the region's compute and network endpoints, and
    :meth:`call`, which counts each request and its time in ``Meters.http``."""

    def __init__(self, clouds_yaml: Path, region: str) -> None:
        auth = yaml.safe_load(clouds_yaml.read_text())["clouds"]["interstack"]["auth"]
        self.http = httpx.Client(timeout=120)
        issued = self.http.post(
            f"{auth['auth_url'].rstrip('/')}/auth/tokens", json=password_auth_body(auth)
        )
        issued.raise_for_status()
        self.http.headers["X-Auth-Token"] = issued.headers["X-Subject-Token"]
        urls = {
            service["type"]: endpoint["url"]
            for service in issued.json()["token"]["catalog"]
            for endpoint in service["endpoints"]
            if endpoint["region_id"] == region and endpoint["interface"] == "public"
        }
        self.compute = urls["compute"].rstrip("/")
        self.network = f"{urls['network'].rstrip('/')}/v2.0"

    def call(self, method: str, url: str, body: dict[str, Any] | None = None) -> Any:
        """One request, its JSON answer (``None`` without a body); a 404 raises
        :class:`LookupError`, any other error status :class:`httpx.HTTPStatusError`."""
        start = time.perf_counter()
        response = self.http.request(method, url, json=body)
        Meters.http.add(time.perf_counter() - start)
        if response.status_code == 404:
            raise LookupError(url)
        response.raise_for_status()
        return response.json() if response.content else None

    def bare_request(self, times: int = 15) -> float:
        """The median seconds of a request the gateway answers without work of its own (one
        of Neutron's extensions: the HTTP, routing, token check and JSON every request pays,
        no store, no thread hop, no EC2), not counted in ``Meters.http``."""
        url = f"{self.network}/extensions/security-group"
        seconds = []
        for _ in range(times):
            start = time.perf_counter()
            self.http.get(url).raise_for_status()
            seconds.append(time.perf_counter() - start)
        return statistics.median(seconds)

    def close(self) -> None:
        self.http.close()


def _server_status(thin: ThinClient, server: str) -> str:
    status: str = thin.call("GET", f"{thin.compute}/servers/{server}")["server"]["status"]
    if status == "ERROR":
        raise RuntimeError(f"server {server} went to ERROR")
    return status


def _wait_active(thin: ThinClient, server: str) -> None:
    while _server_status(thin, server) != "ACTIVE":
        time.sleep(Meters.poll)


def _wait_gone(thin: ThinClient, server: str) -> None:
    try:
        while True:
            _server_status(thin, server)
            time.sleep(Meters.poll)
    except LookupError:
        return


def thin_round(thin: ThinClient, image_id: str, n: int) -> Timings:
    """The sequence of :func:`aws_rounds.gateway_round` as the same requests, looking at the
    server every ``Meters.poll`` seconds while waiting, as openstacksdk does there."""
    timings: Timings = {}
    compute, network = thin.compute, thin.network
    net = timed(
        timings,
        "network",
        lambda: thin.call("POST", f"{network}/networks", {"network": {"name": f"bench-{n}"}}),
    )["network"]["id"]
    subnet_body = {"subnet": {"network_id": net, "cidr": f"10.{n}.0.0/24", "ip_version": 4}}
    subnet = timed(timings, "subnet", lambda: thin.call("POST", f"{network}/subnets", subnet_body))[
        "subnet"
    ]["id"]
    group = timed(
        timings,
        "security group",
        lambda: thin.call(
            "POST", f"{network}/security-groups", {"security_group": {"name": f"bench-{n}"}}
        ),
    )["security_group"]

    def rules() -> None:
        for port in (22, 443):
            rule = {
                "security_group_id": group["id"],
                "direction": "ingress",
                "protocol": "tcp",
                "port_range_min": port,
                "port_range_max": port,
                "remote_ip_prefix": "0.0.0.0/0",
            }
            thin.call("POST", f"{network}/security-group-rules", {"security_group_rule": rule})

    timed(timings, "2 rules", rules)
    keypair = {"keypair": {"name": f"bench-{n}", "public_key": PUBLIC_KEY}}
    timed(timings, "key pair", lambda: thin.call("POST", f"{compute}/os-keypairs", keypair))

    def boot() -> str:
        body = {
            "server": {
                "name": f"bench-{n}",
                "flavorRef": "t3.nano",  # the instance type the direct round runs
                "imageRef": image_id,
                "networks": [{"uuid": net}],
                "key_name": f"bench-{n}",
                "security_groups": [{"name": group["name"]}],
            }
        }
        server: str = thin.call("POST", f"{compute}/servers", body)["server"]["id"]
        waiting(timings, lambda: _wait_active(thin, server))
        return server

    server = timed(timings, "server to ACTIVE", boot)
    timed(timings, "list servers", lambda: thin.call("GET", f"{compute}/servers/detail"))

    def delete_server() -> None:
        thin.call("DELETE", f"{compute}/servers/{server}")
        waiting(timings, lambda: _wait_gone(thin, server))

    timed(timings, "server deleted", delete_server)
    timed(
        timings,
        "key pair delete",
        lambda: thin.call("DELETE", f"{compute}/os-keypairs/bench-{n}"),
    )
    timed(
        timings,
        "group delete",
        lambda: thin.call("DELETE", f"{network}/security-groups/{group['id']}"),
    )
    timed(timings, "subnet delete", lambda: thin.call("DELETE", f"{network}/subnets/{subnet}"))
    timed(timings, "network delete", lambda: thin.call("DELETE", f"{network}/networks/{net}"))
    return timings
