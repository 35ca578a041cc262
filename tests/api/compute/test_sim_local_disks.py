"""A sim region gives a server its flavor's ephemeral and swap disks, and the blank local ones
its mappings ask for, as Nova does (it declares ``ephemeral_disks`` and keeps them in the
server's record): the create is accepted where a backend without them refuses it, and the
disks hold their devices, so a volume attached without a device comes after them (Nova's
libvirt driver names /dev/vdb the ephemeral disk and /dev/vdc the swap disk first)."""

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
