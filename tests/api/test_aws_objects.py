"""Swift on S3: python-swiftclient (library and ``swift`` CLI) and openstacksdk against an
``aws`` region on moto, then boto3 against the same emulator shows each object's bytes where
docs/aws-backend.md puts them (the region's bucket, under ``<project>/<container>/``), a large
object as its segments and its manifest, and nothing left once they are deleted.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from swiftclient import client as swiftclient

from tests.support.gateway import ServedGateway
from tests.support.identity import unique
from tests.support.moto import AWS, OBJECT_BUCKET, aws_gateway, aws_sdk, aws_settings, s3
from tests.support.swift import swift_cli, swiftclient_connection

MiB = 2**20


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedGateway]:
    data = tmp_path_factory.mktemp("aws-objects") / "data"
    with aws_gateway(data, AWS, aws_settings()) as served:
        yield served


@pytest.fixture(scope="module")
def sdk(gateway: ServedGateway) -> Iterator[Any]:
    with aws_sdk(gateway) as conn:
        yield conn


@pytest.fixture(scope="module")
def swift(gateway: ServedGateway) -> Iterator[swiftclient.Connection]:
    conn = swiftclient_connection(gateway, "interstack", AWS)
    yield conn
    conn.close()


def keys_under(prefix: str) -> dict[str, int]:
    """The bucket's keys under ``prefix`` and their sizes, as S3 itself lists them."""
    pages = s3().get_paginator("list_objects_v2").paginate(Bucket=OBJECT_BUCKET, Prefix=prefix)
    return {o["Key"]: o["Size"] for page in pages for o in page.get("Contents", [])}


def s3_body(key: str) -> bytes:
    body: bytes = s3().get_object(Bucket=OBJECT_BUCKET, Key=key)["Body"].read()
    return body


def pattern(size: int) -> Iterator[bytes]:
    """``size`` bytes in 64 KiB chunks (the upload streams: no whole body is built)."""
    block = hashlib.sha256(b"interstack").digest() * 2048  # 64 KiB
    sent = 0
    while sent < size:
        piece = block[: min(len(block), size - sent)]
        sent += len(piece)
        yield piece


def test_swiftclient_objects_are_s3_keys_under_the_project_and_container(
    swift: swiftclient.Connection, sdk: Any
) -> None:
    name = unique("docs")
    prefix = f"{sdk.current_project_id}/{name}/"
    swift.put_container(name, headers={"X-Container-Meta-Purpose": "tests"})
    assert s3().get_bucket_tagging(Bucket=OBJECT_BUCKET)["TagSet"] == [
        {"Key": "interstack:region", "Value": AWS}
    ]
    assert keys_under(prefix) == {}  # an empty container is only a prefix

    etag = swift.put_object(name, "readme.md", b"# hi\n", content_type="text/markdown")
    big_md5 = hashlib.md5(usedforsecurity=False)
    for piece in pattern(9 * MiB + 7):
        big_md5.update(piece)
    big_etag = swift.put_object(name, "data/big.bin", pattern(9 * MiB + 7))  # chunked
    assert (etag, big_etag) == (hashlib.md5(b"# hi\n").hexdigest(), big_md5.hexdigest())

    stored = keys_under(prefix)
    assert sorted(stored.values()) == [5, 9 * MiB + 7]
    small_key = next(k for k, size in stored.items() if size == 5)
    assert s3_body(small_key) == b"# hi\n"
    assert s3().head_object(Bucket=OBJECT_BUCKET, Key=small_key)["ContentType"] == "text/markdown"

    _, body = swift.get_object(name, "data/big.bin", headers={"Range": "bytes=9437180-"})
    assert body == b"".join(pattern(9 * MiB + 7))[9437180:]
    _, listing = swift.get_container(name, delimiter="/")
    assert [o.get("name") or o.get("subdir") for o in listing] == ["data/", "readme.md"]

    swift.delete_object(name, "readme.md")
    swift.delete_object(name, "data/big.bin")
    swift.delete_container(name)
    assert keys_under(prefix) == {}


def test_a_static_large_object_is_its_segments_and_manifest_in_s3(
    gateway: ServedGateway, sdk: Any, tmp_path: Path
) -> None:
    name = unique("slo")
    source = tmp_path / "disk.img"
    with source.open("wb") as out:
        for piece in pattern(7 * MiB):
            out.write(piece)
    swift_cli(
        gateway, "interstack", "--os-region-name", AWS, "upload", "--use-slo",
        "--segment-size", str(3 * MiB), name, "disk.img", cwd=tmp_path,
    )  # fmt: skip
    project = sdk.current_project_id
    segments = keys_under(f"{project}/{name}_segments/")
    assert sorted(segments.values()) == [1 * MiB, 3 * MiB, 3 * MiB]
    (manifest_key,) = keys_under(f"{project}/{name}/")
    manifest = json.loads(s3_body(manifest_key))  # the manifest is an object of its own
    assert sorted(seg["bytes"] for seg in manifest) == sorted(segments.values())
    assert all(seg["name"].startswith(f"/{name}_segments/disk.img/") for seg in manifest)

    downloaded = sdk.object_store.download_object("disk.img", container=name)
    assert hashlib.sha256(downloaded).digest() == hashlib.sha256(source.read_bytes()).digest()

    swift_cli(gateway, "interstack", "--os-region-name", AWS, "delete", name)
    assert keys_under(f"{project}/{name}_segments/") == {}
    assert keys_under(f"{project}/{name}/") == {}


def test_openstacksdk_containers_and_objects(sdk: Any) -> None:
    name = unique("sdk")
    sdk.object_store.create_container(name=name)
    for obj in ("a/1.txt", "a/2.txt", "b.txt"):
        sdk.object_store.upload_object(container=name, name=obj, data=obj.encode())
    listed = [o.name for o in sdk.object_store.objects(name, prefix="a/")]
    assert listed == ["a/1.txt", "a/2.txt"]
    assert sdk.object_store.download_object("b.txt", container=name) == b"b.txt"
    prefix = f"{sdk.current_project_id}/{name}/"
    assert sorted(s3_body(k) for k in keys_under(prefix)) == [b"a/1.txt", b"a/2.txt", b"b.txt"]
    for obj in ("a/1.txt", "a/2.txt", "b.txt"):
        sdk.object_store.delete_object(obj, container=name)
    sdk.object_store.delete_container(name)
    assert keys_under(prefix) == {}
