"""Per-project endpoints: expanded for a project-scoped token, left out without a project."""

from __future__ import annotations

from interstack.services.catalog import PROJECT_ID, Catalog, ServiceSpec

SPECS = [
    ServiceSpec(type="identity", name="keystone", path="v3", regional=False),
    ServiceSpec(type="object-store", name="swift", path=f"object/v1/AUTH_{PROJECT_ID}"),
]


def test_project_endpoints_are_expanded_for_the_tokens_project() -> None:
    catalog = Catalog("http://gw:5000", ["RegionOne", "RegionTwo"], SPECS)
    services = {s.type: s for s in catalog.services("p1")}
    urls = sorted(e.url for e in services["object-store"].endpoints)
    assert urls == [
        "http://gw:5000/RegionOne/object/v1/AUTH_p1",
        "http://gw:5000/RegionTwo/object/v1/AUTH_p1",
    ]
    assert catalog.url_for("object-store", "RegionTwo", "p2") == (
        "http://gw:5000/RegionTwo/object/v1/AUTH_p2"
    )
    # ids stay stable whatever the project, as Keystone's endpoint ids do
    other = {s.type: s for s in catalog.services("p2")}
    assert [e.id for e in other["object-store"].endpoints] == [
        e.id for e in services["object-store"].endpoints
    ]


def test_without_a_project_the_per_project_service_is_left_out() -> None:
    catalog = Catalog("http://gw:5000", ["RegionOne"], SPECS)
    assert [s.type for s in catalog.services(None)] == ["identity"]
    assert [e.url for e in catalog.services(None)[0].endpoints] == ["http://gw:5000/v3"]
