"""Grading as RefStack did, from subunit streams written with python-subunit."""

from __future__ import annotations

import io

from interstack.certify.grading import Grade, grade
from interstack.certify.guideline import load_guideline
from interstack.certify.subunit import RunOutcome, read_stream
from tests.support.subunit_streams import StreamWriter

V3 = "tempest.api.identity.v3"
DISCOVERY = f"{V3}.test_api_discovery.TestApiDiscovery"
TOKENS = f"{V3}.test_tokens.TokensV3Test"
CATALOG = f"{V3}.test_catalog.IdentityCatalogTest.test_catalog_standardization"
PROJECTS = (
    f"{V3}.test_projects.IdentityV3ProjectsTest.test_list_projects_returns_only_authorized_projects"
)
IDENTITY = ("identity-*",)


def outcome(writer: StreamWriter) -> RunOutcome:
    return read_stream(io.BytesIO(writer.bytes()))


def identity_grade(run: RunOutcome) -> Grade:
    return grade(
        load_guideline("2020.06"), "platform", run.passed_names(), run.reasons(), only=IDENTITY
    )


def all_identity_passing() -> StreamWriter:
    writer = StreamWriter()
    for test in ("test_api_version_resources", "test_api_media_types", "test_api_version_statuses"):
        writer.test(f"{DISCOVERY}.{test}[id-1,smoke]", "success")
    writer.test(f"{CATALOG}[id-56b57ced-22b8-4127-9b8a-565dfb0207e2]", "success")
    for test in ("test_create_token", "test_token_auth_creation_existence_deletion"):
        writer.test(f"{TOKENS}.{test}[id-x]", "success")
    writer.test(f"{TOKENS}.test_validate_token[id-a9512ac3-3909-48a4-b395-11f438e16260]", "success")
    return writer


def test_stream_reading_strips_attributes_and_keeps_uuids() -> None:
    run = outcome(all_identity_passing().noise(b"stray print\n"))
    assert len(run.tests) == 7
    validate = next(r for r in run.passed if r.name.endswith("test_validate_token"))
    assert validate.uuid == "a9512ac3-3909-48a4-b395-11f438e16260"
    assert validate.duration == 1.0
    assert not run.failed


def test_every_unflagged_test_passing_passes_even_if_a_flagged_one_fails() -> None:
    run = outcome(all_identity_passing().test(f"{PROJECTS}[id-86128d46]", "fail", "needs 2 users"))
    graded = identity_grade(run)
    assert graded.passed
    assert graded.required_passed == graded.required_total == 7
    projects = next(c for c in graded.capabilities if c.name == "identity-v3-list-projects")
    assert projects.passed and not projects.tests[0].passed
    assert projects.tests[0].reason == "needs 2 users"


def test_a_test_passes_under_one_of_its_aliases() -> None:
    writer = StreamWriter()
    writer.test("tempest.api.identity.v3.TestApiDiscovery.test_api_media_types", "success")
    graded = identity_grade(outcome(writer))
    discovery = next(c for c in graded.capabilities if c.name == "identity-v3-api-discovery")
    by_name = {t.test.name.rpartition(".")[2]: t for t in discovery.tests}
    assert by_name["test_api_media_types"].passed
    assert not by_name["test_api_version_statuses"].passed
    assert by_name["test_api_version_statuses"].reason == "not run"
    assert not discovery.passed
    assert graded.required_passed == 1


def test_failures_skips_and_class_fixture_failures_give_reasons() -> None:
    writer = StreamWriter()
    writer.test(f"{CATALOG}[id-56b57ced]", "fail", "AssertionError: compute not in catalog")
    writer.test(f"{DISCOVERY}.test_api_media_types[id-2]", "skip", "no media types")
    writer.test(f"setUpClass ({TOKENS})", "fail", "Forbidden: 403")
    writer.test(f"setUpClass ({DISCOVERY})", "skip", "no v3")
    graded = identity_grade(outcome(writer))
    reasons = {t.test.name: t.reason for c in graded.capabilities for t in c.tests}
    assert "compute not in catalog" in reasons[CATALOG]
    assert reasons[f"{DISCOVERY}.test_api_media_types"] == "skipped: no media types"
    assert reasons[f"{DISCOVERY}.test_api_version_statuses"] == "setUpClass skipped: no v3"
    assert reasons[f"{TOKENS}.test_create_token"] == "setUpClass failed: Forbidden: 403"
    assert not graded.passed and graded.required_passed == 0
    assert graded.by_project() == {"keystone": (0, 7)}


def test_a_later_run_of_the_same_test_replaces_the_earlier_result() -> None:
    first = StreamWriter().test(f"{CATALOG}[id-1]", "fail", "boom").bytes()
    second = StreamWriter().test(f"{CATALOG}[id-1]", "success").bytes()
    run = read_stream(io.BytesIO(first + second))
    assert [r.status for r in run.tests] == ["success"]
    assert run.reasons() == {}


def test_an_interrupted_test_is_not_a_result() -> None:
    run = outcome(StreamWriter().test(f"{CATALOG}[id-1]", "success").started(f"{TOKENS}.x[id-2]"))
    assert [r.name for r in run.tests] == [CATALOG]


def test_a_test_under_two_capabilities_counts_once() -> None:
    guideline = load_guideline("2020.06")
    everything = {t.name for t in guideline.tests_for("object")}
    graded = grade(guideline, "object", everything)
    assert graded.passed
    entries = sum(len(c.counted) for c in graded.capabilities)
    assert graded.required_total == len(everything) < entries


def test_a_renamed_test_passes_under_its_new_name_only_when_told() -> None:
    old = "tempest.api.volume.test_volumes_list.VolumesV2ListTestJSON.test_volumes_list_by_status"
    new = "tempest.api.volume.test_volumes_list.VolumesListTestJSON.test_volumes_list_by_status"
    writer = StreamWriter().test(f"{new}[id-39654e13-734c-4dab-95ce-7613bf8407ce]", "success")
    run = outcome(writer)
    guideline, only = load_guideline("2016.08"), ("volumes-v2-list",)

    def status(graded: Grade) -> bool:
        tests = {t.test.name: t for c in graded.capabilities for t in c.tests}
        return tests[old].passed

    assert not status(grade(guideline, "compute", run.passed_names(), only=only))
    assert status(grade(guideline, "compute", run.passed_names(), only=only, renamed={old: new}))
