"""Grade a run as RefStack did: a test passes when its name or one of its aliases passed;
flagged tests do not count; a target passes when every unflagged required test passed.

One addition: a test the running Tempest has only under a new name (found by its idempotent
id) counts under that name, since no Tempest that runs today has the old one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from interstack.certify.guideline import Guideline, Status, TargetCapability, Test
from interstack.certify.subunit import reason_for


@dataclass(frozen=True)
class TestGrade:
    test: Test
    passed: bool
    reason: str = ""  # why it did not pass (failure, skip, not run)


@dataclass(frozen=True)
class CapabilityGrade:
    capability: TargetCapability
    tests: tuple[TestGrade, ...]

    @property
    def counted(self) -> tuple[TestGrade, ...]:
        return tuple(t for t in self.tests if not t.test.flagged)

    @property
    def passed(self) -> bool:
        """Every unflagged test passed (a capability of flagged tests only passes)."""
        return all(t.passed for t in self.counted)

    @property
    def name(self) -> str:
        return self.capability.name

    @property
    def project(self) -> str:
        return self.capability.capability.project


@dataclass(frozen=True)
class Grade:
    guideline_id: str
    target: str
    capabilities: tuple[CapabilityGrade, ...]
    statuses: tuple[Status, ...] = field(default=(Status.REQUIRED,))

    def _required(self) -> list[TestGrade]:
        """Unflagged required tests, each once (a test may serve two capabilities)."""
        unique = {
            t.test.name: t
            for c in self.capabilities
            if c.capability.status is Status.REQUIRED
            for t in c.counted
        }
        return list(unique.values())

    @property
    def required_total(self) -> int:
        return len(self._required())

    @property
    def required_passed(self) -> int:
        return sum(t.passed for t in self._required())

    @property
    def passed(self) -> bool:
        """The RefStack criterion: all unflagged required tests passed."""
        return self.required_passed == self.required_total

    @property
    def percent(self) -> float:
        total = self.required_total
        return 100.0 * self.required_passed / total if total else 100.0

    @property
    def capabilities_passed(self) -> int:
        return sum(c.passed for c in self.capabilities)

    def by_project(self) -> dict[str, tuple[int, int]]:
        """project -> (passed, total) over unflagged required tests, each test once."""
        tests: dict[str, dict[str, bool]] = {}
        for cap in self.capabilities:
            if cap.capability.status is Status.REQUIRED:
                for t in cap.counted:
                    tests.setdefault(cap.project, {})[t.test.name] = t.passed
        return {p: (sum(ok.values()), len(ok)) for p, ok in tests.items()}


def grade(
    guideline: Guideline,
    target: str,
    passed: Iterable[str],
    reasons: Mapping[str, str] | None = None,
    statuses: Iterable[Status] = (Status.REQUIRED,),
    only: Sequence[str] = (),
    renamed: Mapping[str, str] | None = None,
) -> Grade:
    """Grade passed test names (``[..]`` attributes already stripped) against a target.

    ``reasons`` maps a test name (or a class or module, for fixture failures) to why it failed
    or was skipped, for the report; a test with no reason at all was not run. ``renamed`` maps
    a test's name to the one the Tempest that ran has for it (same idempotent id), which then
    counts as one more alias.
    """
    passed_names = set(passed)
    reasons = reasons or {}
    renamed = renamed or {}
    statuses = tuple(statuses)
    caps = []
    for cap in guideline.capabilities_for(target, statuses, only):
        grades = []
        for test in cap.capability.tests:
            names = (*test.names, renamed[test.name]) if test.name in renamed else test.names
            ok = any(name in passed_names for name in names)
            reason = ""
            if not ok:
                found = (reason_for(name, reasons) for name in names)
                reason = next((r for r in found if r is not None), "not run")
            grades.append(TestGrade(test, ok, reason))
        caps.append(CapabilityGrade(cap, tuple(grades)))
    return Grade(guideline.id, target, tuple(caps), statuses)
