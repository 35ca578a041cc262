"""``interstack certify list-tests`` as a user runs it: the test list, or one line and exit 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

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
