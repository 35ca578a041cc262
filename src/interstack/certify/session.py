"""One ``interstack certify`` invocation: for each cloud discover, configure, run, grade, report.

Layout of --out: ``<cloud>/tempest/`` (the Tempest workspace with etc/tempest.conf),
``<cloud>/tempest.subunit`` (the raw stream of every attempt), ``<cloud>/results.json``
(RefStack), ``<cloud>/report.html``; with several clouds also ``matrix.html``.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from interstack.certify import CertifyError
from interstack.certify.discovery import Choices, discover
from interstack.certify.grading import grade
from interstack.certify.guideline import Guideline, load_guideline
from interstack.certify.report import (
    CloudReport,
    matrix_table,
    summary_table,
    write_matrix,
    write_report,
)
from interstack.certify.results import duration_seconds, write_results
from interstack.certify.runner import (
    available_tests,
    init_workspace,
    read_stream_file,
    renamed_tests,
    run_tests,
    select_tests,
)
from interstack.certify.subunit import TestResult
from interstack.certify.tempest_config import write_tempest_files

EXIT_PASSED, EXIT_FAILED, EXIT_INTERRUPTED = 0, 1, 130
STREAM, RESULTS, REPORT = "tempest.subunit", "results.json", "report.html"

console = Console(highlight=False)


@dataclass(frozen=True)
class Options:
    clouds: tuple[str, ...]
    guideline: str
    target: str
    out: Path
    capabilities: tuple[str, ...] = ()
    test_regex: str | None = None
    rerun_failed: bool = False
    admin_cloud: str | None = None
    image: str | None = None
    image_alt: str | None = None
    flavor: str | None = None
    flavor_alt: str | None = None
    network: str | None = None
    external_network: str | None = None
    ssh_user: str | None = None
    ssh_validation: bool | None = None  # None: when the cloud has an external network
    concurrency: int = 1

    @property
    def choices(self) -> Choices:
        return Choices(
            self.image,
            self.image_alt,
            self.flavor,
            self.flavor_alt,
            self.network,
            self.external_network,
        )


def certify_clouds(options: Options) -> int:
    """Certify every cloud; the exit code says whether all passed."""
    guideline = load_guideline(options.guideline)
    caps = guideline.capabilities_for(options.target, only=options.capabilities)
    if not caps:
        raise CertifyError(
            f"no required capability of guideline {guideline.id} target {options.target} "
            f"matches {', '.join(options.capabilities)}"
        )
    if len(set(options.clouds)) != len(options.clouds):
        raise CertifyError("a cloud is named twice")
    if options.concurrency > 1 and options.admin_cloud is None:
        # each worker locks an account of its own; the cloud's one account serves one worker
        raise CertifyError(
            "--concurrency above 1 needs --admin-cloud (Tempest then makes an account per "
            "worker); with the cloud's one account Tempest runs serially"
        )
    reports = []
    for cloud in options.clouds:
        report = certify_cloud(cloud, guideline, options)
        reports.append(report)
        if report.interrupted:
            break
    if len(reports) > 1:
        write_matrix(options.out / "matrix.html", reports)
        console.print(matrix_table(reports))
        console.print(f"matrix: {options.out / 'matrix.html'}")
    if any(r.interrupted for r in reports):
        return EXIT_INTERRUPTED
    passed = all(r.grade.passed for r in reports) and len(reports) == len(options.clouds)
    return EXIT_PASSED if passed else EXIT_FAILED


def certify_cloud(cloud: str, guideline: Guideline, options: Options) -> CloudReport:
    caps = guideline.capabilities_for(options.target, only=options.capabilities)
    projects = {c.capability.project for c in caps}
    facts = discover(cloud, projects, options.choices)
    # wrong admin credentials fail here, once, not in every test
    admin = discover(options.admin_cloud, ()).credentials if options.admin_cloud else None
    directory = options.out / cloud
    # absolute: Tempest runs from elsewhere and its tempest.conf names its logs and locks by it
    workspace = (directory / "tempest").resolve()
    stream = directory / STREAM
    init_workspace(workspace)
    write_tempest_files(facts, workspace, admin, options.ssh_user, options.ssh_validation)
    tests = guideline.tests_for(options.target, only=options.capabilities)
    available = available_tests(workspace)
    renamed = renamed_tests(available, tests)
    wanted = {name for test in tests for name in test.names} | set(renamed.values())
    if options.rerun_failed:
        wanted -= read_stream_file(stream).passed_names()
    selected, _ = select_tests(available, wanted, options.test_regex)
    # a test is missing when this Tempest has it under none of its names nor its id
    _, absent = select_tests(available, {n for t in tests for n in t.names})
    missing_tests = tuple(
        t.name for t in tests if set(t.names) <= set(absent) and t.name not in renamed
    )
    if renamed:
        facts.notes.append(_renamed_note(renamed))
    interrupted = False
    if selected:
        console.print(
            f"[bold]{cloud}[/]: running {len(selected)} Tempest tests of {guideline.id} "
            f"{options.target} ({facts.identity_uri})"
        )
        interrupted = _run_with_progress(
            workspace, selected, stream, options.rerun_failed and stream.exists(), options
        )
    elif not options.rerun_failed:
        raise CertifyError(f"cloud {cloud}: no test selected (check --test-regex)")
    outcome = read_stream_file(stream)
    graded = grade(
        guideline,
        options.target,
        outcome.passed_names(),
        outcome.reasons(),
        only=options.capabilities,
        renamed=renamed,
    )
    report = CloudReport(
        cloud=cloud,
        grade=graded,
        guideline=guideline.id,
        target=options.target,
        tempest_version=_tempest_version(),
        duration_seconds=duration_seconds(outcome),
        interrupted=interrupted,
        missing_tests=missing_tests,
        notes=tuple(facts.notes),
    )
    write_results(directory / RESULTS, facts.cpid, outcome)
    write_report(directory / REPORT, report)
    console.print(summary_table(report))
    for note in report.notes:
        console.print(f"[dim]note:[/] {note}")
    console.print(f"results: {directory / RESULTS}  report: {directory / REPORT}")
    return report


def _run_with_progress(
    workspace: Path, selected: list[str], stream: Path, append: bool, options: Options
) -> bool:
    counts = {"success": 0, "fail": 0, "skip": 0}
    progress = Progress(
        TextColumn("[bold]tests"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("[green]{task.fields[passed]} passed[/] [red]{task.fields[failed]} failed[/]"),
        TextColumn("{task.fields[skipped]} skipped"),
        TimeElapsedColumn(),
        TextColumn("{task.fields[current]}"),
        console=console,
        transient=False,
    )
    task = progress.add_task("run", total=len(selected), passed=0, failed=0, skipped=0, current="")

    def started(result: TestResult) -> None:
        if result.fixture_owner is None:
            progress.update(task, current=result.name.rpartition(".")[2])

    pending = {test_id.partition("[")[0] for test_id in selected}

    def finished(result: TestResult) -> None:
        owner = result.fixture_owner
        if owner is None:
            pending.discard(result.name)
            key = {"uxsuccess": "success", "xfail": "skip"}.get(result.status, result.status)
            counts[key] = counts.get(key, 0) + 1
            advance = 1
        elif result.status == "fail":
            # the class's tests will not report: count them as failed now
            gone = {name for name in pending if name.startswith(f"{owner}.")}
            pending.difference_update(gone)
            counts["fail"] += len(gone)
            advance = len(gone)
        else:
            return
        progress.update(
            task,
            advance=advance,
            passed=counts["success"],
            failed=counts["fail"],
            skipped=counts["skip"],
        )

    with progress:
        _outcome, interrupted, _code = run_tests(
            workspace,
            selected,
            stream,
            append=append,
            concurrency=options.concurrency,
            on_start=started,
            on_result=finished,
        )
    if interrupted:
        console.print("[yellow]interrupted: reporting the tests that finished[/]")
    return interrupted


def _renamed_note(renamed: dict[str, str]) -> str:
    moves = "; ".join(f"{old} is now {new}" for old, new in sorted(renamed.items()))
    return (
        f"{len(renamed)} tests are in this Tempest only under a new name with the same "
        f"idempotent id and count under it (RefStack graded by name and alias only): {moves}"
    )


def _tempest_version() -> str:
    try:
        return metadata.version("tempest")
    except metadata.PackageNotFoundError:
        return "unknown"
