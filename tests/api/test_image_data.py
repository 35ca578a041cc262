"""Image data is streamed: a large upload does not grow the gateway's memory, and a failed or
interrupted upload leaves the image ``queued`` with nothing stored."""

from __future__ import annotations

import hashlib
import http.client
import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.gateway import ServedGateway
from tests.support.identity import unique
from tests.support.image import OCTETS, assert_glance_fault, create, image_client

MIB = 1024 * 1024
UPLOAD_BYTES = 200 * MIB
SIZE_CAP = 210 * MIB


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedGateway]:
    """A gateway of this module's own: its memory is measured, its size cap is small, and it
    has two regions."""
    data_dir = tmp_path_factory.mktemp("image-data") / "data"
    config = {
        "image_size_cap_bytes": SIZE_CAP,
        "regions": [{"name": r, "backend": "sim"} for r in ("RegionOne", "RegionTwo")],
    }
    with ServedGateway(data_dir, config=config) as gateway:
        yield gateway


@pytest.fixture(scope="module")
def api(served: ServedGateway) -> httpx.Client:
    return image_client(served, served.token("interstack"))


def _status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise AssertionError(f"{field} missing from /proc/{pid}/status")


def _pattern(total: int, chunk: int = MIB) -> Iterator[bytes]:
    """``total`` bytes, generated chunk by chunk (the test holds no more than one chunk)."""
    block = bytes(range(256)) * (chunk // 256)
    sent = 0
    while sent < total:
        piece = block[: min(chunk, total - sent)]
        sent += len(piece)
        yield piece


def _stored_files(served: ServedGateway) -> list[Path]:
    return [p for p in (served.data_dir / "backends").rglob("*") if p.is_file()]


def _wait_status(api: httpx.Client, image_id: str, status: str) -> dict[str, object]:
    """The server sees a client's hang-up a moment after the client; poll for its outcome."""
    deadline = time.monotonic() + 30
    while True:
        shown: dict[str, object] = api.get(f"/v2/images/{image_id}").json()
        if shown["status"] == status or time.monotonic() > deadline:
            return shown
        time.sleep(0.1)


def test_large_upload_and_download_stream_without_growing_memory(
    served: ServedGateway, api: httpx.Client
) -> None:
    assert served.process is not None
    pid = served.process.pid
    image = create(api, name=unique("large"))
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # resets the peak (VmHWM) to the RSS now
    peak_before = _status_kib(pid, "VmHWM")
    rss_before = _status_kib(pid, "VmRSS")

    response = api.put(
        f"/v2/images/{image['id']}/file", content=_pattern(UPLOAD_BYTES), headers=OCTETS
    )
    assert response.status_code == 204, response.text
    expected_md5, expected_sha512 = hashlib.md5(), hashlib.sha512()
    for chunk in _pattern(UPLOAD_BYTES):
        expected_md5.update(chunk)
        expected_sha512.update(chunk)
    shown = api.get(f"/v2/images/{image['id']}").json()
    assert shown["status"] == "active" and shown["size"] == UPLOAD_BYTES
    assert shown["checksum"] == expected_md5.hexdigest()
    assert shown["os_hash_value"] == expected_sha512.hexdigest()

    received, downloaded = hashlib.md5(), 0
    with api.stream("GET", f"/v2/images/{image['id']}/file") as download:
        assert download.status_code == 200
        for chunk in download.iter_bytes():
            received.update(chunk)
            downloaded += len(chunk)
    assert downloaded == UPLOAD_BYTES and received.hexdigest() == shown["checksum"]

    peak_growth_mib = (_status_kib(pid, "VmHWM") - peak_before) / 1024
    rss_growth_mib = (_status_kib(pid, "VmRSS") - rss_before) / 1024
    assert peak_growth_mib < 40, f"peak RSS grew by {peak_growth_mib:.1f} MiB"
    assert rss_growth_mib < 40, f"RSS grew by {rss_growth_mib:.1f} MiB"


def test_upload_over_the_size_cap_is_413_and_stores_nothing(
    served: ServedGateway, api: httpx.Client
) -> None:
    image = create(api, name=unique("too-big"))
    files_before = set(_stored_files(served))
    # a declared length over the cap is refused before any byte is read
    connection = http.client.HTTPConnection("127.0.0.1", served.port, timeout=60)
    connection.request(
        "PUT",
        f"/RegionOne/image/v2/images/{image['id']}/file",
        body=b"x",
        headers={
            **OCTETS,
            "Content-Length": str(SIZE_CAP + 1),
            "X-Auth-Token": api.headers["X-Auth-Token"],
        },
    )
    declared = connection.getresponse()
    assert declared.status == 413
    assert json.loads(declared.read())["code"] == "413 Request Entity Too Large"
    connection.close()
    # a body that grows past the cap is cut off where it does
    streamed = api.put(
        f"/v2/images/{image['id']}/file", content=_pattern(SIZE_CAP + MIB), headers=OCTETS
    )
    assert "limit" in assert_glance_fault(streamed, 413, "Request Entity Too Large")
    shown = _wait_status(api, image["id"], "queued")
    assert shown["status"] == "queued" and shown["size"] is None and shown["checksum"] is None
    assert api.get(f"/v2/images/{image['id']}/file").status_code == 204
    assert set(_stored_files(served)) == files_before


def test_interrupted_upload_leaves_the_image_queued(
    served: ServedGateway, api: httpx.Client
) -> None:
    image = create(api, name=unique("interrupted"))
    files_before = set(_stored_files(served))

    def hang_up() -> Iterator[bytes]:
        yield from _pattern(8 * MIB)
        raise ConnectionAbortedError("the client gives up mid-upload")

    with pytest.raises(ConnectionAbortedError):
        api.put(f"/v2/images/{image['id']}/file", content=hang_up(), headers=OCTETS)
    shown = _wait_status(api, image["id"], "queued")
    assert shown["status"] == "queued" and shown["size"] is None
    assert api.get(f"/v2/images/{image['id']}/file").status_code == 204
    assert set(_stored_files(served)) == files_before

    # and the image takes a complete upload afterwards
    response = api.put(f"/v2/images/{image['id']}/file", content=b"whole", headers=OCTETS)
    assert response.status_code == 204
    assert api.get(f"/v2/images/{image['id']}/file").content == b"whole"


def test_image_deleted_during_its_upload_keeps_no_data(
    served: ServedGateway, api: httpx.Client
) -> None:
    image = create(api, name=unique("deleted-midway"))
    files_before = set(_stored_files(served))
    other = image_client(served, served.token("interstack"))

    def delete_midway() -> Iterator[bytes]:
        yield from _pattern(4 * MIB)
        assert _wait_status(other, image["id"], "saving")["status"] == "saving"
        assert other.delete(f"/v2/images/{image['id']}").status_code == 204
        yield from _pattern(4 * MIB)

    response = api.put(f"/v2/images/{image['id']}/file", content=delete_midway(), headers=OCTETS)
    assert "deleted during the upload" in assert_glance_fault(response, 409, "Conflict")
    assert_glance_fault(api.get(f"/v2/images/{image['id']}"), 404, "Not Found")
    assert set(_stored_files(served)) == files_before


def test_each_region_keeps_its_own_images(served: ServedGateway, api: httpx.Client) -> None:
    two = image_client(served, served.token("interstack"), region="RegionTwo")
    image = create(api, name=unique("regional"))
    assert_glance_fault(two.get(f"/v2/images/{image['id']}"), 404, "Not Found")
    assert image["id"] not in {i["id"] for i in two.get("/v2/images").json()["images"]}

    there = create(two, name=unique("regional"))
    response = two.put(f"/v2/images/{there['id']}/file", content=b"second", headers=OCTETS)
    assert response.status_code == 204
    assert two.get(f"/v2/images/{there['id']}/file").content == b"second"
    assert list((served.data_dir / "backends" / "RegionTwo").rglob("*.img"))

    listed = served.cli(
        "interstack", "image", "list", "-f", "value", "-c", "ID",
        extra=["--os-region-name", "RegionTwo"],
    )  # fmt: skip
    assert there["id"] in listed.stdout and image["id"] not in listed.stdout
