"""The headers Swift sends on every answer, empty ones included (Tempest checks each of them):
a transaction id that is also the request id, a Date, a Content-Type, ``Content-Length: 0`` on
empty bodies, counts and timestamps on HEAD, and what a copy tells of its source."""

from __future__ import annotations

import re

import httpx

from tests.support.identity import unique

TRANS_ID = re.compile(r"^tx[0-9a-f]{21}-[0-9a-f]{10}$")
EMPTY_TYPE = "text/html; charset=UTF-8"


def assert_common(response: httpx.Response, status: int) -> None:
    assert response.status_code == status, response.text
    headers = response.headers
    assert TRANS_ID.match(headers["x-trans-id"]), headers["x-trans-id"]
    assert headers["x-openstack-request-id"] == headers["x-trans-id"]
    assert headers.get_list("x-openstack-request-id") == [headers["x-trans-id"]]
    assert headers["date"].endswith("GMT")
    assert headers["content-type"]


def assert_empty(response: httpx.Response, status: int) -> None:
    assert_common(response, status)
    assert response.content == b""
    assert response.headers["content-length"] == "0"
    assert response.headers["content-type"] == EMPTY_TYPE


def test_container_writes_answer_empty_bodies_with_swift_headers(swift: httpx.Client) -> None:
    name = unique("hdr")
    assert_empty(swift.put(f"/{name}"), 201)
    assert_empty(swift.put(f"/{name}"), 202)
    assert_empty(swift.post(f"/{name}", headers={"X-Container-Meta-Colour": "blue"}), 204)
    assert_empty(swift.delete(f"/{name}"), 204)


def test_object_writes_answer_empty_bodies_with_swift_headers(swift: httpx.Client) -> None:
    name = unique("hdr")
    swift.put(f"/{name}")
    put = swift.put(f"/{name}/o", content=b"hello")
    assert_empty(put, 201)
    assert put.headers["etag"] == "5d41402abc4b2a76b9719d911017c592"
    assert put.headers["last-modified"].endswith("GMT")
    assert re.fullmatch(r"\d+\.\d{5}", put.headers["x-timestamp"])
    assert_empty(swift.post(f"/{name}/o", headers={"X-Object-Meta-A": "b"}), 202)
    assert_empty(swift.delete(f"/{name}/o"), 204)


def test_heads_carry_counts_bytes_and_timestamps(swift: httpx.Client) -> None:
    name = unique("hdr")
    swift.put(f"/{name}")
    swift.put(f"/{name}/o", content=b"12345")
    account = swift.head("")
    assert_common(account, 204)
    assert account.headers["content-length"] == "0"
    assert account.headers["content-type"] == "text/plain; charset=utf-8"
    for header in ("x-account-container-count", "x-account-object-count"):
        assert int(account.headers[header]) >= 1
    assert int(account.headers["x-account-bytes-used"]) >= 5
    assert re.fullmatch(r"\d+\.\d{5}", account.headers["x-timestamp"])
    assert account.headers["accept-ranges"] == "bytes"

    container = swift.head(f"/{name}", headers={"Accept": "application/json"})
    assert_common(container, 204)
    assert container.headers["content-type"] == "application/json; charset=utf-8"
    assert container.headers["x-container-object-count"] == "1"
    assert container.headers["x-container-bytes-used"] == "5"
    assert container.headers["x-storage-policy"] == "Policy-0"
    assert re.fullmatch(r"\d+\.\d{5}", container.headers["x-timestamp"])

    head = swift.head(f"/{name}/o")
    assert_common(head, 200)
    assert head.headers["content-length"] == "5"
    assert head.headers["accept-ranges"] == "bytes"
    assert head.headers["last-modified"].endswith("GMT")
    assert re.fullmatch(r"\d+\.\d{5}", head.headers["x-timestamp"])


def test_empty_listings_and_faults_carry_the_headers_too(swift: httpx.Client) -> None:
    name = unique("hdr")
    swift.put(f"/{name}")
    plain = swift.get(f"/{name}")
    assert_common(plain, 204)
    assert plain.headers["content-length"] == "0"
    assert plain.headers["x-container-object-count"] == "0"
    as_json = swift.get(f"/{name}", params={"format": "json"})
    assert_common(as_json, 200)
    assert as_json.json() == []
    missing = swift.head(f"/{name}/absent")
    assert_common(missing, 404)
    assert missing.headers["content-type"].startswith("text/html")


def test_copies_tell_their_source_and_its_last_modified(swift: httpx.Client) -> None:
    name = unique("hdr")
    swift.put(f"/{name}")
    source = swift.put(f"/{name}/a b", content=b"x")
    copy = swift.request("COPY", f"/{name}/a%20b", headers={"Destination": f"{name}/c"})
    assert_empty(copy, 201)
    assert copy.headers["x-copied-from"] == f"{name}/a%20b"
    assert copy.headers["x-copied-from-last-modified"] == source.headers["last-modified"]
    assert "x-copied-from-account" not in copy.headers
    put = swift.put(f"/{name}/d", headers={"X-Copy-From": f"{name}/c"})
    assert_empty(put, 201)
    assert put.headers["x-copied-from"] == f"{name}/c"
    assert put.headers["etag"] == copy.headers["etag"]


def test_posting_x_object_manifest_makes_a_dynamic_large_object(swift: httpx.Client) -> None:
    name = unique("hdr")
    swift.put(f"/{name}")
    for index, part in enumerate((b"ab", b"cd")):
        swift.put(f"/{name}/big/{index}", content=part)
    swift.put(f"/{name}/big", content=b"")
    posted = swift.post(f"/{name}/big", headers={"X-Object-Manifest": f"{name}/big/"})
    assert_empty(posted, 202)
    head = swift.head(f"/{name}/big")
    assert head.headers["x-object-manifest"] == f"{name}/big/"
    assert head.headers["etag"].startswith('"')
    assert swift.get(f"/{name}/big").content == b"abcd"
    bad = swift.post(f"/{name}/big", headers={"X-Object-Manifest": "no-slash"})
    assert bad.status_code == 400
