"""``interstack certify list-tests`` as a user runs it: the test list, or one line and exit 2."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path

import pytest

INTERSTACK = str(Path(sys.executable).parent / "interstack")


def certify(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [INTERSTACK, "certify", *args], capture_output=True, text=True, timeout=60, check=False
    )


def test_list_tests_prints_the_unflagged_required_tests() -> None:
    result = certify("list-tests", "--guideline", "2020.06", "--target", "compute")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.split()
    assert len(lines) == 217
    assert all("[id-" in line for line in lines)


def test_list_tests_with_aliases_and_a_capability_pattern() -> None:
    result = certify(
        "list-tests", "-t", "platform", "--capability", "identity-v3-api-*", "--aliases"
    )
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.split()) == 6  # three tests, each with one alias


def test_a_guideline_that_does_not_parse_is_one_line_and_exit_2(tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text('{"schema": "2.0", "components": ')
    result = certify("list-tests", "--guideline", str(broken))
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "not valid JSON" in result.stderr
    assert "Traceback" not in result.stderr


def test_an_unknown_target_is_one_line_and_exit_2() -> None:
    result = certify("list-tests", "--target", "dns")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "interstack certify: error: unknown target 'dns': use one of platform, compute, object"
    )


def test_parallel_workers_without_an_admin_cloud_is_one_line_and_exit_2() -> None:
    """One pre-provisioned account serves one Tempest worker: a parallel run would fail most
    tests with "Insufficient number of users provided" instead of testing the cloud."""
    result = certify("--cloud", "anything", "--concurrency", "2")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "--admin-cloud" in result.stderr


@pytest.fixture
def guideline_site(tmp_path: Path) -> Iterator[str]:
    """A loopback web server publishing a guideline of one capability: 2016.08's image
    deletion, so that what is listed can only have come from the URL."""
    bundled = json.loads(
        resources.files("interstack.certify.guidelines").joinpath("2016.08.json").read_text()
    )
    capability = "images-v2-delete"
    bundled["components"] = {"compute": {"required": [capability]}}
    bundled["capabilities"] = {capability: bundled["capabilities"][capability]}
    (tmp_path / "2016.08-images.json").write_text(json.dumps(bundled))
    handler = partial(SimpleHTTPRequestHandler, directory=str(tmp_path))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_a_guideline_url_is_fetched_and_parsed(guideline_site: str) -> None:
    result = certify("list-tests", "--guideline", f"{guideline_site}/2016.08-images.json")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.split()
    assert len(lines) == 4  # images-v2-delete: 4 tests, none flagged
    assert all(line.startswith("tempest.api.image.v2.") for line in lines)


def test_a_missing_guideline_url_is_one_line_and_exit_2(guideline_site: str) -> None:
    result = certify("list-tests", "--guideline", f"{guideline_site}/2099.01.json")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "HTTP 404" in result.stderr


def test_an_unreachable_guideline_url_is_one_line_and_exit_2() -> None:
    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = certify("list-tests", "--guideline", f"http://127.0.0.1:{port}/2020.06.json")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1, result.stderr
    assert "cannot reach guideline" in result.stderr and "refused" in result.stderr
    assert "Traceback" not in result.stderr
