"""Running Tempest (from PyPI) in a workspace, reading its subunit stream as it comes.

``tempest init`` makes the workspace once; ``tempest run --list-tests`` tells which of the wanted
tests this Tempest has (with the attributes ``--load-list`` needs); ``tempest run --load-list
--subunit`` runs them. The stream is copied byte for byte to a file (appended to on a re-run,
so the file holds every attempt and the last result of a test wins) and parsed on the fly for
the progress display. Ctrl-C stops Tempest; what finished is still reported.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, cast

from interstack.certify import CertifyError
from interstack.certify.guideline import Test
from interstack.certify.subunit import RunOutcome, TestResult, read_stream, split_id, uuid_of

TEMPEST = str(Path(sys.executable).parent / "tempest")


@dataclass(frozen=True)
class RunResult:
    outcome: RunOutcome
    selected: tuple[str, ...]  # full test ids handed to Tempest
    missing: tuple[str, ...]  # wanted names this Tempest does not have
    interrupted: bool
    returncode: int | None


class _Tee:
    """A readable stream that copies every byte read to a file."""

    def __init__(self, source: IO[bytes], copy: IO[bytes]) -> None:
        self.source, self.copy = source, copy

    def read(self, size: int = -1) -> bytes:
        data = self.source.read(size)
        self.copy.write(data)
        self.copy.flush()
        return data


def _tempest(args: list[str], workspace: Path, timeout: float) -> subprocess.CompletedProcess[str]:
    """A short Tempest command (init, listing); its exit code is for the caller to judge."""
    try:
        return subprocess.run(  # noqa: S603 - our own Tempest, arguments we built
            [TEMPEST, *args],
            cwd=workspace,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except OSError as exc:
        raise CertifyError(f"cannot run {TEMPEST}: {exc.strerror}") from None
    except subprocess.TimeoutExpired:
        raise CertifyError(f"tempest {args[0]} did not finish within {timeout:.0f}s") from None


def init_workspace(workspace: Path) -> None:
    """``tempest init`` into the workspace unless it is one already."""
    if (workspace / ".stestr.conf").exists():
        return
    workspace.parent.mkdir(parents=True, exist_ok=True)
    index = workspace.parent / "tempest-workspaces.yaml"  # keeps ~/.tempest untouched
    result = _tempest(
        ["init", "--workspace-path", str(index), "--name", _name(workspace), str(workspace)],
        workspace.parent,
        timeout=120,
    )
    if result.returncode != 0:
        raise CertifyError(f"tempest init {workspace} failed: {_last_line(result.stderr)}")


def _name(workspace: Path) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "-", f"interstack-{workspace.resolve()}")


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "no output"


def available_tests(workspace: Path) -> list[str]:
    """Every test id this Tempest has, attributes included."""
    result = _tempest(["run", "--list-tests"], workspace, timeout=600)
    if result.returncode != 0:
        raise CertifyError(f"tempest run --list-tests failed: {_last_line(result.stderr)}")
    return [line.strip() for line in result.stdout.splitlines() if line.startswith("tempest.")]


def select_tests(
    available: Iterable[str], wanted: Iterable[str], regex: str | None = None
) -> tuple[list[str], list[str]]:
    """(ids to load, wanted names not found): a wanted name matches an id by its base name."""
    try:
        pattern = re.compile(regex) if regex else None
    except re.error as exc:
        raise CertifyError(f"--test-regex {regex!r} is not a regular expression: {exc}") from None
    wanted_names = set(wanted)
    by_name = {split_id(test_id)[0]: test_id for test_id in available}
    selected = [
        by_name[name]
        for name in sorted(wanted_names & by_name.keys())
        if pattern is None or pattern.search(name)
    ]
    missing = sorted(wanted_names - by_name.keys())
    return selected, missing


def renamed_tests(available: Iterable[str], tests: Iterable[Test]) -> dict[str, str]:
    """Guideline test name -> this Tempest's name for it, for tests this Tempest has under
    none of their names but under their idempotent id (moved or renamed since the guideline;
    the id is what Tempest keeps stable across renames)."""
    names: set[str] = set()
    by_uuid: dict[str, str] = {}
    for test_id in available:
        name, attrs = split_id(test_id)
        names.add(name)
        if uuid := uuid_of(attrs):
            by_uuid.setdefault(uuid, name)
    return {
        test.name: by_uuid[test.uuid]
        for test in tests
        if not names & set(test.names) and test.uuid in by_uuid
    }


def run_tests(
    workspace: Path,
    test_ids: list[str],
    stream_file: Path,
    *,
    append: bool = False,
    concurrency: int = 1,
    on_start: Callable[[TestResult], None] | None = None,
    on_result: Callable[[TestResult], None] | None = None,
) -> tuple[RunOutcome, bool, int | None]:
    """Run the tests; returns (outcome of this run, interrupted, Tempest's exit code)."""
    load_list = workspace / "load-list.txt"
    load_list.write_text("".join(f"{t}\n" for t in test_ids))
    args = [TEMPEST, "run", "--load-list", str(load_list), "--subunit"]
    args += ["--serial"] if concurrency <= 1 else ["--concurrency", str(concurrency)]
    log = (workspace / "logs" / "tempest-run.stderr").open("ab")
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    process = subprocess.Popen(  # noqa: S603 - our own Tempest, arguments we built
        args, cwd=workspace, stdout=subprocess.PIPE, stderr=log, env=env
    )
    log.close()
    assert process.stdout is not None
    interrupted = False
    with stream_file.open("ab" if append else "wb") as copy:
        try:
            outcome = read_stream(
                cast("IO[bytes]", _Tee(process.stdout, copy)), on_result, on_start
            )
        except KeyboardInterrupt:
            interrupted = True
            _stop(process)
            outcome = RunOutcome(())
    code = process.wait()
    return outcome, interrupted, code


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Stop Tempest and its workers; the terminal's Ctrl-C may have reached them already."""
    if process.poll() is None:
        process.terminate()
        deadline = time.monotonic() + 30
        while process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        if process.poll() is None:
            process.kill()


def read_stream_file(path: Path) -> RunOutcome:
    """Every result in a stream file (a re-run's later results replace earlier ones)."""
    if not path.exists():
        return RunOutcome(())
    with path.open("rb") as source:
        return read_stream(source)
