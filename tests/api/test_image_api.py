"""Glance v2 over raw HTTP: discovery, create defaults, JSON-patch rules, lists, actions, faults."""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

import httpx
import pytest

from tests.support.gateway import ServedGateway
from tests.support.identity import unique
from tests.support.image import (
    OCTETS,
    PATCH,
    assert_glance_fault,
    create,
    image_client,
    patch,
    upload,
)


@pytest.fixture(scope="module")
def demo(gateway: ServedGateway, demo_token: str) -> httpx.Client:
    return image_client(gateway, demo_token)


@pytest.fixture(scope="module")
def admin(gateway: ServedGateway, admin_token: str) -> httpx.Client:
    return image_client(gateway, admin_token)


def test_root_answers_300_with_versions_and_catalog_lists_image(
    gateway: ServedGateway, demo: httpx.Client, demo_token: str
) -> None:
    endpoint = f"{gateway.url}/RegionOne/image"
    for path in ("", "/"):
        root = httpx.get(endpoint + path)
        assert root.status_code == 300, root.text
        versions = root.json()["versions"]
        assert [v["id"] for v in versions if v["status"] == "CURRENT"] == ["v2.7"]
        assert {"v2.0", "v2.1"} <= {v["id"] for v in versions}
        assert versions[0]["links"] == [{"rel": "self", "href": f"{endpoint}/v2/"}]
    assert httpx.get(f"{endpoint}/versions").status_code == 200

    catalog = httpx.get(
        f"{gateway.url}/v3/auth/catalog", headers={"X-Auth-Token": demo_token}
    ).json()["catalog"]
    image = next(s for s in catalog if s["type"] == "image")
    assert image["name"] == "glance"
    assert [(e["region"], e["url"]) for e in image["endpoints"]] == [("RegionOne", endpoint)]


def test_create_has_glance_defaults(demo: httpx.Client) -> None:
    created = create(demo, name=unique("img"), tags=["a", "b", "a"], os_distro="debian")
    assert created["status"] == "queued"
    assert created["visibility"] == "shared"  # the default since Image API v2.5
    assert created["protected"] is False and created["os_hidden"] is False
    assert created["size"] is None and created["checksum"] is None
    assert created["os_hash_algo"] is None and created["os_hash_value"] is None
    assert created["min_disk"] == 0 and created["min_ram"] == 0
    assert created["tags"] == ["a", "b"]
    assert created["os_distro"] == "debian"
    assert created["self"] == f"/v2/images/{created['id']}"
    assert created["file"] == f"/v2/images/{created['id']}/file"
    assert created["schema"] == "/v2/schemas/image"
    assert created["created_at"].endswith("Z")
    shown = demo.get(f"/v2/images/{created['id']}").json()
    assert shown == created


def test_create_with_id_and_duplicate_is_409(demo: httpx.Client) -> None:
    image_id = str(uuid.uuid4())
    assert create(demo, id=image_id)["id"] == image_id
    again = demo.post("/v2/images", json={"id": image_id})
    assert image_id in assert_glance_fault(again, 409, "Conflict")


@pytest.mark.parametrize(
    ("body", "status", "phrase", "words"),
    [
        ({"status": "active"}, 403, "Forbidden", "read-only"),
        ({"checksum": "0" * 32}, 403, "Forbidden", "read-only"),
        ({"deleted": True}, 403, "Forbidden", "reserved"),
        ({"disk_format": "floppy"}, 400, "Bad Request", "disk_format"),
        ({"visibility": "everyone"}, 400, "Bad Request", "visibility"),
        ({"min_ram": -1}, 400, "Bad Request", "min_ram"),
        ({"protected": "yes"}, 400, "Bad Request", "protected"),
        ({"name": "x" * 256}, 400, "Bad Request", "name"),
        ({"hw_cpu_cores": 4}, 400, "Bad Request", "strings"),
        ({"id": "not-a-uuid"}, 400, "Bad Request", "UUID"),
        ({"visibility": "public"}, 403, "Forbidden", "publicize"),
    ],
)
def test_create_refusals(
    demo: httpx.Client, body: dict[str, object], status: int, phrase: str, words: str
) -> None:
    message = assert_glance_fault(demo.post("/v2/images", json=body), status, phrase)
    assert words in message


def test_malformed_and_oversized_bodies(demo: httpx.Client) -> None:
    bad = demo.post(
        "/v2/images", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert "JSON" in assert_glance_fault(bad, 400, "Bad Request")
    huge = demo.post("/v2/images", json={"description": "x" * 200_000})
    assert_glance_fault(huge, 413, "Request Entity Too Large")


def test_json_patch_add_replace_remove(demo: httpx.Client) -> None:
    image = create(demo, name=unique("patch"), color="red")
    url = f"/v2/images/{image['id']}"
    changed = patch(
        demo,
        image["id"],
        {"op": "replace", "path": "/name", "value": "renamed"},
        {"op": "add", "path": "/shape", "value": "round"},
        {"op": "add", "path": "/color", "value": "blue"},  # add replaces (v2.1 patch)
        {"op": "replace", "path": "/min_ram", "value": 512},
        {"op": "add", "path": "/tags", "value": ["x", "y"]},
    )
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert body["name"] == "renamed" and body["min_ram"] == 512
    assert body["shape"] == "round" and body["color"] == "blue" and body["tags"] == ["x", "y"]

    removed = patch(demo, image["id"], {"op": "remove", "path": "/shape"})
    assert "shape" not in removed.json()
    assert demo.get(url).json()["color"] == "blue"

    missing = patch(demo, image["id"], {"op": "replace", "path": "/shape", "value": "square"})
    assert "shape" in assert_glance_fault(missing, 409, "Conflict")
    gone = patch(demo, image["id"], {"op": "remove", "path": "/shape"})
    assert_glance_fault(gone, 409, "Conflict")
    core = patch(demo, image["id"], {"op": "remove", "path": "/name"})
    assert "may not be removed" in assert_glance_fault(core, 403, "Forbidden")


def test_json_patch_refusals_change_nothing(demo: httpx.Client) -> None:
    image = create(demo, name=unique("atomic"))
    refused = patch(
        demo,
        image["id"],
        {"op": "replace", "path": "/name", "value": "half-done"},
        {"op": "replace", "path": "/size", "value": 5},
    )
    assert "read-only" in assert_glance_fault(refused, 403, "Forbidden")
    conflict = patch(
        demo,
        image["id"],
        {"op": "replace", "path": "/name", "value": "half-done"},
        {"op": "replace", "path": "/nothing-here", "value": "x"},
    )
    assert_glance_fault(conflict, 409, "Conflict")
    assert demo.get(f"/v2/images/{image['id']}").json()["name"] == image["name"]

    for ops, words in [
        ([{"op": "move", "from": "/a", "path": "/b"}], "op"),
        ([{"op": "replace", "path": "name", "value": "x"}], "pointer"),
        ([{"op": "replace", "path": "/a/b", "value": "x"}], "pointer"),
        ([{"op": "replace", "path": "/name"}], "value"),
        ({"op": "replace"}, "list"),
    ]:
        response = demo.patch(f"/v2/images/{image['id']}", json=ops, headers=PATCH)
        assert words in assert_glance_fault(response, 400, "Bad Request")

    plain = demo.patch(
        f"/v2/images/{image['id']}", json=[], headers={"Content-Type": "application/json"}
    )
    assert PATCH["Content-Type"] in assert_glance_fault(plain, 415, "Unsupported Media Type")


def test_json_patch_v20_format_as_tempest_sends_it(demo: httpx.Client) -> None:
    image = create(demo, name=unique("v20"), color="red")
    v20 = {"Content-Type": "application/openstack-images-v2.0-json-patch"}
    url = f"/v2/images/{image['id']}"
    changed = demo.patch(
        url,
        json=[
            {"replace": "/name", "value": "renamed"},
            {"add": "/shape", "value": "round"},
            {"remove": "/color"},
        ],
        headers=v20,
    )
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert body["name"] == "renamed" and body["shape"] == "round" and "color" not in body
    # in the v2.0 format, add does not overwrite
    present = demo.patch(url, json=[{"add": "/shape", "value": "square"}], headers=v20)
    assert "already present" in assert_glance_fault(present, 409, "Conflict")
    two = demo.patch(url, json=[{"add": "/a", "replace": "/b", "value": "x"}], headers=v20)
    assert_glance_fault(two, 400, "Bad Request")
    assert demo.get(url).json()["shape"] == "round"


def test_formats_are_fixed_once_data_is_uploaded(demo: httpx.Client) -> None:
    image = create(demo, name=unique("fixed"))
    upload(demo, image["id"], b"data")
    refused = patch(demo, image["id"], {"op": "replace", "path": "/disk_format", "value": "qcow2"})
    assert "queued" in assert_glance_fault(refused, 403, "Forbidden")
    same = patch(demo, image["id"], {"op": "replace", "path": "/disk_format", "value": "raw"})
    assert same.status_code == 200


def test_upload_download_checksums_ranges_and_states(demo: httpx.Client) -> None:
    data = bytes(range(256)) * 1000
    image = create(demo, name=unique("data"))
    url = f"/v2/images/{image['id']}/file"
    assert demo.get(url).status_code == 204  # no data yet
    wrong_type = demo.put(url, content=data, headers={"Content-Type": "text/plain"})
    assert_glance_fault(wrong_type, 415, "Unsupported Media Type")
    upload(demo, image["id"], data)

    shown = demo.get(f"/v2/images/{image['id']}").json()
    assert shown["status"] == "active" and shown["size"] == len(data)
    assert shown["checksum"] == hashlib.md5(data).hexdigest()
    assert shown["os_hash_algo"] == "sha512"
    assert shown["os_hash_value"] == hashlib.sha512(data).hexdigest()

    whole = demo.get(url)
    assert whole.status_code == 200 and whole.content == data
    assert whole.headers["Content-MD5"] == shown["checksum"]
    assert whole.headers["Content-Type"] == "application/octet-stream"
    part = demo.get(url, headers={"Range": "bytes=1000-1999"})
    assert part.status_code == 206 and part.content == data[1000:2000]
    assert part.headers["Content-Range"] == f"bytes 1000-1999/{len(data)}"
    tail = demo.get(url, headers={"Range": "bytes=-10"})
    assert tail.status_code == 206 and tail.content == data[-10:]
    beyond = demo.get(url, headers={"Range": f"bytes={len(data)}-"})
    assert_glance_fault(beyond, 416, "Requested Range Not Satisfiable")

    again = demo.put(url, content=b"other", headers=OCTETS)
    assert "active" in assert_glance_fault(again, 409, "Conflict")
    assert demo.get(url).content == data


def test_upload_needs_formats(demo: httpx.Client) -> None:
    response = demo.post("/v2/images", json={"name": unique("noformat")})
    image_id = response.json()["id"]
    refused = demo.put(f"/v2/images/{image_id}/file", content=b"x", headers=OCTETS)
    assert "disk_format" in assert_glance_fault(refused, 400, "Bad Request")
    assert demo.get(f"/v2/images/{image_id}").json()["status"] == "queued"


def test_protected_image_cannot_be_deleted(demo: httpx.Client) -> None:
    image = create(demo, name=unique("protected"), protected=True)
    url = f"/v2/images/{image['id']}"
    assert "protected" in assert_glance_fault(demo.delete(url), 403, "Forbidden")
    assert patch(demo, image["id"], {"op": "replace", "path": "/protected", "value": False})
    assert demo.delete(url).status_code == 204
    assert_glance_fault(demo.get(url), 404, "Not Found")
    assert_glance_fault(demo.delete(url), 404, "Not Found")


def test_deactivate_and_reactivate(demo: httpx.Client, admin: httpx.Client) -> None:
    image = create(demo, name=unique("deact"))
    actions = f"/v2/images/{image['id']}/actions"
    refused = admin.post(f"{actions}/deactivate")
    assert "queued" in assert_glance_fault(refused, 403, "Forbidden")
    upload(demo, image["id"], b"bits")
    assert_glance_fault(demo.post(f"{actions}/deactivate"), 403, "Forbidden")
    assert admin.post(f"{actions}/deactivate").status_code == 204
    assert demo.get(f"/v2/images/{image['id']}").json()["status"] == "deactivated"
    blocked = demo.get(f"/v2/images/{image['id']}/file")
    assert "deactivated" in assert_glance_fault(blocked, 403, "Forbidden")
    assert admin.get(f"/v2/images/{image['id']}/file").content == b"bits"
    assert admin.post(f"{actions}/reactivate").status_code == 204
    assert demo.get(f"/v2/images/{image['id']}/file").content == b"bits"


def test_tags(demo: httpx.Client) -> None:
    image = create(demo, name=unique("tags"), tags=["one"])
    url = f"/v2/images/{image['id']}"
    assert demo.put(f"{url}/tags/two").status_code == 204
    assert demo.put(f"{url}/tags/two").status_code == 204
    assert demo.get(url).json()["tags"] == ["one", "two"]
    assert demo.delete(f"{url}/tags/one").status_code == 204
    assert demo.get(url).json()["tags"] == ["two"]
    assert_glance_fault(demo.delete(f"{url}/tags/one"), 404, "Not Found")
    assert_glance_fault(demo.put(f"{url}/tags/{'t' * 256}"), 400, "Bad Request")


def test_list_filters(demo: httpx.Client) -> None:
    run = unique("flt")
    small = create(demo, name=f"{run}-small", tags=[run, "small"], flavor="vanilla")
    large = create(demo, name=f"{run}-large", tags=[run], disk_format="qcow2")
    queued = create(demo, name=f"{run}-queued", tags=[run])
    upload(demo, small["id"], b"x" * 10)
    upload(demo, large["id"], b"x" * 1000)

    def names(**query: Any) -> set[str]:
        response = demo.get("/v2/images", params={"tag": run, **query})
        assert response.status_code == 200, response.text
        return {i["name"] for i in response.json()["images"]}

    assert names() == {f"{run}-small", f"{run}-large", f"{run}-queued"}
    assert names(name=f"{run}-small") == {f"{run}-small"}
    assert names(name=f'in:{run}-small,"{run}-large"') == {f"{run}-small", f"{run}-large"}
    assert names(status="queued") == {queued["name"]}
    assert names(disk_format="qcow2") == {large["name"]}
    assert names(size_min=100) == {large["name"]}
    assert names(size_max=100) == {small["name"]}
    assert names(size=1000) == {large["name"]}
    assert names(checksum=hashlib.md5(b"x" * 10).hexdigest()) == {small["name"]}
    assert names(flavor="vanilla") == {small["name"]}
    assert names(tag=[run, "small"]) == {small["name"]}
    assert names(visibility="private") == set()
    hidden = create(demo, name=f"{run}-hidden", tags=[run], os_hidden=True)
    assert hidden["name"] not in names()
    assert names(os_hidden="true") == {hidden["name"]}
    assert names(created_at=f"gte:{small['created_at']}") == names()
    assert names(created_at="lt:2000-01-01T00:00:00Z") == set()
    assert_glance_fault(demo.get("/v2/images", params={"size_min": "x"}), 400, "Bad Request")
    bad = demo.get("/v2/images", params={"visibility": "everyone"})
    assert_glance_fault(bad, 400, "Bad Request")


def test_list_sorting_and_paging(demo: httpx.Client) -> None:
    run = unique("page")
    for letter in "cabed":
        create(demo, name=f"{run}-{letter}", tags=[run])

    def listed(**query: Any) -> list[str]:
        response = demo.get("/v2/images", params={"tag": run, **query})
        assert response.status_code == 200, response.text
        return [i["name"][-1] for i in response.json()["images"]]

    assert listed(sort="name:asc") == list("abcde")
    assert listed(sort_key="name", sort_dir="desc") == list("edcba")
    assert listed(sort="status:asc,name") == list("edcba")  # default direction desc
    default = demo.get("/v2/images", params={"tag": run}).json()["images"]
    newest_first = sorted(default, key=lambda i: (i["created_at"], i["id"]), reverse=True)
    assert default == newest_first  # created_at desc, then id desc, as Glance
    mixed = demo.get("/v2/images", params={"sort": "name:asc", "sort_key": "name"})
    assert_glance_fault(mixed, 400, "Bad Request")
    unknown = demo.get("/v2/images", params={"sort_key": "color"})
    assert "color" in assert_glance_fault(unknown, 400, "Bad Request")

    seen: list[str] = []
    response = demo.get("/v2/images", params={"tag": run, "sort": "name:asc", "limit": 2})
    body = response.json()
    assert body["first"].startswith("/v2/images?") and body["schema"] == "/v2/schemas/images"
    while True:
        seen += [i["name"][-1] for i in body["images"]]
        if "next" not in body:
            break
        assert body["next"].startswith("/v2/images?")
        body = demo.get(body["next"]).json()
    assert seen == list("abcde")
    marker = demo.get("/v2/images", params={"marker": str(uuid.uuid4())})
    assert_glance_fault(marker, 400, "Bad Request")


def test_schemas(demo: httpx.Client) -> None:
    image = demo.get("/v2/schemas/image").json()
    assert image["name"] == "image"
    assert image["additionalProperties"] == {"type": "string"}
    assert image["properties"]["status"]["readOnly"] is True
    assert "raw" in image["properties"]["disk_format"]["enum"]
    images = demo.get("/v2/schemas/images").json()
    assert images["properties"]["images"]["items"]["name"] == "image"
    member = demo.get("/v2/schemas/member").json()
    assert member["properties"]["status"]["enum"] == ["pending", "accepted", "rejected"]
    assert demo.get("/v2/schemas/members").json()["name"] == "members"
    assert httpx.get(f"{demo.base_url}v2/schemas/image").status_code == 401


def test_unknown_paths_and_regions_answer_in_glance_format(
    gateway: ServedGateway, demo: httpx.Client, demo_token: str
) -> None:
    assert_glance_fault(demo.get("/v2/nothing"), 404, "Not Found")
    assert_glance_fault(demo.get("/v2/info/import"), 404, "Not Found")
    other = image_client(gateway, demo_token, region="Nowhere").get("/v2/images")
    assert other.status_code == 404
    assert_glance_fault(demo.post("/v2/images/x/tags/y"), 405, "Method Not Allowed")


def test_an_empty_image_id_is_not_found(demo: httpx.Client) -> None:
    """``/v2/images/`` names no image (Tempest's null-id tests): 404, not the list nor a 405."""
    assert_glance_fault(demo.get("/v2/images/"), 404, "Not Found")
    assert_glance_fault(demo.delete("/v2/images/"), 404, "Not Found")
    assert_glance_fault(demo.patch("/v2/images/", json=[]), 404, "Not Found")
    assert httpx.get(f"{demo.base_url}v2/images/").status_code == 401
