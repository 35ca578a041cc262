"""The Tempest runner with a stand-in ``tempest`` that writes a subunit stream: selection of
tests, the stream copied to a file as it comes, and Ctrl-C that keeps what finished."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from interstack.certify import CertifyError, runner, subunit
from interstack.certify.guideline import load_guideline
from tests.support.subunit_streams import StreamWriter

TOKENS = "tempest.api.identity.v3.test_tokens.TokensV3Test"


def fake_tempest(tmp_path: Path, stream: bytes, then_sleep: float) -> str:
    """An executable that prints ``stream`` on stdout, then sleeps (a long test running)."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "stream.bin").write_bytes(stream)
    script = tmp_path / "tempest"
    script.write_text(
        f"#!{sys.executable}\n"
        + textwrap.dedent(f"""
            import sys, time
            sys.stdout.buffer.write(open({str(tmp_path / "stream.bin")!r}, "rb").read())
            sys.stdout.buffer.flush()
            time.sleep({then_sleep})
        """)
    )
    script.chmod(0o755)
    return str(script)


def test_select_tests_matches_names_and_aliases_against_listed_ids() -> None:
    available = [f"{TOKENS}.test_create_token[id-1,smoke]", f"{TOKENS}.test_validate_token[id-2]"]
    wanted = {f"{TOKENS}.test_create_token", "old.name.test_validate_token", "gone.test"}
    selected, missing = runner.select_tests(available, wanted)
    assert selected == [f"{TOKENS}.test_create_token[id-1,smoke]"]
    assert missing == ["gone.test", "old.name.test_validate_token"]
    only, _ = runner.select_tests(available, {f"{TOKENS}.test_create_token"}, "validate")
    assert only == []
    with pytest.raises(CertifyError, match="not a regular expression"):
        runner.select_tests(available, wanted, "(")


def test_ctrl_c_stops_tempest_and_keeps_what_finished(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stream = (
        StreamWriter()
        .test(f"{TOKENS}.test_create_token[id-1]", "success")
        .test(f"{TOKENS}.test_validate_token[id-2]", "fail", "boom")
        .started(f"{TOKENS}.test_token_auth_creation_existence_deletion[id-3]")
        .bytes()
    )
    monkeypatch.setattr(runner, "TEMPEST", fake_tempest(tmp_path, stream, then_sleep=120))
    workspace = tmp_path / "ws"
    (workspace / "logs").mkdir(parents=True)
    seen: list[str] = []

    def on_result(result: subunit.TestResult) -> None:
        seen.append(result.status)
        if len(seen) == 2:
            raise KeyboardInterrupt  # what Ctrl-C does to the reading loop

    out = tmp_path / "tempest.subunit"
    _, interrupted, code = runner.run_tests(workspace, ["a", "b", "c"], out, on_result=on_result)
    assert interrupted
    assert code is not None and code != 0  # Tempest was stopped, not left running
    kept = runner.read_stream_file(out)
    assert [r.status for r in kept.tests] == ["success", "fail"]
    assert (workspace / "load-list.txt").read_text().split() == ["a", "b", "c"]


def test_a_rerun_appends_and_its_results_win(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    workspace = tmp_path / "ws"
    (workspace / "logs").mkdir(parents=True)
    out = tmp_path / "tempest.subunit"
    first = StreamWriter().test(f"{TOKENS}.test_create_token[id-1]", "fail", "boom").bytes()
    monkeypatch.setattr(runner, "TEMPEST", fake_tempest(tmp_path / "a", first, 0))
    runner.run_tests(workspace, ["x"], out)
    second = StreamWriter().test(f"{TOKENS}.test_create_token[id-1]", "success").bytes()
    monkeypatch.setattr(runner, "TEMPEST", fake_tempest(tmp_path / "b", second, 0))
    runner.run_tests(workspace, ["x"], out, append=True)
    assert out.read_bytes() == first + second
    assert [r.status for r in runner.read_stream_file(out).tests] == ["success"]


def test_a_test_renamed_since_the_guideline_is_found_by_its_idempotent_id() -> None:
    """2016.08 names ``VolumesV2ListTestJSON`` tests that Tempest 47 has as ``VolumesListTest
    JSON`` (same ids); a test found by name or alias, or not at all, is not renamed."""
    guideline = load_guideline("2016.08")
    tests = guideline.tests_for("compute", only=("volumes-v2-list", "volumes-v2-copy-image-*"))
    moved = "tempest.api.volume.test_volumes_list.VolumesListTestJSON"
    available = [
        f"{moved}.test_volumes_list_by_status[id-39654e13-734c-4dab-95ce-7613bf8407ce]",
        f"{moved}.test_volume_list[id-0b6ddd39-b948-471f-8038-4787978747c4]",
        "tempest.api.other.Unrelated.test_x[id-42]",
    ]
    renamed = runner.renamed_tests(available, tests)
    assert renamed == {
        "tempest.api.volume.test_volumes_list.VolumesV2ListTestJSON.test_volumes_list_by_status": (
            f"{moved}.test_volumes_list_by_status"
        )
    }
