"""The RefStack results document: ``{cpid, duration_seconds, results: [{name, uuid}]}``.

Only passed tests are listed, each by its name without attributes, as refstack-client uploaded
them; the RefStack server graded these names (or their aliases) against a guideline.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from interstack.certify.subunit import RunOutcome


def duration_seconds(outcome: RunOutcome) -> int:
    """From the first test's start to the last test's end."""
    starts = [r.started for r in outcome.tests if r.started is not None]
    stops = [r.stopped for r in outcome.tests if r.stopped is not None]
    if not starts or not stops:
        return 0
    return max(0, round((max(stops) - min(starts)).total_seconds()))


def refstack_results(cpid: str, outcome: RunOutcome) -> dict[str, Any]:
    passed = sorted(outcome.passed, key=lambda r: r.name)
    return {
        "cpid": cpid,
        "duration_seconds": duration_seconds(outcome),
        "results": [{"name": r.name, "uuid": r.uuid} for r in passed],
    }


def write_results(path: Path, cpid: str, outcome: RunOutcome) -> dict[str, Any]:
    document = refstack_results(cpid, outcome)
    path.write_text(json.dumps(document, indent=2) + "\n")
    return document
