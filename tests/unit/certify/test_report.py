"""Reports from graded runs: RefStack JSON, the HTML report with its SVG chart, the matrix."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

from interstack.certify.grading import grade
from interstack.certify.guideline import load_guideline
from interstack.certify.report import (
    BAR_WIDTH,
    CloudReport,
    matrix_table,
    render_matrix,
    render_report,
    summary_table,
)
from interstack.certify.results import write_results
from interstack.certify.subunit import RunOutcome, read_stream
from tests.support.subunit_streams import StreamWriter

V3 = "tempest.api.identity.v3"
CATALOG = f"{V3}.test_catalog.IdentityCatalogTest.test_catalog_standardization"
TOKENS = f"{V3}.test_tokens.TokensV3Test"
ONLY = ("identity-v3-tokens-*", "identity-v3-catalog")


def run() -> RunOutcome:
    writer = StreamWriter()
    writer.test(f"{TOKENS}.test_create_token[id-6f8e4436-fc96-4282-8122-e41df57197a9]", "success")
    writer.test(f"{TOKENS}.test_validate_token[id-a9512ac3-3909-48a4-b395-11f438e16260]", "success")
    writer.test(f"{CATALOG}[id-56b57ced]", "fail", "Traceback\nKeyError: 'image' <catalog>")
    return read_stream(io.BytesIO(writer.bytes()))


def report(cloud: str = "east", outcome: RunOutcome | None = None) -> CloudReport:
    outcome = outcome or run()
    graded = grade(
        load_guideline("2020.06"), "platform", outcome.passed_names(), outcome.reasons(), only=ONLY
    )
    return CloudReport(cloud, graded, "2020.06", "platform", "47.0.0", 3)


def test_results_json_lists_passed_tests_by_name_and_uuid(tmp_path: Path) -> None:
    document = write_results(tmp_path / "results.json", "cloud-id", run())
    assert json.loads((tmp_path / "results.json").read_text()) == document
    assert document == {
        "cpid": "cloud-id",
        "duration_seconds": 5,  # first start to last end: the writer ticks a second per event
        "results": [
            {"name": f"{TOKENS}.test_create_token", "uuid": "6f8e4436-fc96-4282-8122-e41df57197a9"},
            {
                "name": f"{TOKENS}.test_validate_token",
                "uuid": "a9512ac3-3909-48a4-b395-11f438e16260",
            },
        ],
    }


def test_html_report_shows_capabilities_reasons_and_the_service_chart() -> None:
    html = render_report(report())
    rows = dict(re.findall(r'data-name="([^"]+)" data-passed="(true|false)"', html))
    assert rows == {
        "identity-v3-catalog": "false",
        "identity-v3-tokens-create": "true",
        "identity-v3-tokens-delete": "false",  # not run
        "identity-v3-tokens-validate": "true",
    }
    assert "KeyError: &#39;image&#39; &lt;catalog&gt;" in html  # escaped, whole reason kept
    assert "not run" in html
    assert 'id="required">2/4<' in html
    bar = re.search(r'<rect class="bar" x="130" y="0" width="(\d+)"', html)
    assert bar is not None and int(bar.group(1)) == BAR_WIDTH // 2
    assert "47.0.0" in html and "3 s" in html


def test_matrix_has_a_column_per_cloud() -> None:
    passing = read_stream(
        io.BytesIO(
            StreamWriter()
            .test(f"{CATALOG}[id-1]", "success")
            .test(f"{TOKENS}.test_create_token[id-2]", "success")
            .bytes()
        )
    )
    reports = [report("east"), report("west", passing)]
    html = render_matrix(reports)
    row = re.search(r"<tr><td>identity-v3-catalog</td>(.*?)</tr>", html, re.S)
    assert row is not None
    cells = re.findall(r'class="(pass|fail)"', row.group(1))
    assert cells == ["fail", "pass"]
    assert matrix_table(reports).row_count == len(reports[0].grade.capabilities) + 1
    assert summary_table(reports[0]).row_count == 4


def test_the_summary_shows_the_exception_line_not_tempests_trailer() -> None:
    timeout = (
        "Traceback (most recent call last):\n"
        '  File "tempest/common/waiters.py", line 736, in wait_for_ssh\n'
        "    raise lib_exc.TimeoutException()\n"
        "tempest.lib.exceptions.TimeoutException: Request timed out\n"
        "Details: None\n"
    )
    outcome = read_stream(
        io.BytesIO(
            StreamWriter()
            .test(f"{TOKENS}.test_create_token[id-2]", "success")
            .test(f"{TOKENS}.test_validate_token[id-3]", "success")
            .test(f"{CATALOG}[id-1]", "fail", timeout)
            .bytes()
        )
    )
    table = summary_table(report("east", outcome))
    failures = list(table.columns[3].cells)
    assert "tempest.lib.exceptions.TimeoutException: Request timed out" in failures
    assert "Details: None" not in failures
