"""A sim region gives a server its flavor's ephemeral and swap disks, and the blank local ones
its mappings ask for, as Nova does (it declares ``ephemeral_disks`` and keeps them in the
server's record): the create is accepted where a backend without them refuses it, and the
disks hold their devices, so a volume attached without a device comes after them (Nova names
/dev/vdb the ephemeral disk and /dev/vdc the swap disk first, or /dev/sdb and /dev/sdc after a
root at /dev/sda)."""

from __future__ import annotations

from tests.support.compute import cli_json, delete_server, server_active
from tests.support.gateway import ServedGateway
from tests.support.identity import unique
from tests.support.volume import delete_volume, sdk_status
from tests.support.waiting import eventually

CLOUD = "interstack"


def test_a_flavors_ephemeral_and_swap_disks_hold_their_devices_before_any_volume(
    gateway: ServedGateway,
) -> None:
    conn = gateway.connect(CLOUD)
    with gateway.connect("interstack-admin") as admin:
        flavor = admin.compute.create_flavor(name=unique("eph"), ram=512, vcpus=1, disk=1,
                                             ephemeral=1, swap=64)  # fmt: skip
    image = conn.image.create_image(name=unique("img"), data=b"\1" * 4096, disk_format="raw",
                                    container_format="bare")  # fmt: skip
    eventually(lambda: conn.image.get_image(image.id).status, "active".__eq__, "the image")
    volume = conn.block_storage.create_volume(size=1, name=unique("vol"))
    made: list[str] = []
    try:
        booted = conn.compute.create_server(
            name=unique("eph"), flavor_id=flavor.id, image_id=image.id, networks="none"
        )
        server = server_active(conn, booted)
        made.append(server.id)
        sdk_status(conn, volume, "available")
        attached = conn.compute.create_volume_attachment(server, volume_id=volume.id)
        assert attached.device == "/dev/vdd"
        sdk_status(conn, volume, "in-use")

        # the CLI's own blank local mappings, which a backend without such disks refuses
        other = cli_json(gateway, CLOUD, "server", "create", "--image", image.id, "--flavor",
                         flavor.id, "--nic", "none", "--ephemeral", "size=1,format=ext3",
                         "--swap", "32", "--wait", unique("cli"))  # fmt: skip
        made.append(other["id"])
        assert other["status"] == "ACTIVE"
    finally:
        for server_id in made:
            delete_server(conn, server_id)
        sdk_status(conn, volume, "available")
        delete_volume(conn, volume.id)
        conn.image.delete_image(image.id)
        with gateway.connect("interstack-admin") as admin:
            admin.compute.delete_flavor(flavor.id)


def test_disks_named_automatically_take_the_prefix_of_the_images_root_device(
    gateway: ServedGateway,
) -> None:
    """An image rooted at ``/dev/sda`` (a SCSI disk's name, as many cloud images say) or at
    ``xvda``: the flavor's ephemeral and swap disks, a volume mapped at boot and one attached
    later, none naming a device, are named after the root as Nova names them (ephemeral
    ``/dev/sdb``, swap ``/dev/sdc``, the volumes ``/dev/sdd`` and ``/dev/sde``) — they were
    ``/dev/vdb`` ... beside a root at ``/dev/sda``."""
    conn = gateway.connect(CLOUD)
    with gateway.connect("interstack-admin") as admin:
        flavor = admin.compute.create_flavor(name=unique("eph"), ram=512, vcpus=1, disk=1,
                                             ephemeral=1, swap=64)  # fmt: skip
    servers: list[str] = []
    volumes: list[str] = []
    images: list[str] = []
    try:
        for root, prefix in (("/dev/sda", "/dev/sd"), ("xvda", "/dev/xvd")):
            image = conn.image.create_image(name=unique("img"), data=b"\1" * 4096,
                                            disk_format="raw", container_format="bare",
                                            meta={"root_device_name": root})  # fmt: skip
            images.append(image.id)
            conn.image.wait_for_status(image, "active", wait=60, interval=0.2)
            mappings = [
                {"source_type": "image", "destination_type": "local", "uuid": image.id,
                 "boot_index": 0},
                {"source_type": "blank", "destination_type": "volume", "volume_size": 1,
                 "boot_index": -1, "delete_on_termination": True},
            ]  # fmt: skip
            booted = conn.compute.create_server(name=unique("root"), flavor_id=flavor.id,
                                                image_id=image.id, networks="none",
                                                block_device_mapping=mappings)  # fmt: skip
            server = server_active(conn, booted)
            servers.append(server.id)
            mapped = [a.device for a in conn.compute.volume_attachments(server)]
            assert mapped == [f"{prefix}d"], (root, mapped)
            volume = conn.block_storage.create_volume(size=1, name=unique("vol"))
            volumes.append(volume.id)
            sdk_status(conn, volume, "available")
            attached = conn.compute.create_volume_attachment(server, volume_id=volume.id)
            assert attached.device == f"{prefix}e", (root, attached.device)
            sdk_status(conn, volume, "in-use")
    finally:
        for server_id in servers:
            delete_server(conn, server_id)
        for volume_id in volumes:
            sdk_status(conn, conn.block_storage.get_volume(volume_id), "available")
            delete_volume(conn, volume_id)
        for image_id in images:
            conn.image.delete_image(image_id)
        with gateway.connect("interstack-admin") as admin:
            admin.compute.delete_flavor(flavor.id)
