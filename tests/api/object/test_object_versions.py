"""Versioned writes, as Swift's versioned_writes: ``X-Versions-Location`` (stack: a DELETE
brings the previous version back) and ``X-History-Location`` (history: a DELETE archives the
object and a delete marker), through python-swiftclient and raw HTTP."""

from __future__ import annotations

import httpx
import pytest
from swiftclient import client as swiftclient

from tests.support.gateway import ServedGateway
from tests.support.identity import member_of, unique
from tests.support.swift import swiftclient_connection

DELETE_MARKER = "application/x-deleted;swift_versions_deleted=1"


def archived(swift: httpx.Client, archive: str) -> list[dict[str, object]]:
    listing = swift.get(f"/{archive}", params={"format": "json"})
    assert listing.status_code == 200, listing.text
    entries: list[dict[str, object]] = listing.json()
    return entries


def test_stack_mode_keeps_versions_and_a_delete_pops_the_previous_one(
    gateway: ServedGateway,
) -> None:
    conn = swiftclient_connection(gateway, "interstack")
    base, archive, name = unique("base"), unique("versions"), "docs/report.txt"
    conn.put_container(archive)
    conn.put_container(base, headers={"X-Versions-Location": archive})
    assert conn.head_container(base)["x-versions-location"] == archive
    for body in (b"first", b"second!", b"third"):
        conn.put_object(base, name, body, headers={"X-Object-Meta-Body": body.decode()})
    assert conn.get_object(base, name)[1] == b"third"
    _, versions = conn.get_container(archive)
    prefix = f"{len(name):03x}{name}/"
    assert [v["bytes"] for v in versions] == [5, 7]
    assert all(v["name"].startswith(prefix) for v in versions)
    assert versions[0]["name"] < versions[1]["name"]

    conn.delete_object(base, name)
    headers, body = conn.get_object(base, name)
    assert body == b"second!"
    assert headers["x-object-meta-body"] == "second!"
    assert [v["bytes"] for v in conn.get_container(archive)[1]] == [5]
    conn.delete_object(base, name)
    assert conn.get_object(base, name)[1] == b"first"
    conn.delete_object(base, name)
    with pytest.raises(swiftclient.ClientException) as gone:
        conn.head_object(base, name)
    assert gone.value.http_status == 404
    assert conn.get_container(archive)[1] == []
    assert conn.head_container(base)["x-container-object-count"] == "0"


def test_history_mode_archives_deletes_with_a_marker(swift: httpx.Client) -> None:
    base, archive = unique("base"), unique("history")
    assert swift.put(f"/{archive}").status_code == 201
    assert swift.put(f"/{base}", headers={"X-History-Location": archive}).status_code == 201
    head = swift.head(f"/{base}")
    assert head.headers["x-history-location"] == archive
    assert "x-versions-location" not in head.headers
    assert swift.put(f"/{base}/o", content=b"one").status_code == 201
    assert swift.put(f"/{base}/o", content=b"two").status_code == 201
    assert swift.delete(f"/{base}/o").status_code == 204
    assert swift.get(f"/{base}/o").status_code == 404
    entries = archived(swift, archive)
    assert [(e["bytes"], e["content_type"]) for e in entries] == [
        (3, "application/octet-stream"),
        (3, "application/octet-stream"),
        (0, DELETE_MARKER),
    ]
    assert [swift.get(f"/{archive}/{e['name']}").content for e in entries[:2]] == [b"one", b"two"]
    assert swift.delete(f"/{base}/o").status_code == 404  # history mode does not pop


def test_versioning_headers_are_checked_and_can_be_removed(swift: httpx.Client) -> None:
    base, archive = unique("base"), unique("versions")
    swift.put(f"/{archive}")
    both = {"X-Versions-Location": archive, "X-History-Location": archive}
    assert swift.put(f"/{base}", headers=both).status_code == 400
    assert swift.put(f"/{base}", headers={"X-Versions-Location": "a/b"}).status_code == 400
    assert swift.put(f"/{base}", headers={"X-Versions-Location": archive}).status_code == 201
    assert swift.post(f"/{base}", headers={"X-Remove-Versions-Location": "x"}).status_code == 204
    assert "x-versions-location" not in swift.head(f"/{base}").headers
    swift.put(f"/{base}/o", content=b"1")
    swift.put(f"/{base}/o", content=b"2")
    assert archived(swift, archive) == []  # no longer versioned
    assert (
        swift.post(f"/{base}", headers={"X-Versions-Location": "absent-container"}).status_code
        == 204
    )
    refused = swift.put(f"/{base}/o", content=b"3")
    assert refused.status_code == 412
    assert "absent-container" in refused.text
    assert swift.get(f"/{base}/o").content == b"2"  # nothing changed


def test_the_archive_must_be_writable_by_whoever_writes(
    gateway: ServedGateway, swift: httpx.Client
) -> None:
    """A user allowed to write the versioned container by its ACL, but not the archive, cannot
    replace versions there (Swift checks the archive write with the user's own rights)."""
    writer = member_of(gateway)
    base, archive = unique("base"), unique("versions")
    swift.put(f"/{archive}")
    acl = f"{writer.project_id}:{writer.user_id}"
    headers = {"X-Versions-Location": archive, "X-Container-Write": acl, "X-Container-Read": acl}
    swift.put(f"/{base}", headers=headers)
    swift.put(f"/{base}/o", content=b"owner")
    with httpx.Client(
        base_url=str(swift.base_url), headers={"X-Auth-Token": writer.token(gateway)}, timeout=60
    ) as other:
        assert other.put(f"/{base}/new", content=b"fresh").status_code == 201  # nothing to keep
        assert other.put(f"/{base}/o", content=b"theirs").status_code == 403
    assert swift.get(f"/{base}/o").content == b"owner"
    swift.post(f"/{archive}", headers={"X-Container-Write": acl})
    with httpx.Client(
        base_url=str(swift.base_url), headers={"X-Auth-Token": writer.token(gateway)}, timeout=60
    ) as other:
        assert other.put(f"/{base}/o", content=b"theirs").status_code == 201
    assert [e["bytes"] for e in archived(swift, archive)] == [5]


def test_info_lists_versioned_writes(gateway: ServedGateway) -> None:
    info = httpx.get(f"{gateway.url}/info").json()
    assert info["versioned_writes"]["allowed_flags"] == [
        "x-versions-location",
        "x-history-location",
    ]


def test_openstacksdk_sees_and_uses_a_versioned_container(gateway: ServedGateway) -> None:
    conn = gateway.connect("interstack")
    base, archive = unique("base"), unique("versions")
    conn.object_store.create_container(name=archive)
    conn.object_store.create_container(name=base, versions_location=archive)
    assert conn.object_store.get_container_metadata(base).versions_location == archive
    conn.object_store.upload_object(container=base, name="o", data=b"old")
    conn.object_store.upload_object(container=base, name="o", data=b"new")
    assert [o.content_length for o in conn.object_store.objects(archive)] == [3]
    conn.object_store.delete_object("o", container=base)
    assert conn.object_store.download_object("o", container=base) == b"old"
