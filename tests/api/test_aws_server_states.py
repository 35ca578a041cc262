"""The gateway's own state machine on an ``aws`` region: a client sees a new server ``BUILD``
for as long as EC2 describes its instance ``pending``, then ``ACTIVE`` once EC2 says
``running`` — whatever the emulator itself does (moto runs an instance at once: a proxy in
front of it answers ``DescribeInstances`` as EC2 does while an instance starts).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from tests.support.identity import unique
from tests.support.moto import (
    AWS,
    aws_gateway,
    aws_sdk,
    aws_settings,
    ec2,
    moto_endpoint,
    register_ami,
)

RUNNING = re.compile(
    rb"<instanceState>\s*<code>16</code>\s*<name>running</name>\s*</instanceState>"
)
PENDING = b"<instanceState><code>0</code><name>pending</name></instanceState>"
#: hop-by-hop and length headers, made anew for the proxied answer
_NOT_PASSED = {"host", "content-length", "transfer-encoding", "connection"}


class StartingEc2:
    """The emulator behind a proxy on loopback that, while :attr:`starting`, describes every
    running instance as ``pending`` (as EC2 does for the tens of seconds an instance starts)."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.starting = True
        #: the DescribeInstances answers given with an instance still pending
        self.pending_answers = 0
        self._server = make_server("127.0.0.1", 0, self._app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> StartingEc2:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._server.shutdown()
        self._thread.join()

    def _app(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        request = Request(environ)
        body = request.get_data()
        query = environ.get("QUERY_STRING", "")
        answer = httpx.request(
            request.method,
            f"{self.upstream}{request.path}" + (f"?{query}" if query else ""),
            content=body,
            headers={k: v for k, v in request.headers.items() if k.lower() not in _NOT_PASSED},
            timeout=60,
        )
        content = answer.content
        if self.starting and b"Action=DescribeInstances" in body:
            content, changed = RUNNING.subn(PENDING, content)
            self.pending_answers += 1 if changed else 0
        headers = [(k, v) for k, v in answer.headers.items() if k.lower() not in _NOT_PASSED]
        response = Response(content, status=answer.status_code, headers=headers)
        return response(environ, start_response)


def instance_state(server_id: str) -> str:
    """The state the emulator itself holds for the server's instance."""
    reply = ec2().describe_instances(Filters=[{"Name": "tag:openstack_id", "Values": [server_id]}])
    (instance,) = [i for r in reply["Reservations"] for i in r["Instances"]]
    return str(instance["State"]["Name"])


def test_a_client_sees_build_while_ec2_says_pending_then_active(tmp_path: Path) -> None:
    settings = aws_settings()  # resets the emulator
    register_ami("states-image")
    with StartingEc2(moto_endpoint()) as starting:
        settings["endpoint_url"] = starting.url
        with aws_gateway(tmp_path / "data", AWS, settings) as gateway, aws_sdk(gateway) as sdk:
            image = next(i for i in sdk.image.images() if i.name == "states-image")
            created = sdk.compute.create_server(
                name=unique("states"), flavor_id="t3.micro", image_id=image.id, networks="none"
            )
            for _look in range(3):
                shown = sdk.compute.get_server(created.id)
                assert (shown.status, shown.vm_state) == ("BUILD", "building")
                assert shown.launched_at is None
            assert instance_state(created.id) == "running"  # the emulator jumped
            assert starting.pending_answers > 0  # the gateway asked EC2, and was told pending

            starting.starting = False  # EC2 says running
            active = sdk.compute.wait_for_server(created, status="ACTIVE", wait=120, interval=0.2)
            assert (active.vm_state, active.power_state) == ("active", 1)
            assert active.launched_at is not None
            sdk.compute.delete_server(active)
            sdk.compute.wait_for_delete(active, wait=60, interval=0.2)
        assert instance_state(created.id) == "terminated"
