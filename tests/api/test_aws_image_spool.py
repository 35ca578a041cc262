"""A raw upload sent chunked (no Content-Length) to an ``aws`` region is held in the region's
data directory until it is whole (an EBS snapshot's size is fixed when it starts). Over
Glance's size cap it is Glance's 413, and a client that hangs up midway leaves the image
``queued``; either way nothing is left: no spool file, no snapshot in EC2."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.gateway import ServedGateway
from tests.support.identity import unique
from tests.support.image import OCTETS, assert_glance_fault, create, image_client
from tests.support.moto import AWS, aws_settings, ec2
from tests.support.waiting import eventually

MIB = 2**20
SIZE_CAP = 4 * MIB


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedGateway]:
    data_dir = tmp_path_factory.mktemp("aws-spool") / "data"
    config = {
        "image_size_cap_bytes": SIZE_CAP,
        "regions": [{"name": AWS, "backend": "aws", "settings": aws_settings()}],
    }
    with ServedGateway(data_dir, config=config) as gateway:
        yield gateway


@pytest.fixture(scope="module")
def api(served: ServedGateway) -> httpx.Client:
    return image_client(served, served.token("interstack"), region=AWS)


def spool_files(served: ServedGateway) -> list[str]:
    """The files the gateway has open in the region's spool directory (unnamed ones too)."""
    assert served.process is not None
    spool = f"{served.data_dir}/backends/{AWS}/uploads/"
    found = []
    for fd in Path(f"/proc/{served.process.pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:  # closed meanwhile
            continue
        if target.startswith(spool):
            found.append(target)
    return found


def snapshots_of(image_id: str) -> list[str]:
    mine = [{"Name": "tag:interstack:gateway-id", "Values": [image_id]}]
    found = ec2().describe_snapshots(OwnerIds=["self"], Filters=mine)["Snapshots"]
    return [s["SnapshotId"] for s in found]


def status_of(api: httpx.Client, image_id: str) -> str:
    return str(api.get(f"/v2/images/{image_id}").json()["status"])


def queued(api: httpx.Client, image_id: str) -> None:
    """The server sees a client's hang-up a moment after the client: look until it shows."""
    eventually(lambda: status_of(api, image_id), lambda shown: shown == "queued", "queued")


def chunks(total: int) -> Iterator[bytes]:
    for _ in range(total // MIB):
        yield os.urandom(MIB)


def test_a_chunked_raw_upload_over_the_cap_is_a_413_and_leaves_nothing(
    served: ServedGateway, api: httpx.Client
) -> None:
    image = create(api, name=unique("too-big"))
    response = api.put(
        f"/v2/images/{image['id']}/file", content=chunks(SIZE_CAP + MIB), headers=OCTETS
    )
    assert "limit" in assert_glance_fault(response, 413, "Request Entity Too Large")
    queued(api, image["id"])
    assert snapshots_of(image["id"]) == []
    assert spool_files(served) == []


def test_a_chunked_raw_upload_the_client_abandons_leaves_nothing(
    served: ServedGateway, api: httpx.Client
) -> None:
    image = create(api, name=unique("abandoned"))
    held: list[list[str]] = []

    def hang_up() -> Iterator[bytes]:
        yield from chunks(2 * MIB)
        # the gateway holds the bytes so far in its spool
        held.append(eventually(lambda: spool_files(served), bool, "a spool file"))
        raise ConnectionAbortedError("the client gives up mid-upload")

    with pytest.raises(ConnectionAbortedError):
        api.put(f"/v2/images/{image['id']}/file", content=hang_up(), headers=OCTETS)
    assert len(held) == 1 and len(held[0]) == 1
    queued(api, image["id"])
    assert snapshots_of(image["id"]) == []
    eventually(lambda: spool_files(served), lambda left: not left, "the spool to be removed")
