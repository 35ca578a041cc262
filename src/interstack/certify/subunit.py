"""Read a subunit v2 stream (what ``tempest run --subunit`` and stestr write).

Each test ends in one status: success, fail, skip (xfail/uxsuccess kept as given). Test ids
carry attributes in brackets (``name[id-<uuid>,smoke]``): the name is the id without them, the
uuid comes from the ``id-`` attribute. A class fixture failure (``setUpClass (module.Class)``)
is kept too, so the tests of that class get its reason.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, Any

import subunit
import testtools

FINAL = {"success", "fail", "skip", "xfail", "uxsuccess"}
_FIXTURE = re.compile(r"^(setUpClass|tearDownClass|setUpModule|tearDownModule) \((?P<owner>.+)\)$")
_REASON_FILES = ("reason", "traceback")
#: the line of a traceback that names the exception (Tempest adds lines such as "Details: None")
_EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Failure|Timeout)\w*(:|$)")


def split_id(test_id: str) -> tuple[str, tuple[str, ...]]:
    """``a.b.C.test_x[id-1,smoke]`` -> (``a.b.C.test_x``, (``id-1``, ``smoke``))."""
    if test_id.endswith("]") and "[" in test_id:
        name, _, attrs = test_id[:-1].partition("[")
        return name, tuple(a.strip() for a in attrs.split(",") if a.strip())
    return test_id, ()


def uuid_of(attrs: tuple[str, ...]) -> str:
    return next((a.removeprefix("id-") for a in attrs if a.startswith("id-")), "")


@dataclass
class TestResult:
    id: str
    status: str = "inprogress"
    details: dict[str, str] = field(default_factory=dict)
    started: datetime | None = None
    stopped: datetime | None = None

    @property
    def name(self) -> str:
        return split_id(self.id)[0]

    @property
    def uuid(self) -> str:
        return uuid_of(split_id(self.id)[1])

    @property
    def fixture_owner(self) -> str | None:
        """For ``setUpClass (pkg.mod.Class)``: ``pkg.mod.Class``."""
        match = _FIXTURE.match(self.id)
        return match.group("owner") if match else None

    @property
    def reason(self) -> str:
        for key in _REASON_FILES:
            if self.details.get(key):
                return self.details[key].strip()
        return self.status

    @property
    def duration(self) -> float:
        if self.started and self.stopped:
            return (self.stopped - self.started).total_seconds()
        return 0.0


class Collector(testtools.StreamResult):
    """Collects results by test id; calls ``on_result`` when a test reaches its final status."""

    def __init__(
        self,
        on_result: Callable[[TestResult], None] | None = None,
        on_start: Callable[[TestResult], None] | None = None,
    ) -> None:
        super().__init__()
        self.results: dict[str, TestResult] = {}
        self.on_result = on_result
        self.on_start = on_start
        self._buffers: dict[tuple[str, str], bytearray] = {}

    def status(
        self,
        test_id: str | None = None,
        test_status: str | None = None,
        test_tags: Any = None,
        runnable: bool = True,
        file_name: str | None = None,
        file_bytes: bytes | None = None,
        eof: bool = False,
        mime_type: str | None = None,
        route_code: str | None = None,
        timestamp: datetime | None = None,
    ) -> None:
        if test_id is None:
            return
        result = self.results.setdefault(test_id, TestResult(test_id))
        if test_status == "inprogress":
            # a test run again (``--rerun-failed`` appends to the stream) starts afresh
            result.status, result.started, result.stopped = "inprogress", timestamp, None
            result.details.clear()
            for key in [k for k in self._buffers if k[0] == test_id]:
                del self._buffers[key]
            if self.on_start is not None:
                self.on_start(result)
        if file_name is not None and file_bytes:
            buffer = self._buffers.setdefault((test_id, file_name), bytearray())
            buffer.extend(file_bytes)
            result.details[file_name] = buffer.decode(errors="replace")
        if test_status in FINAL:
            result.status = test_status
            result.stopped = timestamp
            if self.on_result is not None:
                self.on_result(result)
        elif test_status == "exists" and result.status == "inprogress":
            result.status = "exists"


@dataclass(frozen=True)
class RunOutcome:
    """Final outcomes of a stream, by test name (attributes stripped)."""

    results: tuple[TestResult, ...]

    @property
    def tests(self) -> list[TestResult]:
        return [r for r in self.results if r.fixture_owner is None and r.status in FINAL]

    @property
    def passed(self) -> list[TestResult]:
        return [r for r in self.tests if r.status in {"success", "uxsuccess"}]

    @property
    def failed(self) -> list[TestResult]:
        return [r for r in self.results if r.status == "fail"]

    @property
    def skipped(self) -> list[TestResult]:
        return [r for r in self.tests if r.status == "skip"]

    def passed_names(self) -> set[str]:
        return {r.name for r in self.passed}

    def reasons(self) -> dict[str, str]:
        """Test name -> why it did not pass; fixture failures are given by class or module."""
        out: dict[str, str] = {}
        for r in self.results:
            owner = r.fixture_owner
            if owner is not None and r.status in {"fail", "skip"}:
                verb = "skipped" if r.status == "skip" else "failed"
                out[owner] = f"{r.id.split(' ')[0]} {verb}: {r.reason}"
            elif owner is None and r.status in {"fail", "skip"}:
                out[r.name] = ("skipped: " if r.status == "skip" else "") + r.reason
        return out


def headline(reason: str) -> str:
    """The one line of a reason to show where there is room for one: the exception it ends
    with (not a trailer after it), else its last line."""
    lines = [line.strip() for line in reason.splitlines() if line.strip()]
    for line in reversed(lines):
        if _EXCEPTION_LINE.match(line):
            return line
    return lines[-1] if lines else ""


def reason_for(name: str, reasons: Mapping[str, str]) -> str | None:
    """A test's own reason, else its class's or module's fixture failure."""
    if name in reasons:
        return reasons[name]
    owner = name.rpartition(".")[0]
    while owner:
        if owner in reasons:
            return reasons[owner]
        owner = owner.rpartition(".")[0]
    return None


def read_stream(
    source: IO[bytes],
    on_result: Callable[[TestResult], None] | None = None,
    on_start: Callable[[TestResult], None] | None = None,
) -> RunOutcome:
    """Parse a whole subunit v2 stream (non-subunit bytes are ignored), calling back as it goes.

    Streams concatenate: a later result of the same test replaces the earlier one.
    """
    collector = Collector(on_result, on_start)
    collector.startTestRun()
    subunit.ByteStreamToStreamResult(source, non_subunit_name="stdout").run(collector)
    collector.stopTestRun()
    return RunOutcome(tuple(r for r in collector.results.values() if r.id != "stdout"))
