"""Large objects (static and dynamic), uploads that fail without leaving anything visible, and a
200 MB segmented upload and download through the ``swift`` CLI with the gateway's memory flat."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import time
from pathlib import Path

import httpx
import pytest

from tests.support.gateway import ServedGateway
from tests.support.identity import member_of, unique
from tests.support.swift import RssSampler, peak_rss_bytes, reset_peak_rss, rss_bytes, swift_cli

MiB = 1024 * 1024


def combined(etags: list[str]) -> str:
    return hashlib.md5("".join(etags).encode()).hexdigest()


def test_static_large_object(swift: httpx.Client, container: str) -> None:
    parts = [b"a" * 1000, b"b" * 2000, b"c" * 500]
    etags = []
    for index, part in enumerate(parts):
        response = swift.put(f"/{container}/seg/{index:03d}", content=part)
        etags.append(response.headers["etag"])
    manifest = [
        {"path": f"/{container}/seg/{i:03d}", "etag": etags[i], "size_bytes": len(p)}
        for i, p in enumerate(parts)
    ]
    put = swift.put(
        f"/{container}/whole",
        params={"multipart-manifest": "put"},
        content=json.dumps(manifest).encode(),
        headers={"Content-Type": "application/x-whole", "X-Object-Meta-Kind": "slo"},
    )
    assert put.status_code == 201, put.text
    assert put.headers["etag"] == f'"{combined(etags)}"'
    got = swift.get(f"/{container}/whole")
    assert got.content == b"".join(parts)
    assert got.headers["etag"] == f'"{combined(etags)}"'
    assert got.headers["x-static-large-object"] == "True"
    assert got.headers["content-type"] == "application/x-whole"
    assert got.headers["x-object-meta-kind"] == "slo"
    head = swift.head(f"/{container}/whole")
    assert head.headers["content-length"] == "3500"
    across = swift.get(f"/{container}/whole", headers={"Range": "bytes=900-1099"})
    assert across.status_code == 206
    assert across.content == b"a" * 100 + b"b" * 100
    listed = swift.get(f"/{container}/whole", params={"multipart-manifest": "get"}).json()
    assert [s["name"] for s in listed] == [m["path"] for m in manifest]
    assert [s["hash"] for s in listed] == etags
    deleted = swift.delete(
        f"/{container}/whole",
        params={"multipart-manifest": "delete"},
        headers={"Accept": "application/json"},
    )
    assert deleted.status_code == 200
    assert deleted.json()["Number Deleted"] == 4
    assert swift.get(f"/{container}", params={"format": "json"}).json() == []


def test_static_manifest_with_ranges(swift: httpx.Client, container: str) -> None:
    data = bytes(range(256))
    etag = swift.put(f"/{container}/src", content=data).headers["etag"]
    manifest = [
        {"path": f"/{container}/src", "range": "10-19"},
        {"path": f"/{container}/src", "range": "-6"},
    ]
    put = swift.put(
        f"/{container}/ranged", params={"multipart-manifest": "put"}, content=json.dumps(manifest)
    )
    assert put.status_code == 201, put.text
    assert put.headers["etag"] == f'"{combined([f"{etag}:10-19;", f"{etag}:250-255;"])}"'
    assert swift.get(f"/{container}/ranged").content == data[10:20] + data[250:]


def test_bad_static_manifests_store_nothing(swift: httpx.Client, container: str) -> None:
    swift.put(f"/{container}/real", content=b"real")
    missing = [{"path": f"/{container}/real"}, {"path": f"/{container}/missing"}]
    response = swift.put(
        f"/{container}/bad", params={"multipart-manifest": "put"}, content=json.dumps(missing)
    )
    assert response.status_code == 400
    assert f"/{container}/missing, 404 Not Found" in response.text
    wrong = [{"path": f"/{container}/real", "etag": "0" * 32, "size_bytes": 4}]
    response = swift.put(
        f"/{container}/bad", params={"multipart-manifest": "put"}, content=json.dumps(wrong)
    )
    assert response.status_code == 400
    assert "Etag Mismatch" in response.text
    not_json = swift.put(f"/{container}/bad", params={"multipart-manifest": "put"}, content=b"{")
    assert not_json.status_code == 400
    assert swift.head(f"/{container}/bad").status_code == 404


def test_dynamic_large_object(swift: httpx.Client, container: str) -> None:
    segments = unique("segs")
    swift.put(f"/{segments}")
    etags = [
        swift.put(f"/{segments}/part/{i}", content=bytes([65 + i]) * 100).headers["etag"]
        for i in range(3)
    ]
    put = swift.put(
        f"/{container}/dlo",
        content=b"",
        headers={"X-Object-Manifest": f"{segments}/part/"},
    )
    assert put.status_code == 201
    got = swift.get(f"/{container}/dlo")
    assert got.content == b"A" * 100 + b"B" * 100 + b"C" * 100
    assert got.headers["etag"] == f'"{combined(etags)}"'
    assert got.headers["x-object-manifest"] == f"{segments}/part/"
    swift.put(f"/{segments}/part/3", content=b"D")  # segments are found when read
    assert swift.head(f"/{container}/dlo").headers["content-length"] == "301"
    ranged = swift.get(f"/{container}/dlo", headers={"Range": "bytes=99-100"})
    assert ranged.content == b"AB"
    bad = swift.put(f"/{container}/x", content=b"", headers={"X-Object-Manifest": "nocontainer"})
    assert bad.status_code == 400


def test_an_interrupted_upload_leaves_the_old_object(
    gateway: ServedGateway, swift: httpx.Client, container: str, demo_token: str
) -> None:
    assert swift.put(f"/{container}/obj", content=b"old content").status_code == 201
    url = httpx.URL(str(swift.base_url))
    request = (
        f"PUT {url.path}/{container}/obj HTTP/1.1\r\nHost: {url.host}:{url.port}\r\n"
        f"X-Auth-Token: {demo_token}\r\nContent-Length: {10 * MiB}\r\n\r\n"
    ).encode()
    with socket.create_connection((url.host, url.port)) as sock:
        sock.sendall(request + b"x" * MiB)  # a tenth of what was announced, then hang up
    assert swift.get(f"/{container}/obj").content == b"old content"
    objects_dir = gateway.data_dir / "backends" / "RegionOne" / "objects"

    def partial_files() -> list[Path]:
        return [p for p in objects_dir.rglob("*") if p.name.endswith(".part")]

    deadline = time.monotonic() + 30  # the server notices the hang-up on its own schedule
    while partial_files() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert partial_files() == []
    assert swift.get(f"/{container}/obj").content == b"old content"


def write_file(path: Path, size: int) -> str:
    """A file of ``size`` bytes that does not repeat per MiB; returns its MD5."""
    md5 = hashlib.md5()
    block = os.urandom(MiB)
    with path.open("wb") as out:
        for index in range(size // MiB):
            chunk = index.to_bytes(8, "big") + block[8:]
            out.write(chunk)
            md5.update(chunk)
    return md5.hexdigest()


def file_md5(path: Path) -> str:
    md5 = hashlib.md5()
    with path.open("rb") as handle:
        while chunk := handle.read(MiB):
            md5.update(chunk)
    return md5.hexdigest()


@pytest.mark.slow
def test_200mb_segmented_upload_and_download_keep_memory_flat(
    gateway: ServedGateway, tmp_path: Path
) -> None:
    name = unique("big")
    source = tmp_path / "up"
    source.mkdir()
    checksum = write_file(source / "big.bin", 200 * MiB)
    assert gateway.process is not None
    pid = gateway.process.pid
    # log in first: a password check (argon2) briefly takes memory of its own, not the transfer's
    token = gateway.token("interstack")
    baseline = rss_bytes(pid)
    reset_peak_rss(pid)  # from here VmHWM is the transfers' peak, however brief
    with RssSampler(pid) as upload:
        swift_cli(
            gateway,
            "interstack",
            "upload",
            name,
            "big.bin",
            "--segment-size",
            str(50 * MiB),
            cwd=source,
            token=token,
        )
    stat = swift_cli(gateway, "interstack", "stat", name, "big.bin", token=token).stdout
    assert "Content Length: 209715200" in stat
    assert "Manifest:" in stat or "static" in stat.lower() or "X-Static-Large-Object" in stat
    target = tmp_path / "down"
    target.mkdir()
    (source / "big.bin").unlink()
    with RssSampler(pid) as download:
        swift_cli(gateway, "interstack", "download", name, "big.bin", cwd=target, token=token)
    assert file_md5(target / "big.bin") == checksum
    high_water = peak_rss_bytes(pid)
    # less than one 50 MiB segment: a gateway holding a whole segment (let alone the object)
    # in memory fails
    bound = baseline + 32 * MiB
    figures = (
        f"gateway RSS: baseline {baseline / MiB:.0f} MiB, upload peak {upload.peak / MiB:.0f} "
        f"MiB, download peak {download.peak / MiB:.0f} MiB, VmHWM {high_water / MiB:.0f} MiB, "
        f"bound {bound / MiB:.0f} MiB"
    )
    assert len(upload.samples) > 5 and len(download.samples) > 5
    assert upload.peak < bound, figures
    assert download.peak < bound, figures
    assert high_water < bound, figures
    swift_cli(gateway, "interstack", "delete", name)


def test_segments_are_read_only_where_the_reader_may_read(
    gateway: ServedGateway, swift: httpx.Client, container: str
) -> None:
    """An ACL that shares a manifest's container does not share private segments with it."""
    private = unique("private")
    swift.put(f"/{private}")
    etag = swift.put(f"/{private}/seg", content=b"private bytes").headers["etag"]
    manifest = json.dumps([{"path": f"/{private}/seg", "etag": etag}])
    swift.put(f"/{container}/slo", params={"multipart-manifest": "put"}, content=manifest)
    swift.put(f"/{container}/dlo", content=b"", headers={"X-Object-Manifest": f"{private}/"})
    other = member_of(gateway)
    headers = {"X-Auth-Token": other.token(gateway)}
    swift.post(
        f"/{container}",
        headers={"X-Container-Read": f"{other.project_id}:*", "X-Container-Write": "*:*"},
    )
    account = str(swift.base_url).rstrip("/")
    for name in ("slo", "dlo"):
        assert httpx.get(f"{account}/{container}/{name}", headers=headers).status_code == 403
    # nor can a writer build a manifest over them
    response = httpx.put(
        f"{account}/{container}/mine",
        params={"multipart-manifest": "put"},
        content=manifest,
        headers=headers,
    )
    assert response.status_code == 403
    swift.post(f"/{private}", headers={"X-Container-Read": f"{other.project_id}:*"})
    for name in ("slo", "dlo"):
        shared = httpx.get(f"{account}/{container}/{name}", headers=headers)
        assert shared.content == b"private bytes"
