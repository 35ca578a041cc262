"""``interstack certify`` against a served gateway: the whole pipeline for real, and bad input.

The pipeline test runs Tempest (from PyPI) on what the gateway serves today: the identity
capabilities of the 2020.06 platform. Bad input is one line on stderr and exit code 2.
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from interstack.certify.guideline import load_guideline
from tests.support.gateway import ServedGateway

INTERSTACK = str(Path(sys.executable).parent / "interstack")
IDENTITY = ["-g", "2020.06", "-t", "platform", "--capability", "identity-*"]


def certify(
    gateway: ServedGateway, *args: str, clouds: Path | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    env = gateway.env
    if clouds is not None:
        env["OS_CLIENT_CONFIG_FILE"] = str(clouds)
    return subprocess.run(
        [INTERSTACK, "certify", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def assert_one_line_error(result: subprocess.CompletedProcess[str], *words: str) -> None:
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("interstack certify: error: ")
    for word in words:
        assert word in lines[0]


def assert_no_secret(out: Path, result: subprocess.CompletedProcess[str], *secrets: str) -> None:
    """No password in the terminal or in any file certify wrote (report, results, stream, Tempest's
    logs and repository) but Tempest's own input files, which are readable by their owner only."""
    inputs = {"tempest.conf", "accounts.yaml"}
    files = [f for f in out.rglob("*") if f.is_file()]
    assert any(f.name == "report.html" for f in files) and any(f.suffix == ".log" for f in files)
    for secret in secrets:
        assert secret not in result.stdout + result.stderr
        for path in files:
            if path.name in inputs and path.parent.name == "etc":
                assert path.stat().st_mode & 0o777 == 0o600, path
            else:
                assert secret.encode() not in path.read_bytes(), path


@pytest.fixture(scope="module")
def identity_run(
    gateway: ServedGateway, tmp_path_factory: pytest.TempPathFactory
) -> tuple[subprocess.CompletedProcess[str], Path]:
    out = tmp_path_factory.mktemp("certify")
    # a relative --out, as make certify gives it: Tempest's workspace and logs land inside it
    relative = ["--out", out.name]
    return certify(gateway, "--cloud", "interstack", *IDENTITY, *relative, cwd=out.parent), out


def test_identity_capabilities_run_for_real(
    identity_run: tuple[subprocess.CompletedProcess[str], Path], gateway: ServedGateway
) -> None:
    result, out = identity_run
    assert result.returncode in {0, 1}, result.stderr
    cloud = out / "interstack"
    # Tempest ran with the discovered configuration
    conf = (cloud / "tempest" / "etc" / "tempest.conf").read_text()
    assert f"uri_v3 = {gateway.url}/v3" in conf
    accounts = yaml.safe_load((cloud / "tempest" / "etc" / "accounts.yaml").read_text())
    assert accounts[0]["username"] == "demo" and "member" in accounts[0]["roles"]
    # the RefStack document lists exactly the passed tests, by name and uuid
    document = json.loads((cloud / "results.json").read_text())
    assert set(document) == {"cpid", "duration_seconds", "results"}
    connection = gateway.connect("interstack")
    catalog = connection.session.auth.get_access(connection.session)
    identity_ids = [s["id"] for s in catalog.service_catalog.catalog if s["type"] == "identity"]
    assert document["cpid"] == identity_ids[0]
    guideline = load_guideline("2020.06")
    tests = {t.name: t for t in guideline.tests_for("platform", only=("identity-*",))}
    passed = {r["name"]: r["uuid"] for r in document["results"]}
    assert passed, result.stdout
    for name, uuid in passed.items():
        assert tests[name].uuid == uuid
    # the raw stream is kept, and the grade follows from what passed
    assert (cloud / "tempest.subunit").stat().st_size > 0
    all_passed = set(tests) <= set(passed)
    assert result.returncode == (0 if all_passed else 1)
    html = (cloud / "report.html").read_text()
    assert f'id="required">{len(set(tests) & set(passed))}/{len(tests)}<' in html
    assert "<svg" in html and "47.0.0" in html and "2020.06" in html
    rows = dict(re.findall(r'data-name="([^"]+)" data-passed="(true|false)"', html))
    capabilities = guideline.capabilities_for("platform", only=("identity-*",))
    assert set(rows) == {c.name for c in capabilities}
    for cap in capabilities:
        unflagged = [t.name for t in cap.capability.tests if not t.flagged]
        assert rows[cap.name] == str(set(unflagged) <= set(passed)).lower()
    assert "PASS" in result.stdout if all_passed else "FAIL" in result.stdout
    password = gateway.password("interstack")  # Tempest's account: only in its accounts file
    assert password in (cloud / "tempest" / "etc" / "accounts.yaml").read_text()
    assert_no_secret(out, result, password)


def test_rerun_failed_runs_only_what_did_not_pass(
    identity_run: tuple[subprocess.CompletedProcess[str], Path], gateway: ServedGateway
) -> None:
    first, out = identity_run
    before = json.loads((out / "interstack" / "results.json").read_text())
    rerun = certify(
        gateway, "--cloud", "interstack", *IDENTITY, "--out", str(out), "--rerun-failed"
    )
    assert rerun.returncode == first.returncode
    after = json.loads((out / "interstack" / "results.json").read_text())
    assert {r["name"] for r in before["results"]} <= {r["name"] for r in after["results"]}
    if first.returncode == 0:
        assert "running" not in rerun.stdout  # nothing left to run


def test_two_clouds_give_a_matrix(gateway: ServedGateway, tmp_path: Path) -> None:
    """With an admin cloud (Tempest makes its own users), whose password stays in tempest.conf."""
    result = certify(
        gateway,
        "--cloud",
        "interstack",
        "--cloud",
        "interstack-admin",
        "--admin-cloud",
        "interstack-admin",
        *IDENTITY[:4],
        "--capability",
        "identity-v3-tokens-*",
        "--out",
        str(tmp_path),
    )
    assert result.returncode in {0, 1}, result.stderr
    matrix = (tmp_path / "matrix.html").read_text()
    assert "<th>interstack</th>" in matrix and "<th>interstack-admin</th>" in matrix
    assert "identity-v3-tokens-create" in matrix and "identity-v3-catalog" not in matrix
    assert "capabilities by cloud" in result.stdout
    admin_password = gateway.password("interstack-admin")
    conf = tmp_path / "interstack" / "tempest" / "etc" / "tempest.conf"
    assert f"admin_password = {admin_password}" in conf.read_text()
    assert_no_secret(tmp_path, result, admin_password, gateway.password("interstack"))


def test_unknown_cloud(gateway: ServedGateway) -> None:
    assert_one_line_error(certify(gateway, "--cloud", "nowhere", *IDENTITY), "nowhere")


def test_no_cloud(gateway: ServedGateway) -> None:
    assert_one_line_error(certify(gateway, *IDENTITY), "--cloud")


def test_unreachable_cloud(gateway: ServedGateway, tmp_path: Path) -> None:
    clouds = yaml.safe_load(gateway.clouds_yaml.read_text())
    # a port this test holds without listening: refused, and no other process can take it
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        port = held.getsockname()[1]
        clouds["clouds"]["interstack"]["auth"]["auth_url"] = f"http://127.0.0.1:{port}/v3"
        path = tmp_path / "clouds.yaml"
        path.write_text(yaml.safe_dump(clouds))
        result = certify(gateway, "--cloud", "interstack", *IDENTITY, clouds=path)
    assert_one_line_error(result, "cannot reach", f"127.0.0.1:{port}")
    assert gateway.password("interstack") not in result.stdout + result.stderr


def test_wrong_credentials(gateway: ServedGateway, tmp_path: Path) -> None:
    clouds = yaml.safe_load(gateway.clouds_yaml.read_text())
    clouds["clouds"]["interstack"]["auth"]["password"] = "not-the-password"
    path = tmp_path / "clouds.yaml"
    path.write_text(yaml.safe_dump(clouds))
    result = certify(gateway, "--cloud", "interstack", *IDENTITY, clouds=path)
    assert_one_line_error(result, "refused the credentials")
    assert "not-the-password" not in result.stdout + result.stderr


def test_wrong_admin_credentials(gateway: ServedGateway, tmp_path: Path) -> None:
    """The admin cloud is checked before Tempest runs, once, with the same one line."""
    clouds = yaml.safe_load(gateway.clouds_yaml.read_text())
    clouds["clouds"]["interstack-admin"]["auth"]["password"] = "not-the-admin-password"
    path = tmp_path / "clouds.yaml"
    path.write_text(yaml.safe_dump(clouds))
    out = tmp_path / "out"
    result = certify(
        gateway, "--cloud", "interstack", "--admin-cloud", "interstack-admin", *IDENTITY,
        "--out", str(out), clouds=path,
    )  # fmt: skip
    assert_one_line_error(result, "refused the credentials")
    assert "not-the-admin-password" not in result.stdout + result.stderr
    assert not (out / "interstack" / "tempest.subunit").exists()  # Tempest never started


def test_guideline_that_does_not_parse(gateway: ServedGateway, tmp_path: Path) -> None:
    path = tmp_path / "guideline.json"
    path.write_text('{"metadata": {"schema": "2.0"}, "platforms": [')
    result = certify(gateway, "--cloud", "interstack", "--guideline", str(path))
    assert_one_line_error(result, "not valid JSON")


def test_cloud_missing_a_required_service(gateway: ServedGateway, tmp_path: Path) -> None:
    """A region whose catalog holds only identity: the Storage program cannot run there."""
    clouds = yaml.safe_load(gateway.clouds_yaml.read_text())
    cloud = clouds["clouds"]["interstack"]
    cloud.pop("regions", None)
    cloud["region_name"] = "Elsewhere"  # the gateway serves no regional service there
    elsewhere = tmp_path / "clouds.yaml"
    elsewhere.write_text(yaml.safe_dump(clouds))
    out = tmp_path / "out"
    result = certify(
        gateway, "--cloud", "interstack", "-t", "object", "--out", str(out), clouds=elsewhere
    )
    assert_one_line_error(result, "object-store", "service in its catalog")


def test_bad_test_regex(gateway: ServedGateway, tmp_path: Path) -> None:
    result = certify(
        gateway, "--cloud", "interstack", *IDENTITY, "--test-regex", "(", "--out", str(tmp_path)
    )
    assert_one_line_error(result, "--test-regex")
