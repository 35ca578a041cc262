"""Swift v1 over raw HTTP against a served gateway: the catalog entry, /info, accounts,
containers, objects, metadata, listings, ranges, conditions, checksums and isolation."""

from __future__ import annotations

import hashlib
import re
from typing import Any
from xml.etree import ElementTree

import httpx

from tests.support.gateway import ServedGateway
from tests.support.identity import member_of, unique
from tests.support.swift import storage_url


def assert_swift_fault(response: httpx.Response, status: int) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert "Traceback" not in response.text
    assert response.headers["x-trans-id"].startswith("tx")


def test_catalog_points_each_project_at_its_own_account(
    gateway: ServedGateway, demo_token: str, admin_token: str
) -> None:
    demo = storage_url(gateway, demo_token)
    admin = storage_url(gateway, admin_token)
    assert re.fullmatch(rf"{gateway.url}/RegionOne/object/v1/AUTH_[0-9a-f]{{32}}", demo)
    assert demo != admin
    project = httpx.get(
        f"{gateway.url}/v3/auth/tokens",
        headers={"X-Auth-Token": demo_token, "X-Subject-Token": demo_token},
    ).json()["token"]["project"]["id"]
    assert demo.endswith(f"AUTH_{project}")


def test_info_lists_the_features_served_with_their_limits(gateway: ServedGateway) -> None:
    for url in (f"{gateway.url}/info", f"{gateway.url}/RegionOne/object/info"):
        response = httpx.get(url)
        assert response.status_code == 200
        info = response.json()
        assert set(info) == {
            "swift",
            "slo",
            "dlo",
            "tempurl",
            "bulk_delete",
            "versioned_writes",
            "account_quotas",
            "container_quotas",
            "keystoneauth",
        }
        assert info["swift"]["max_file_size"] == 5 * 1024**3
        assert info["swift"]["container_listing_limit"] == 10_000
        assert info["tempurl"]["allowed_digests"] == ["sha1", "sha256", "sha512"]
        assert response.headers["x-trans-id"].startswith("tx")


def test_account_counts_and_metadata(swift: httpx.Client) -> None:
    name = unique("acct")
    before = swift.head("")
    assert before.status_code == 204
    assert swift.put(f"/{name}").status_code == 201
    assert swift.put(f"/{name}/o1", content=b"12345").status_code == 201
    after = swift.head("").headers
    assert (
        int(after["x-account-container-count"])
        == int(before.headers["x-account-container-count"]) + 1
    )
    assert int(after["x-account-object-count"]) >= 1
    assert int(after["x-account-bytes-used"]) == int(before.headers["x-account-bytes-used"]) + 5
    assert swift.post("", headers={"X-Account-Meta-Owner": "team-a"}).status_code == 204
    assert swift.head("").headers["x-account-meta-owner"] == "team-a"
    assert swift.post("", headers={"X-Remove-Account-Meta-Owner": "x"}).status_code == 204
    assert "x-account-meta-owner" not in swift.head("").headers
    listing = swift.get("", params={"format": "json", "prefix": name}).json()
    assert listing == [
        {"name": name, "count": 1, "bytes": 5, "last_modified": listing[0]["last_modified"]}
    ]
    assert swift.get("", params={"prefix": name}).text == f"{name}\n"
    root = ElementTree.fromstring(swift.get("", params={"format": "xml", "prefix": name}).content)
    assert root.tag == "account"
    assert [(c.findtext("name"), c.findtext("count")) for c in root.findall("container")] == [
        (name, "1")
    ]


def test_container_lifecycle_and_metadata(swift: httpx.Client) -> None:
    name = unique("life")
    created = swift.put(f"/{name}", headers={"X-Container-Meta-Color": "blue"})
    assert created.status_code == 201
    assert created.headers["x-trans-id"].startswith("tx")
    again = swift.put(f"/{name}", headers={"X-Container-Meta-Size": "big"})
    assert again.status_code == 202
    head = swift.head(f"/{name}")
    assert head.status_code == 204
    assert head.headers["x-container-meta-color"] == "blue"
    assert head.headers["x-container-meta-size"] == "big"
    assert head.headers["x-container-object-count"] == "0"
    assert float(head.headers["x-timestamp"]) > 0
    assert swift.post(f"/{name}", headers={"X-Remove-Container-Meta-Color": "1"}).status_code == 204
    assert "x-container-meta-color" not in swift.head(f"/{name}").headers
    assert swift.put(f"/{name}/obj", content=b"x").status_code == 201
    assert_swift_fault(swift.delete(f"/{name}"), 409)
    assert swift.delete(f"/{name}/obj").status_code == 204
    assert swift.delete(f"/{name}").status_code == 204
    assert_swift_fault(swift.head(f"/{name}"), 404)
    assert_swift_fault(swift.delete(f"/{name}"), 404)


def test_bad_names_and_metadata_are_400(swift: httpx.Client, container: str) -> None:
    assert_swift_fault(swift.put(f"/{'x' * 257}"), 400)
    assert_swift_fault(swift.put(f"/{container}/{'o' * 1025}", content=b""), 400)
    headers = {"X-Object-Meta-Big": "v" * 257}
    assert_swift_fault(swift.put(f"/{container}/o", content=b"", headers=headers), 400)
    assert_swift_fault(swift.put(f"/{unique('none')}/o", content=b"x"), 404)


def test_object_round_trip_with_metadata_and_headers(swift: httpx.Client, container: str) -> None:
    data = b"hello swift\n" * 100
    put = swift.put(
        f"/{container}/dir/hello.txt",
        content=data,
        headers={"X-Object-Meta-Color": "red", "Content-Disposition": "inline"},
    )
    assert put.status_code == 201
    assert put.headers["etag"] == hashlib.md5(data).hexdigest()
    got = swift.get(f"/{container}/dir/hello.txt")
    assert got.status_code == 200
    assert got.content == data
    assert got.headers["content-type"] == "text/plain"  # detected from the name
    assert got.headers["x-object-meta-color"] == "red"
    assert got.headers["content-disposition"] == "inline"
    assert got.headers["accept-ranges"] == "bytes"
    assert got.headers["x-trans-id"].startswith("tx")
    head = swift.head(f"/{container}/dir/hello.txt")
    assert head.status_code == 200
    assert head.headers["content-length"] == str(len(data))
    # POST replaces the metadata as a whole, and may change the type
    post = swift.post(
        f"/{container}/dir/hello.txt",
        headers={"X-Object-Meta-Shape": "round", "Content-Type": "application/x-test"},
    )
    assert post.status_code == 202
    after = swift.head(f"/{container}/dir/hello.txt").headers
    assert after["x-object-meta-shape"] == "round"
    assert "x-object-meta-color" not in after
    assert after["content-type"] == "application/x-test"
    assert swift.delete(f"/{container}/dir/hello.txt").status_code == 204
    assert_swift_fault(swift.get(f"/{container}/dir/hello.txt"), 404)
    assert_swift_fault(swift.delete(f"/{container}/dir/hello.txt"), 404)


def test_etag_mismatch_is_422_and_stores_nothing(swift: httpx.Client, container: str) -> None:
    assert swift.put(f"/{container}/kept", content=b"old").status_code == 201
    bad = swift.put(f"/{container}/kept", content=b"new", headers={"ETag": "0" * 32})
    assert_swift_fault(bad, 422)
    assert swift.get(f"/{container}/kept").content == b"old"
    good = swift.put(
        f"/{container}/kept",
        content=b"new",
        headers={"ETag": hashlib.md5(b"new").hexdigest()},
    )
    assert good.status_code == 201
    assert swift.get(f"/{container}/kept").content == b"new"
    assert_swift_fault(swift.put(f"/{container}/fresh", content=b"a", headers={"ETag": "x"}), 422)
    assert_swift_fault(swift.head(f"/{container}/fresh"), 404)


def test_ranges(swift: httpx.Client, container: str) -> None:
    data = bytes(range(256)) * 4
    swift.put(f"/{container}/bin", content=data)
    first = swift.get(f"/{container}/bin", headers={"Range": "bytes=10-19"})
    assert first.status_code == 206
    assert first.content == data[10:20]
    assert first.headers["content-range"] == f"bytes 10-19/{len(data)}"
    tail = swift.get(f"/{container}/bin", headers={"Range": "bytes=-5"})
    assert tail.content == data[-5:]
    open_end = swift.get(f"/{container}/bin", headers={"Range": "bytes=1000-"})
    assert open_end.content == data[1000:]
    multi = swift.get(f"/{container}/bin", headers={"Range": "bytes=0-1,5-6"})
    assert multi.status_code == 206
    content_type = multi.headers["content-type"]
    assert content_type.startswith("multipart/byteranges;boundary=")
    boundary = content_type.split("=", 1)[1].encode()
    parts = [p for p in multi.content.split(b"--" + boundary) if p.strip(b"\r\n-")]
    bodies = [p.split(b"\r\n\r\n", 1)[1].rstrip(b"\r\n") for p in parts]
    assert bodies == [data[0:2], data[5:7]]
    assert int(multi.headers["content-length"]) == len(multi.content)
    unsatisfiable = swift.get(f"/{container}/bin", headers={"Range": "bytes=5000-6000"})
    assert_swift_fault(unsatisfiable, 416)
    ignored = swift.get(f"/{container}/bin", headers={"Range": "bytes=9-3"})
    assert ignored.status_code == 200
    assert ignored.content == data


def test_conditional_requests(swift: httpx.Client, container: str) -> None:
    put = swift.put(f"/{container}/cond", content=b"abc")
    etag, modified = put.headers["etag"], put.headers["last-modified"]
    assert swift.get(f"/{container}/cond", headers={"If-None-Match": etag}).status_code == 304
    assert swift.get(f"/{container}/cond", headers={"If-Match": etag}).status_code == 200
    assert_swift_fault(swift.get(f"/{container}/cond", headers={"If-Match": '"nope"'}), 412)
    assert swift.get(f"/{container}/cond", headers={"If-Modified-Since": modified}).status_code == (
        304
    )
    old = "Mon, 01 Jan 2001 00:00:00 GMT"
    assert swift.get(f"/{container}/cond", headers={"If-Modified-Since": old}).status_code == 200
    assert_swift_fault(
        swift.put(f"/{container}/cond", content=b"x", headers={"If-None-Match": "*"}), 412
    )
    assert_swift_fault(
        swift.put(f"/{container}/cond", content=b"x", headers={"If-None-Match": etag}), 400
    )


def test_copy_and_copy_from(swift: httpx.Client, container: str) -> None:
    swift.put(
        f"/{container}/src.json",
        content=b'{"a": 1}',
        headers={"X-Object-Meta-Origin": "here", "Content-Type": "application/json"},
    )
    copied = swift.request(
        "COPY", f"/{container}/src.json", headers={"Destination": f"{container}/dst.json"}
    )
    assert copied.status_code == 201
    assert copied.headers["x-copied-from"] == f"{container}/src.json"
    dst = swift.get(f"/{container}/dst.json")
    assert dst.content == b'{"a": 1}'
    assert dst.headers["x-object-meta-origin"] == "here"
    assert dst.headers["content-type"] == "application/json"
    put_copy = swift.put(
        f"/{container}/again.json",
        content=b"",
        headers={"X-Copy-From": f"/{container}/src.json", "X-Object-Meta-Extra": "1"},
    )
    assert put_copy.status_code == 201
    again = swift.head(f"/{container}/again.json").headers
    assert again["x-object-meta-origin"] == "here"
    assert again["x-object-meta-extra"] == "1"
    missing = swift.put(f"/{container}/x", content=b"", headers={"X-Copy-From": f"{container}/no"})
    assert_swift_fault(missing, 404)


def test_listings_in_every_format_with_paging(swift: httpx.Client, container: str) -> None:
    names = ["a/1", "a/2", "b", "c/x/1", "d"]
    for name in names:
        assert swift.put(f"/{container}/{name}", content=name.encode()).status_code == 201
    plain = swift.get(f"/{container}")
    assert plain.status_code == 200
    assert plain.text.splitlines() == names
    assert plain.headers["x-container-object-count"] == "5"
    as_json = swift.get(f"/{container}", params={"format": "json"}).json()
    assert [e["name"] for e in as_json] == names
    assert as_json[2]["bytes"] == 1
    assert as_json[2]["hash"] == hashlib.md5(b"b").hexdigest()
    root = ElementTree.fromstring(swift.get(f"/{container}", params={"format": "xml"}).content)
    assert root.tag == "container" and root.get("name") == container
    assert [o.findtext("name") for o in root.findall("object")] == names
    accept = swift.get(f"/{container}", headers={"Accept": "application/json"})
    assert accept.headers["content-type"].startswith("application/json")

    def listed(**params: str) -> list[dict[str, Any]]:
        entries: list[dict[str, Any]] = swift.get(
            f"/{container}", params={"format": "json", **params}
        ).json()
        return entries

    assert [e["name"] for e in listed(prefix="a/")] == ["a/1", "a/2"]
    assert [e.get("name", e.get("subdir")) for e in listed(delimiter="/")] == [
        "a/",
        "b",
        "c/",
        "d",
    ]
    assert listed(delimiter="/", prefix="c/") == [{"subdir": "c/x/"}]
    assert [e["name"] for e in listed(marker="a/2")] == ["b", "c/x/1", "d"]
    assert [e["name"] for e in listed(end_marker="b")] == ["a/1", "a/2"]
    assert [e["name"] for e in listed(limit="2")] == ["a/1", "a/2"]
    assert [e["name"] for e in listed(reverse="true")] == names[::-1]
    assert [e["name"] for e in listed(reverse="true", marker="c/x/1", limit="2")] == ["b", "a/2"]
    xml_sub = ElementTree.fromstring(
        swift.get(f"/{container}", params={"format": "xml", "delimiter": "/"}).content
    )
    assert [s.get("name") for s in xml_sub.findall("subdir")] == ["a/", "c/"]
    assert_swift_fault(swift.get(f"/{container}", params={"limit": "10001"}), 412)
    empty = unique("empty")
    swift.put(f"/{empty}")
    assert swift.get(f"/{empty}").status_code == 204
    assert swift.get(f"/{empty}", params={"format": "json"}).json() == []


def test_every_response_carries_a_trans_id(swift: httpx.Client) -> None:
    for response in (swift.head(""), swift.get(f"/{unique('none')}"), swift.delete("/x/y")):
        assert response.headers["x-trans-id"].startswith("tx")


def test_no_token_is_401_and_another_project_is_403(
    gateway: ServedGateway, admin_token: str, swift: httpx.Client, container: str
) -> None:
    swift.put(f"/{container}/secret", content=b"s")
    account = str(swift.base_url).rstrip("/")
    anonymous = httpx.get(f"{account}/{container}/secret")
    assert_swift_fault(anonymous, 401)
    other = member_of(gateway)
    token = other.token(gateway)
    headers = {"X-Auth-Token": token}
    for method, suffix in [
        ("GET", ""),
        ("GET", f"/{container}"),
        ("GET", f"/{container}/secret"),
        ("PUT", f"/{container}/mine"),
        ("DELETE", f"/{container}/secret"),
        ("POST", ""),
    ]:
        response = httpx.request(method, f"{account}{suffix}", headers=headers, content=b"")
        assert_swift_fault(response, 403)
    # the admin reaches every account
    as_admin = httpx.get(f"{account}/{container}/secret", headers={"X-Auth-Token": admin_token})
    assert as_admin.content == b"s"
    assert_swift_fault(httpx.get(f"{gateway.url}/RegionOne/object/v1/nope", headers=headers), 403)


def test_container_acls_grant_reads_and_writes(
    gateway: ServedGateway, swift: httpx.Client, container: str
) -> None:
    swift.put(f"/{container}/shared", content=b"shared data")
    account = str(swift.base_url).rstrip("/")
    other = member_of(gateway)
    headers = {"X-Auth-Token": other.token(gateway)}
    assert_swift_fault(httpx.get(f"{account}/{container}/shared", headers=headers), 403)
    acl = {"X-Container-Read": f"{other.project_id}:*", "X-Container-Write": f"*:{other.user_id}"}
    assert swift.post(f"/{container}", headers=acl).status_code == 204
    assert swift.head(f"/{container}").headers["x-container-read"] == f"{other.project_id}:*"
    assert httpx.get(f"{account}/{container}/shared", headers=headers).content == b"shared data"
    listing = httpx.get(f"{account}/{container}", headers=headers)
    assert listing.status_code == 200 and "shared" in listing.text
    assert "x-container-read" not in listing.headers  # ACLs are shown to the owner only
    put = httpx.put(f"{account}/{container}/theirs", headers=headers, content=b"t")
    assert put.status_code == 201
    assert_swift_fault(httpx.delete(f"{account}/{container}", headers=headers), 403)
    # public read with .r:*; listing only with .rlistings
    assert swift.post(f"/{container}", headers={"X-Container-Read": ".r:*"}).status_code == 204
    assert httpx.get(f"{account}/{container}/shared").content == b"shared data"
    assert_swift_fault(httpx.get(f"{account}/{container}"), 401)
    swift.post(f"/{container}", headers={"X-Container-Read": ".r:*,.rlistings"})
    assert httpx.get(f"{account}/{container}").status_code == 200
    assert_swift_fault(swift.post(f"/{container}", headers={"X-Container-Write": ".r:*"}), 400)
    swift.post(f"/{container}", headers={"X-Remove-Container-Read": "x"})
    assert_swift_fault(httpx.get(f"{account}/{container}/shared"), 401)
