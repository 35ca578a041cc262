"""``make certify`` (scripts/certify.py) keeps the gateway's log next to the cloud's results: the
gateway is served from a temporary directory the script deletes, and a test's 500 is explained
only by the trace in that log."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.support.scripts import script_module


def test_the_gateway_log_is_kept_with_the_results(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    certify = script_module("certify")
    # the sim region (a local one would take the host's networking); a capability no guideline
    # has makes certify stop (exit 2) once the script has served its images
    monkeypatch.setattr(certify, "unavailable_reason", lambda: "a test: sim")
    monkeypatch.chdir(tmp_path)

    code = certify.main(["--out", "elsewhere", "--capability", "no-such-capability"])

    assert code == 2
    output = capsys.readouterr().out
    url = re.search(r"serving on (http://\S+);", output)
    assert url is not None, output
    log = Path("elsewhere", "interstack", "serve.log")
    assert f"serving on {url[1]}" in log.read_text()  # this run's gateway wrote it
    assert not Path("certify-results").exists()  # certify takes the last --out; so does the log
    assert f"gateway log kept: {log}" in output


def test_results_dir_follows_certifys_last_out_option() -> None:
    results_dir = script_module("certify").results_dir
    assert results_dir(["--capability", "compute-*"]) == Path("certify-results")
    assert results_dir(["--out", "a", "-o", "b"]) == Path("b")
    assert results_dir(["-o", "b", "--out=c"]) == Path("c")
