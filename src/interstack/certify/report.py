"""Reports of graded runs: HTML (Jinja2, charts as inline SVG) and Rich tables for the terminal.

One cloud: per capability pass/fail with the failing tests' reasons, per service a summary and
a bar chart, the guideline and Tempest versions and the run's duration. Several clouds: one
matrix of clouds by capabilities.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import jinja2
from rich.table import Table

from interstack.certify.grading import Grade
from interstack.certify.subunit import headline

BAR_WIDTH = 320
BAR_HEIGHT = 22

# guideline project -> the service name people know
SERVICE_NAMES = {
    "keystone": "Identity",
    "nova": "Compute",
    "glance": "Image",
    "neutron": "Network",
    "cinder": "Block Storage",
    "swift": "Object Storage",
}


@dataclass(frozen=True)
class CloudReport:
    cloud: str
    grade: Grade
    guideline: str
    target: str
    tempest_version: str
    duration_seconds: int
    interrupted: bool = False
    missing_tests: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class ServiceBar:
    name: str
    passed: int
    total: int
    y: int

    @property
    def width(self) -> int:
        return round(BAR_WIDTH * self.passed / self.total) if self.total else 0


def service_bars(grade: Grade) -> list[ServiceBar]:
    rows = sorted(grade.by_project().items())
    return [
        ServiceBar(SERVICE_NAMES.get(project, project), passed, total, i * (BAR_HEIGHT + 6))
        for i, (project, (passed, total)) in enumerate(rows)
    ]


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("interstack.certify", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_report(report: CloudReport) -> str:
    template = _environment().get_template("report.html.j2")
    return template.render(
        r=report,
        bars=service_bars(report.grade),
        bar_width=BAR_WIDTH,
        bar_height=BAR_HEIGHT,
        service_names=SERVICE_NAMES,
    )


def render_matrix(reports: list[CloudReport]) -> str:
    template = _environment().get_template("matrix.html.j2")
    return template.render(reports=reports, capabilities=matrix_capabilities(reports))


def matrix_capabilities(reports: list[CloudReport]) -> list[str]:
    names: dict[str, None] = {}
    for report in reports:
        for cap in report.grade.capabilities:
            names[cap.name] = None
    return list(names)


def write_report(path: Path, report: CloudReport) -> None:
    path.write_text(render_report(report))


def write_matrix(path: Path, reports: list[CloudReport]) -> None:
    path.write_text(render_matrix(reports))


def summary_table(report: CloudReport) -> Table:
    """Per capability for the terminal; failing ones first so they stay on screen."""
    grade = report.grade
    verdict = "[green]PASS[/]" if grade.passed and not report.interrupted else "[red]FAIL[/]"
    table = Table(
        title=(
            f"{report.cloud}: {grade.guideline_id} {report.target} {verdict} "
            f"{grade.required_passed}/{grade.required_total} required tests"
        )
    )
    table.add_column("capability")
    table.add_column("tests", justify="right")
    table.add_column("result")
    table.add_column("first failure")
    for cap in sorted(grade.capabilities, key=lambda c: (c.passed, c.name)):
        counted = cap.counted
        failing = [t for t in counted if not t.passed]
        table.add_row(
            cap.name,
            f"{len(counted) - len(failing)}/{len(counted)}",
            "[green]pass[/]" if cap.passed else "[red]fail[/]",
            headline(failing[0].reason)[:80] if failing else "",
        )
    return table


def matrix_table(reports: list[CloudReport]) -> Table:
    table = Table(title="capabilities by cloud")
    table.add_column("capability")
    for report in reports:
        table.add_column(report.cloud, justify="center")
    by_cloud = [{c.name: c for c in r.grade.capabilities} for r in reports]
    for name in matrix_capabilities(reports):
        cells = []
        for caps in by_cloud:
            cap = caps.get(name)
            cells.append("" if cap is None else "[green]pass[/]" if cap.passed else "[red]fail[/]")
        table.add_row(name, *cells)
    table.add_row(
        "[bold]required tests passed[/]",
        *(f"{r.grade.required_passed}/{r.grade.required_total}" for r in reports),
    )
    return table
