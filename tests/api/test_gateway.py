"""How the served gateway behaves as a process and an HTTP server, whatever the service.

Request ids, fault bodies, limits, secrets, restarts, key rotation, signals and bad configs, all
against a real ``interstack serve`` through httpx, the ``openstack`` CLI and openstacksdk.
"""

from __future__ import annotations

import http.server
import signal
import stat
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from cryptography.fernet import Fernet, InvalidToken

from interstack.client.served import BIN_DIR
from tests.support.gateway import ServedGateway

PASSWORD_BODY = {
    "auth": {
        "identity": {
            "methods": ["password"],
            "password": {
                "user": {"name": "demo", "domain": {"id": "default"}, "password": "wrong"}
            },
        }
    }
}


@pytest.fixture
def client(gateway: ServedGateway) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=gateway.url, timeout=30) as http:
        yield http


def assert_keystone_fault(response: httpx.Response, code: int) -> dict[str, Any]:
    assert response.status_code == code, response.text
    assert response.headers["content-type"].startswith("application/json")
    error: dict[str, Any] = response.json()["error"]
    assert error["code"] == code
    assert isinstance(error["title"], str) and error["title"]
    assert isinstance(error["message"], str) and error["message"]
    assert "Traceback" not in response.text
    return error


def assert_request_id(response: httpx.Response) -> None:
    request_id = response.headers.get("x-openstack-request-id", "")
    assert request_id.startswith("req-"), dict(response.headers)


def valid(gateway: ServedGateway, admin: str, subject: str) -> bool:
    headers = {"X-Auth-Token": admin, "X-Subject-Token": subject}
    response = httpx.get(f"{gateway.url}/v3/auth/tokens", headers=headers, timeout=30)
    assert response.status_code in (200, 404), response.text
    return response.status_code == 200


# --- every response ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("GET", "/", None, 300),
        ("GET", "/v3", None, 200),
        ("GET", "/no/such/path", None, 404),
        ("GET", "/v3/no-such-collection", None, 404),
        ("POST", "/v3/auth/tokens", b"{not json", 400),
        ("POST", "/v3/auth/tokens", b'{"auth": {"identity": 1}}', 400),
        ("GET", "/v3/auth/catalog", None, 401),
        ("GET", "/v3/auth/tokens", None, 401),
        ("PATCH", "/v3/auth/tokens", b"{}", 405),
    ],
)
def test_every_response_has_a_request_id_and_no_trace(
    client: httpx.Client, method: str, path: str, body: bytes | None, status: int
) -> None:
    response = client.request(
        method, path, content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == status, response.text
    assert_request_id(response)
    assert "Traceback" not in response.text
    if status >= 400:
        assert_keystone_fault(response, status)


def test_request_ids_are_unique(client: httpx.Client) -> None:
    ids = {client.get("/v3").headers["x-openstack-request-id"] for _ in range(5)}
    assert len(ids) == 5


def test_malformed_json_is_a_keystone_400(client: httpx.Client) -> None:
    response = client.post(
        "/v3/auth/tokens", content=b'{"auth": ', headers={"Content-Type": "application/json"}
    )
    error = assert_keystone_fault(response, 400)
    assert error["title"] == "Bad Request"
    assert "JSON" in error["message"]
    assert_request_id(response)


def test_empty_body_is_a_keystone_400(client: httpx.Client) -> None:
    response = client.post("/v3/auth/tokens", content=b"")
    assert_keystone_fault(response, 400)


def test_unknown_path_is_a_keystone_404(client: httpx.Client) -> None:
    response = client.get("/v3/does-not-exist/at/all")
    error = assert_keystone_fault(response, 404)
    assert error["title"] == "Not Found"
    assert_request_id(response)


def test_body_over_the_limit_is_413(gateway: ServedGateway, client: httpx.Client) -> None:
    limit = 114_688  # Settings.max_request_body_bytes default
    big = b'{"auth": "' + b"x" * limit + b'"}'
    response = client.post(
        "/v3/auth/tokens", content=big, headers={"Content-Type": "application/json"}
    )
    assert_keystone_fault(response, 413)
    assert_request_id(response)

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit holds while streaming
        yield b'{"auth": "'
        for _ in range(limit // 8192 + 2):
            yield b"x" * 8192
        yield b'"}'

    streamed = client.post(
        "/v3/auth/tokens", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert_keystone_fault(streamed, 413)
    # the server is still fine afterwards
    assert client.get("/v3").status_code == 200


def test_body_just_under_the_limit_is_parsed(client: httpx.Client) -> None:
    body = b'{"padding": "' + b"x" * 100_000 + b'"}'
    response = client.post(
        "/v3/auth/tokens", content=body, headers={"Content-Type": "application/json"}
    )
    assert_keystone_fault(response, 400)  # parsed, then rejected as invalid: not 413


def test_missing_token_on_the_catalog_is_401_with_a_challenge(
    gateway: ServedGateway, client: httpx.Client
) -> None:
    response = client.get("/v3/auth/catalog")
    error = assert_keystone_fault(response, 401)
    assert error["title"] == "Unauthorized"
    assert response.headers["WWW-Authenticate"] == f'Keystone uri="{gateway.url}"'


def test_a_garbage_token_is_401_not_500(client: httpx.Client) -> None:
    response = client.get("/v3/auth/catalog", headers={"X-Auth-Token": "gAAAA-not-a-token"})
    assert_keystone_fault(response, 401)


# --- secrets -------------------------------------------------------------------------------


def test_clouds_yaml_is_private_and_passwords_stay_out_of_the_log(
    gateway: ServedGateway, client: httpx.Client
) -> None:
    mode = stat.S_IMODE(gateway.clouds_yaml.stat().st_mode)
    assert mode == 0o600, oct(mode)
    clouds = yaml.safe_load(gateway.clouds_yaml.read_text())["clouds"]
    assert set(clouds) >= {"interstack-admin", "interstack"}
    # exercise the log: good and bad logins, through the CLI and plain HTTP
    gateway.cli("interstack-admin", "token", "issue", "-f", "value", "-c", "id")
    client.post("/v3/auth/tokens", json=PASSWORD_BODY)
    log = gateway.log()
    assert "serving on" in log
    for cloud in ("interstack-admin", "interstack"):
        password = gateway.password(cloud)
        assert len(password) >= 16
        assert password not in log
        assert password not in client.get("/v3").text


# --- restarts, rotation, signals -----------------------------------------------------------


def test_a_restart_keeps_tokens_accounts_and_passwords(fresh_gateway: ServedGateway) -> None:
    fresh_gateway.start()
    admin = fresh_gateway.token("interstack-admin")
    subject = fresh_gateway.token("interstack")
    demo = fresh_gateway.connect("interstack")
    user_id, project_id = demo.current_user_id, demo.current_project_id
    clouds_before = yaml.safe_load(fresh_gateway.clouds_yaml.read_text())

    assert fresh_gateway.stop() == 0
    fresh_gateway.start()

    assert valid(fresh_gateway, admin, subject)
    assert yaml.safe_load(fresh_gateway.clouds_yaml.read_text()) == clouds_before
    again = fresh_gateway.connect("interstack")
    assert (again.current_user_id, again.current_project_id) == (user_id, project_id)
    issued = fresh_gateway.cli("interstack", "token", "issue", "-f", "json")
    assert project_id in issued.stdout and user_id in issued.stdout


def rotate_keys(gateway: ServedGateway) -> str:
    rotated = subprocess.run(
        [str(BIN_DIR / "interstack"), "keys", "rotate", "--data-dir", str(gateway.data_dir)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    assert rotated.returncode == 0, rotated.stderr
    return rotated.stdout


def admin_token(gateway: ServedGateway) -> str:
    return gateway.token("interstack-admin")


def signed_by(gateway: ServedGateway, key_number: int, token: str) -> bool:
    key = (gateway.data_dir / "fernet-keys" / str(key_number)).read_bytes().strip()
    try:
        Fernet(key).decrypt((token + "=" * (-len(token) % 4)).encode())  # padding is stripped
    except InvalidToken:
        return False
    return True


def test_key_rotation_keeps_old_tokens_and_issues_new_ones(fresh_gateway: ServedGateway) -> None:
    fresh_gateway.start()
    admin = fresh_gateway.token("interstack-admin")
    before = fresh_gateway.token("interstack")
    keys = fresh_gateway.data_dir / "fernet-keys"
    old_primary = max(int(p.name) for p in keys.iterdir() if p.name.isdigit())
    assert signed_by(fresh_gateway, old_primary, before)

    assert f"key {old_primary + 1} is now primary" in rotate_keys(fresh_gateway)

    # The gateway re-reads the key directory at most once a second: poll, bounded.
    deadline = time.monotonic() + 5
    after = fresh_gateway.token("interstack")
    while not signed_by(fresh_gateway, old_primary + 1, after) and time.monotonic() < deadline:
        time.sleep(0.2)
        after = fresh_gateway.token("interstack")
    assert signed_by(fresh_gateway, old_primary + 1, after), "new tokens still use the old key"
    assert valid(fresh_gateway, admin, before)
    assert valid(fresh_gateway, admin, after)
    assert valid(fresh_gateway, fresh_gateway.token("interstack-admin"), before)

    # With 3 active keys (staged, primary, one secondary) the next rotation drops the key that
    # signed `before`: it stops working, while `after` (signed by the now secondary key) holds.
    rotate_keys(fresh_gateway)
    assert not (keys / str(old_primary)).exists()
    deadline = time.monotonic() + 5
    while valid(fresh_gateway, admin_token(fresh_gateway), before) and time.monotonic() < deadline:
        time.sleep(0.2)
    admin = admin_token(fresh_gateway)
    assert not valid(fresh_gateway, admin, before)
    assert valid(fresh_gateway, admin, after)
    conn = fresh_gateway.connect("interstack")
    assert conn.current_project_id


def test_sigterm_exits_0_promptly(fresh_gateway: ServedGateway) -> None:
    fresh_gateway.start()
    process = fresh_gateway.process
    assert process is not None
    # a client keeping its idle connection open must not hold the shutdown up
    with httpx.Client(base_url=fresh_gateway.url, timeout=30) as idle:
        assert idle.get("/v3").status_code == 200
        process.send_signal(signal.SIGTERM)
        # a hang guard, not a stopwatch (no duration is asserted): a shutdown that waits for
        # the idle connection, the reconciler's or the expiry sweeper's interval or a task
        # worker's 30 s join fails here
        assert process.wait(timeout=10) == 0
    assert "Traceback" not in fresh_gateway.log()


def test_sigint_exits_0_too(fresh_gateway: ServedGateway) -> None:
    fresh_gateway.start()
    assert fresh_gateway.process is not None
    fresh_gateway.process.send_signal(signal.SIGINT)
    assert fresh_gateway.process.wait(timeout=10) == 0


class _Impostor(http.server.BaseHTTPRequestHandler):
    """Another process's server on the gateway's port: answers Keystone's version document."""

    def do_GET(self) -> None:
        body = b'{"version": {"id": "v3.14", "status": "stable"}}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: object) -> None:
        pass


def test_a_restart_on_a_port_another_server_took_fails_instead_of_talking_to_it(
    fresh_gateway: ServedGateway,
) -> None:
    """A client trusts only the port the gateway wrote once it held it (``--port-file``):
    another server that took the gateway's port while it was stopped and answers there as a
    gateway would is not taken for it; the gateway says it could not listen, and exits 1."""
    fresh_gateway.start()
    port = fresh_gateway.port
    fresh_gateway.stop()
    impostor = http.server.ThreadingHTTPServer(("127.0.0.1", port), _Impostor)
    serving = threading.Thread(target=impostor.serve_forever, daemon=True)
    serving.start()
    try:
        with pytest.raises(RuntimeError, match="exited early") as failed:
            fresh_gateway.start()
    finally:
        impostor.shutdown()
        impostor.server_close()
    assert f"could not listen on 127.0.0.1:{port}" in str(failed.value)
    assert fresh_gateway.process is not None and fresh_gateway.process.returncode == 1
    assert fresh_gateway.restart().port == port  # its port again, once free


# --- bad configuration ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("regions: [unclosed\n", "not valid YAML"),
        ("- a list\n", "mapping"),
        ("no_such_setting: 1\n", "no_such_setting"),
        ("port: many\n", "port"),
        ("regions:\n  - name: v3\n    backend: sim\n", "region name"),
        (
            "regions:\n  - {name: A, backend: sim}\n  - {name: A, backend: sim}\n",
            "unique",
        ),
        (None, "cannot read config file"),
    ],
)
def test_bad_config_is_one_line_and_exit_1(
    tmp_path: Path, content: str | None, expected: str
) -> None:
    config = tmp_path / "bad.yaml"
    if content is not None:
        config.write_text(content)
    result = subprocess.run(
        [
            str(BIN_DIR / "interstack"),
            "serve",
            "--config",
            str(config),
            "--data-dir",
            str(tmp_path / "data"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 1, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("interstack: error:")
    assert expected in lines[0]
    assert "Traceback" not in result.stderr + result.stdout


def test_a_region_that_cannot_start_is_one_line_naming_it_and_exit_1(tmp_path: Path) -> None:
    """A backend whose start fails (here a sim region told to) stops the gateway with the
    region and the reason in one line, not the startup code's trace."""
    failing = {"name": "lab-9", "backend": "sim", "settings": {"fail_on": {"start": "no disk"}}}
    config = {"regions": [{"name": "RegionOne", "backend": "sim"}, failing]}
    gateway = ServedGateway(tmp_path / "data", config=config)
    with pytest.raises(RuntimeError, match="exited early"):
        gateway.start()
    assert gateway.process is not None
    assert gateway.process.returncode == 1
    log = gateway.log()
    assert "Traceback" not in log
    errors = [line for line in log.splitlines() if "error:" in line]
    assert errors == ["interstack: error: region lab-9 cannot start: no disk"], log
