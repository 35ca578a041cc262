"""Device names a user gives, on the local backend behind a served gateway, through
openstacksdk: a name that is not one device under ``/dev`` (``/dev/../../x``, which Nova's
schema takes: its pattern allows dots and slashes) is refused with Nova's 400 before anything
exists — a root volume's ``device_name``, an image's ``root_device_name`` and a volume
attachment's ``device``. The backend makes the guest's ``/sys/block`` entries and device nodes
by these names, as root (a5d030b: a root named so made a directory and its files wherever the
name led on the host); nothing may be made of such a name, here or in the backend.

A name under ``/dev`` the API takes but the local backend cannot give a disk (``/dev/VDB``,
``/dev/xvdb_1``: its names are a lower-case letter and up to 15 letters or digits) is refused
the same way, before anything exists: the gateway asks the backend
(``ComputeDriver.device_name_refusal``) — before, the boot was a 202 and a server in ERROR
with a code-500 fault, the attachment a 202 and a failed attach task.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openstack.exceptions
import pytest

from tests.support.gateway import ServedGateway
from tests.support.waiting import eventually

REFUSED = "Block Device Mapping is Invalid: "
#: names under /dev the API takes that the local backend cannot give a disk
UNLIKE_LOCAL = ("/dev/VDB", "/dev/xvdb_1")


@pytest.fixture
def target() -> Iterator[Path]:
    """A host path no test makes: where an escaping device name leads."""
    path = Path(f"/tmp/interstack-escaped-{secrets.token_hex(4)}")
    yield path
    assert not path.exists(), f"a device name made {path} on the host"


def escaping(target: Path) -> str:
    """A device name that leads from any directory to ``target`` (/dev/../../tmp/...)."""
    return "/dev/" + "../" * 30 + str(target).lstrip("/")


def names(conn: Any) -> tuple[set[str], set[str]]:
    """The user's servers' and volumes' ids."""
    return {s.id for s in conn.compute.servers()}, {v.id for v in conn.block_storage.volumes()}


def refused(create: Any) -> str:
    with pytest.raises(openstack.exceptions.BadRequestException) as raised:
        create()
    message = str(raised.value.details)
    return message


def test_a_root_volume_at_a_name_leading_out_of_dev_is_a_400_and_nothing_is_made(
    cloud: ServedGateway, conn: Any, target: Path
) -> None:
    image = conn.image.find_image("debian-12", ignore_missing=False)
    flavor = conn.compute.find_flavor("m1.tiny", ignore_missing=False)
    device = escaping(target)
    before = names(conn)
    message = refused(
        lambda: conn.compute.create_server(
            name="escaping-root",
            flavor_id=flavor.id,
            networks="none",
            block_device_mapping=[
                {
                    "uuid": image.id,
                    "source_type": "image",
                    "destination_type": "volume",
                    "boot_index": 0,
                    "volume_size": 1,
                    "device_name": device,
                    "delete_on_termination": True,
                }
            ],
        )
    )
    assert message.startswith(REFUSED) and device in message, message
    assert names(conn) == before


@pytest.mark.parametrize(("device", "root"), [(UNLIKE_LOCAL[0], True), (UNLIKE_LOCAL[1], False)])
def test_a_volume_at_a_name_the_backend_cannot_give_is_a_400_and_nothing_is_made(
    cloud: ServedGateway, conn: Any, device: str, root: bool
) -> None:
    """The root volume's name, or a data volume's beside a root the backend takes."""
    image = conn.image.find_image("debian-12", ignore_missing=False)
    flavor = conn.compute.find_flavor("m1.tiny", ignore_missing=False)
    root_mapping = {
        "uuid": image.id,
        "source_type": "image",
        "destination_type": "volume",
        "boot_index": 0,
        "volume_size": 1,
        "delete_on_termination": True,
    }
    data_mapping = {
        "source_type": "blank",
        "destination_type": "volume",
        "volume_size": 1,
        "device_name": device,
        "delete_on_termination": True,
    }
    mappings = [{**root_mapping, "device_name": device}] if root else [root_mapping, data_mapping]
    before = names(conn)
    message = refused(
        lambda: conn.compute.create_server(
            name="unlike-local", flavor_id=flavor.id, networks="none", block_device_mapping=mappings
        )
    )
    assert message.startswith(REFUSED) and device in message, message
    assert "(such as /dev/vdb)" in message, message
    assert names(conn) == before


def image_boot_refused(conn: Any, device: str) -> str:
    """The 400 of a boot of an image (any user may upload one) whose root device name is
    ``device``; nothing made of it."""
    image = conn.image.create_image(
        name=f"device-{secrets.token_hex(3)}",
        data=b"\0" * 65536,
        disk_format="raw",
        container_format="bare",
        root_device_name=device,
        wait=True,
    )
    try:
        assert image.properties["root_device_name"] == device
        flavor = conn.compute.find_flavor("m1.tiny", ignore_missing=False)
        before = names(conn)
        message = refused(
            lambda: conn.compute.create_server(
                name="device-image", flavor_id=flavor.id, image_id=image.id, networks="none"
            )
        )
        assert names(conn) == before
        return message
    finally:
        conn.image.delete_image(image.id)


def test_an_images_root_device_name_leading_out_of_dev_is_a_400_at_the_boot(
    cloud: ServedGateway, conn: Any, target: Path
) -> None:
    device = escaping(target)
    message = image_boot_refused(conn, device)
    assert message.startswith(REFUSED) and device in message, message


@pytest.mark.parametrize("device", UNLIKE_LOCAL)
def test_an_images_root_device_name_the_backend_cannot_give_is_a_400_at_the_boot(
    cloud: ServedGateway, conn: Any, device: str
) -> None:
    message = image_boot_refused(conn, device)
    assert message.startswith(REFUSED) and device in message, message
    assert "(such as /dev/vdb)" in message, message


def test_an_attachment_at_a_name_out_of_dev_or_the_backends_rules_is_a_400_and_the_volume_stays(
    cloud: ServedGateway, conn: Any, target: Path
) -> None:
    image = conn.image.find_image("debian-12", ignore_missing=False)
    flavor = conn.compute.find_flavor("m1.tiny", ignore_missing=False)
    server = conn.compute.create_server(
        name="attaching", flavor_id=flavor.id, image_id=image.id, networks="none"
    )
    volume = conn.block_storage.create_volume(name=f"esc-{secrets.token_hex(3)}", size=1)
    try:
        conn.compute.wait_for_server(server, wait=300)
        conn.block_storage.wait_for_status(volume, "available", wait=120, interval=1)
        device = escaping(target)
        message = refused(
            lambda: conn.compute.create_volume_attachment(
                server, volume_id=volume.id, device=device
            )
        )
        assert message == f"The supplied device path ({device}) is invalid.", message
        assert conn.block_storage.get_volume(volume.id).status == "available"
        assert list(conn.compute.volume_attachments(server)) == []
        # names the API takes that the backend cannot give: Nova's 400, the volume untouched
        for unlike in UNLIKE_LOCAL:
            message = refused(
                lambda unlike=unlike: conn.compute.create_volume_attachment(
                    server, volume_id=volume.id, device=unlike
                )
            )
            expected = f"The supplied device path ({unlike}) is invalid. "
            assert message.startswith(expected) and "(such as /dev/vdb)" in message, message
            assert conn.block_storage.get_volume(volume.id).status == "available"
            assert list(conn.compute.volume_attachments(server)) == []
    finally:
        conn.compute.delete_server(server)
        eventually(
            lambda: conn.compute.find_server(server.id),
            lambda found: found is None,
            "the server to be deleted",
            bound=120,
        )
        conn.block_storage.delete_volume(volume)
