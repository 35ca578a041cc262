"""Guideline parsing on the real 2016.08 (schema 1.6) and 2020.06 (schema 2.0) files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from interstack.certify import CertifyError
from interstack.certify.guideline import Status, bundled_guidelines, load_guideline

# published figures: RefStack's test lists for 2020.06 (unflagged required, without aliases)
# and the 2016.08 compute component (215 tests, 17 flagged in the superseded file)
COUNTS = [
    ("2020.06", "compute", 60, 217, 228),
    ("2020.06", "object", 20, 58, 58),
    ("2020.06", "platform", 78, 273, 284),
    ("2016.08", "compute", 48, 198, 215),
    ("2016.08", "object", 9, 14, 14),
]


def test_bundled_guidelines_are_listed() -> None:
    assert {"2016.08", "2020.06"} <= set(bundled_guidelines())


@pytest.mark.parametrize(("guideline", "target", "caps", "unflagged", "everything"), COUNTS)
def test_required_counts_match_the_guideline(
    guideline: str, target: str, caps: int, unflagged: int, everything: int
) -> None:
    parsed = load_guideline(guideline)
    assert len(parsed.capabilities_for(target)) == caps
    assert len(parsed.tests_for(target)) == unflagged
    assert len(parsed.tests_for(target, flagged=True)) == everything


def test_schema_versions_and_tempest_reference() -> None:
    new, old = load_guideline("2020.06"), load_guideline("2016.08.json")
    assert (new.id, new.schema) == ("2020.06", "2.0")
    assert new.tempest_reference.startswith("d43223773d")
    assert (old.id, old.schema) == ("2016.08", "1.6")
    assert old.tempest_reference.startswith("4d63b16de8")


def test_aliases_and_flags_are_read() -> None:
    parsed = load_guideline("2020.06")
    tests = {t.name: t for t in parsed.tests_for("platform", flagged=True)}
    discovery = tests[
        "tempest.api.identity.v3.test_api_discovery.TestApiDiscovery.test_api_media_types"
    ]
    assert discovery.aliases == ("tempest.api.identity.v3.TestApiDiscovery.test_api_media_types",)
    assert discovery.uuid == "657c1970-4722-4189-8831-7325f3bc4265"
    listing = tests[
        "tempest.api.identity.v3.test_projects.IdentityV3ProjectsTest."
        "test_list_projects_returns_only_authorized_projects"
    ]
    assert listing.flag is not None and "D400" in listing.flag.reason


def test_refstack_test_list_lines_match_the_published_list() -> None:
    """Same lines as RefStack's /tests?type=required&alias=true&flag=false for 2020.06 compute."""
    lines = load_guideline("2020.06").test_list("compute", alias=True, flag=False)
    assert len(lines) == len(set(lines)) == 318
    assert (
        "tempest.api.identity.v3.TestApiDiscovery.test_api_media_types"
        "[id-657c1970-4722-4189-8831-7325f3bc4265]" in lines
    )
    assert not any("test_list_projects_returns_only_authorized_projects" in line for line in lines)


def test_capability_patterns_select_capabilities() -> None:
    parsed = load_guideline("2020.06")
    names = [c.name for c in parsed.capabilities_for("platform", only=("identity-*",))]
    assert names and all(n.startswith("identity-") for n in names)
    assert "identity-v3-list-projects" in names
    statuses = {c.status for c in parsed.capabilities_for("compute", (Status.ADVISORY,))}
    assert statuses <= {Status.ADVISORY}


def test_unknown_target_is_an_error() -> None:
    with pytest.raises(CertifyError, match="unknown target 'dns'"):
        load_guideline("2020.06").capabilities_for("dns")


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ("{not json", "not valid JSON"),
        ("[]", "not a JSON object"),
        ('{"id": "x"}', "no 'schema'"),
        ('{"schema": "3.0"}', "schema 3.0 is not supported"),
        ('{"schema": "1.6", "platform": {}}', "no 'components'"),
        ('{"metadata": {"schema": "2.0"}, "components": {"c": 5}}', "schema 1.6 or 2.0"),
        (
            json.dumps(
                {
                    "metadata": {"schema": "2.0", "id": "x"},
                    "platforms": {},
                    "components": {"c": {"capabilities": {"required": ["nope"]}}},
                    "capabilities": {},
                }
            ),
            "lists capability nope, which is not defined",
        ),
    ],
)
def test_bad_documents_are_one_line_errors(tmp_path: Path, document: str, message: str) -> None:
    path = tmp_path / "guideline.json"
    path.write_text(document)
    with pytest.raises(CertifyError, match=message) as caught:
        load_guideline(str(path))
    assert "\n" not in caught.value.message


def test_missing_file_is_an_error() -> None:
    with pytest.raises(CertifyError, match="cannot read guideline"):
        load_guideline("/nonexistent/guideline.json")
