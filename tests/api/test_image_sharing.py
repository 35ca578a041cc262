"""Who sees which image: private, shared (members accept or reject), public, community."""

from __future__ import annotations

import httpx
import pytest

from tests.support.gateway import ServedGateway
from tests.support.identity import Member, member_of, unique
from tests.support.image import assert_glance_fault, create, image_client, patch, upload


@pytest.fixture(scope="module")
def owner_member(gateway: ServedGateway) -> tuple[Member, Member]:
    return member_of(gateway), member_of(gateway)


@pytest.fixture(scope="module")
def owner(gateway: ServedGateway, owner_member: tuple[Member, Member]) -> httpx.Client:
    return image_client(gateway, owner_member[0].token(gateway))


@pytest.fixture(scope="module")
def other(gateway: ServedGateway, owner_member: tuple[Member, Member]) -> httpx.Client:
    return image_client(gateway, owner_member[1].token(gateway))


@pytest.fixture(scope="module")
def admin(gateway: ServedGateway, admin_token: str) -> httpx.Client:
    return image_client(gateway, admin_token)


def _listed(api: httpx.Client, run: str, **query: str) -> set[str]:
    response = api.get("/v2/images", params={"tag": run, **query})
    assert response.status_code == 200, response.text
    return {i["id"] for i in response.json()["images"]}


def test_private_image_is_404_for_another_project(owner: httpx.Client, other: httpx.Client) -> None:
    run = unique("priv")
    image = create(owner, name=run, visibility="private", tags=[run])
    upload(owner, image["id"], b"secret")
    url = f"/v2/images/{image['id']}"
    assert owner.get(url).status_code == 200
    for response in (
        other.get(url),
        other.get(f"{url}/file"),
        other.delete(url),
        patch(other, image["id"], {"op": "replace", "path": "/name", "value": "mine"}),
        other.put(f"{url}/tags/t"),
        other.get(f"{url}/members"),
    ):
        assert_glance_fault(response, 404, "Not Found")
    assert _listed(other, run) == set()
    assert _listed(other, run, visibility="all") == set()
    assert _listed(owner, run) == {image["id"]}


def test_shared_image_after_membership_accepted(
    owner: httpx.Client, other: httpx.Client, owner_member: tuple[Member, Member]
) -> None:
    other_project = owner_member[1].project_id
    run = unique("shared")
    image = create(owner, name=run, tags=[run])  # shared by default
    members = f"/v2/images/{image['id']}/members"
    added = owner.post(members, json={"member": other_project})
    assert added.status_code == 200, added.text
    assert added.json()["status"] == "pending" and added.json()["schema"] == "/v2/schemas/member"
    again = owner.post(members, json={"member": other_project})
    assert_glance_fault(again, 409, "Conflict")

    # pending: reachable by id, not listed unless asked for
    assert other.get(f"/v2/images/{image['id']}").status_code == 200
    assert _listed(other, run) == set()
    assert _listed(other, run, member_status="pending") == {image["id"]}

    # only the member answers for itself
    by_owner = owner.put(f"{members}/{other_project}", json={"status": "accepted"})
    assert_glance_fault(by_owner, 403, "Forbidden")
    accepted = other.put(f"{members}/{other_project}", json={"status": "accepted"})
    assert accepted.status_code == 200 and accepted.json()["status"] == "accepted"
    assert _listed(other, run) == {image["id"]}
    assert _listed(other, run, visibility="shared") == {image["id"]}
    assert [m["member_id"] for m in other.get(members).json()["members"]] == [other_project]
    assert other.get(f"{members}/{other_project}").json()["status"] == "accepted"

    # a member may use the image, not change it
    renamed = patch(other, image["id"], {"op": "replace", "path": "/name", "value": "mine"})
    assert_glance_fault(renamed, 403, "Forbidden")
    assert_glance_fault(other.delete(f"/v2/images/{image['id']}"), 403, "Forbidden")
    bad_status = other.put(f"{members}/{other_project}", json={"status": "maybe"})
    assert_glance_fault(bad_status, 400, "Bad Request")

    rejected = other.put(f"{members}/{other_project}", json={"status": "rejected"})
    assert rejected.json()["status"] == "rejected"
    assert _listed(other, run) == set()

    assert owner.delete(f"{members}/{other_project}").status_code == 204
    assert_glance_fault(other.get(f"/v2/images/{image['id']}"), 404, "Not Found")
    assert_glance_fault(owner.get(f"{members}/{other_project}"), 404, "Not Found")


def test_only_shared_images_have_members(
    owner: httpx.Client, owner_member: tuple[Member, Member]
) -> None:
    image = create(owner, name=unique("private"), visibility="private")
    refused = owner.post(
        f"/v2/images/{image['id']}/members", json={"member": owner_member[1].project_id}
    )
    assert "shared" in assert_glance_fault(refused, 403, "Forbidden")


def test_public_is_for_admins_and_seen_by_all(
    owner: httpx.Client, other: httpx.Client, admin: httpx.Client
) -> None:
    run = unique("public")
    image = create(owner, name=run, tags=[run])
    refused = patch(owner, image["id"], {"op": "replace", "path": "/visibility", "value": "public"})
    assert_glance_fault(refused, 403, "Forbidden")
    published = patch(
        admin, image["id"], {"op": "replace", "path": "/visibility", "value": "public"}
    )
    assert published.status_code == 200 and published.json()["visibility"] == "public"
    assert _listed(other, run) == {image["id"]}
    assert _listed(other, run, visibility="public") == {image["id"]}


def test_community_images_are_listed_only_when_asked(
    owner: httpx.Client, other: httpx.Client
) -> None:
    run = unique("community")
    image = create(owner, name=run, tags=[run], visibility="community")
    assert _listed(owner, run) == {image["id"]}
    assert _listed(other, run) == set()
    assert _listed(other, run, visibility="community") == {image["id"]}
    assert _listed(other, run, visibility="all") == {image["id"]}
    assert other.get(f"/v2/images/{image['id']}").status_code == 200


def test_admin_sees_everything(owner: httpx.Client, admin: httpx.Client) -> None:
    run = unique("adm")
    image = create(owner, name=run, tags=[run], visibility="private")
    assert admin.get(f"/v2/images/{image['id']}").status_code == 200
    assert _listed(admin, run) == {image["id"]}
