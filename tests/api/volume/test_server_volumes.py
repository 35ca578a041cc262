"""Volumes on servers: Nova's ``os-volume_attachments`` through openstacksdk, the CLI and raw
HTTP, with the volume's status following the attachment."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from interstack.store.models import Server as ServerRow
from tests.support.compute import assert_nova_fault, cli_json, nova, server_active
from tests.support.gateway import ServedGateway
from tests.support.identity import Member, client, unique
from tests.support.volume import (
    cinder,
    create_volume,
    public_image,
    sdk_status,
    server_without_networks,
    wait_volume,
)
from tests.support.waiting import eventually

IMAGE = "3b0f9c1e-6d2a-4e8b-9f1c-2a3b4c5d6e7f"


@pytest.fixture(scope="module")
def member(volume_gateway: ServedGateway, members: tuple[Member, Member]) -> Member:
    return members[0]


@pytest.fixture(scope="module")
def server_id(volume_gateway: ServedGateway, member: Member) -> str:
    """An active server of the member's project, booted without networks."""
    return server_without_networks(volume_gateway, member, public_image(volume_gateway, IMAGE))


@pytest.fixture(scope="module")
def volumes_api(volume_gateway: ServedGateway, member: Member) -> httpx.Client:
    return cinder(volume_gateway, member.token(volume_gateway), member.project_id)


def test_attach_list_show_and_detach_over_http(
    volume_gateway: ServedGateway, member: Member, server_id: str, volumes_api: httpx.Client
) -> None:
    api = nova(volume_gateway, member.token(volume_gateway), "2.79")
    first = create_volume(volumes_api)["id"]
    second = create_volume(volumes_api)["id"]
    base = f"/servers/{server_id}/os-volume_attachments"

    attached = api.post(base, json={"volumeAttachment": {"volumeId": first}})
    assert attached.status_code == 200, attached.text
    shown = attached.json()["volumeAttachment"]
    assert shown == {"id": first, "volumeId": first, "serverId": server_id,
                     "device": "/dev/vdb", "tag": None, "delete_on_termination": False}  # fmt: skip
    in_use = wait_volume(volumes_api, first, "in-use")
    assert in_use["attachments"][0]["server_id"] == server_id

    again = api.post(base, json={"volumeAttachment": {"volumeId": first}})
    assert "available" in assert_nova_fault(again, 400, "badRequest")
    taken = api.post(base, json={"volumeAttachment": {"volumeId": second, "device": "/dev/vdb"}})
    assert "in use" in assert_nova_fault(taken, 400, "badRequest")
    # Nova's boolean: true/false or its string spellings ("yes", "False" ...), not "t" or 1
    for odd in ("t", 1):
        asked = {"volumeId": second, "delete_on_termination": odd}
        unsure = api.post(base, json={"volumeAttachment": asked})
        assert "is not a boolean" in assert_nova_fault(unsure, 400, "badRequest")
    refused = volumes_api.delete(f"/volumes/{first}")
    assert refused.status_code == 400

    at_c = api.post(base, json={"volumeAttachment": {"volumeId": second, "device": "/dev/vdc"}})
    assert at_c.json()["volumeAttachment"]["device"] == "/dev/vdc"
    wait_volume(volumes_api, second, "in-use")
    listed = api.get(base).json()["volumeAttachments"]
    assert sorted(a["device"] for a in listed) == ["/dev/vdb", "/dev/vdc"]
    assert api.get(f"{base}/{second}").json()["volumeAttachment"]["volumeId"] == second

    for volume_id in (first, second):
        assert api.delete(f"{base}/{volume_id}").status_code == 202
        assert wait_volume(volumes_api, volume_id, "available")["attachments"] == []
    assert_nova_fault(api.get(f"{base}/{first}"), 404, "itemNotFound")
    assert_nova_fault(api.delete(f"{base}/{first}"), 404, "itemNotFound")


def test_an_attachment_at_what_is_not_one_device_under_dev_is_novas_400(
    volume_gateway: ServedGateway, member: Member, server_id: str, volumes_api: httpx.Client
) -> None:
    """A backend makes host paths by the name (the local one a node and a /sys/block entry):
    one name under /dev, matched whole (``/dev/vdb`` and a newline was taken), else nothing is
    attached and the volume stays available."""
    api = nova(volume_gateway, member.token(volume_gateway), "2.79")
    volume = create_volume(volumes_api)["id"]
    base = f"/servers/{server_id}/os-volume_attachments"
    for device in ("/dev/vdb\n", "/dev/", "/dev/vdb/", "/dev/vd/b", "/dev/../../tmp/x", "/dev/.."):
        asked = {"volumeAttachment": {"volumeId": volume, "device": device}}
        message = assert_nova_fault(api.post(base, json=asked), 400, "badRequest")
        assert message == f"The supplied device path ({device}) is invalid.", message
    assert volumes_api.get(f"/volumes/{volume}").json()["volume"]["status"] == "available"
    assert all(a["volumeId"] != volume for a in api.get(base).json()["volumeAttachments"])
    assert volumes_api.delete(f"/volumes/{volume}").status_code == 202


def test_other_projects_server_and_unknown_volume(
    volume_gateway: ServedGateway,
    members: tuple[Member, Member],
    server_id: str,
    volumes_api: httpx.Client,
) -> None:
    stranger = members[1]
    api = nova(volume_gateway, stranger.token(volume_gateway))
    theirs = create_volume(cinder(volume_gateway, stranger.token(volume_gateway),
                                  stranger.project_id))["id"]  # fmt: skip
    base = f"/servers/{server_id}/os-volume_attachments"
    assert_nova_fault(api.get(base), 404, "itemNotFound")
    assert_nova_fault(api.post(base, json={"volumeAttachment": {"volumeId": theirs}}), 404,
                      "itemNotFound")  # fmt: skip
    owner = nova(volume_gateway, volumes_api.headers["X-Auth-Token"])
    foreign = owner.post(base, json={"volumeAttachment": {"volumeId": theirs}})
    assert theirs in assert_nova_fault(foreign, 404, "itemNotFound")


def test_a_device_tag_needs_2_49_and_is_shown_from_2_70_and_attached_mode_while_in_use(
    volume_gateway: ServedGateway, member: Member, server_id: str, volumes_api: httpx.Client
) -> None:
    token = member.token(volume_gateway)
    volume = create_volume(volumes_api)["id"]
    base = f"/servers/{server_id}/os-volume_attachments"
    tagged = {"volumeAttachment": {"volumeId": volume, "tag": "logs"}}
    early = nova(volume_gateway, token, "2.48").post(base, json=tagged)
    assert "2.49" in assert_nova_fault(early, 400, "badRequest")
    assert wait_volume(volumes_api, volume, "available")["attachments"] == []
    attached = nova(volume_gateway, token, "2.49").post(base, json=tagged)
    assert attached.status_code == 200, attached.text
    assert "tag" not in attached.json()["volumeAttachment"]
    assert wait_volume(volumes_api, volume, "in-use")["metadata"] == {"attached_mode": "rw"}
    shown = nova(volume_gateway, token, "2.70").get(f"{base}/{volume}")
    assert shown.json()["volumeAttachment"]["tag"] == "logs"
    assert nova(volume_gateway, token, "2.79").delete(f"{base}/{volume}").status_code == 202
    assert wait_volume(volumes_api, volume, "available")["metadata"] == {}


def test_sdk_and_cli_attach_and_detach(
    volume_gateway: ServedGateway, server_id: str, volumes_api: httpx.Client, member: Member
) -> None:
    conn = volume_gateway.connect("interstack")
    # the clouds.yaml user works in its own project: give it a server there through the SDK
    volume = conn.block_storage.create_volume(size=1, name=unique("sdk-att"))
    volume = sdk_status(conn, volume, "available")
    flavor = next(iter(conn.compute.flavors()))
    server = conn.compute.create_server(name=unique("sdk-srv"), image_id=IMAGE,
                                        flavor_id=flavor.id, networks="none")  # fmt: skip
    server = server_active(conn, server)
    conn.compute.create_volume_attachment(server, volume_id=volume.id)
    eventually(lambda: conn.block_storage.get_volume(volume.id).status,
               lambda status: status == "in-use", "the SDK's attachment")  # fmt: skip
    attachments = list(conn.compute.volume_attachments(server))
    assert [a.volume_id for a in attachments] == [volume.id]
    assert conn.block_storage.get_volume(volume.id).metadata == {"attached_mode": "rw"}

    volume_gateway.cli("interstack", "server", "remove", "volume", server.id, volume.id)
    eventually(lambda: conn.block_storage.get_volume(volume.id).status,
               lambda status: status == "available", "the CLI's detachment")  # fmt: skip
    assert conn.block_storage.get_volume(volume.id).metadata == {}
    # a device role tag (2.49) that the attachment list shows (2.70)
    microversion = ("--os-compute-api-version", "2.79")
    volume_gateway.cli("interstack", "server", "add", "volume", "--device", "/dev/vdd",
                       "--tag", "db", server.id, volume.id, extra=microversion)  # fmt: skip
    eventually(lambda: conn.block_storage.get_volume(volume.id).status,
               lambda status: status == "in-use", "the CLI's attachment")  # fmt: skip
    listed: Any = cli_json(
        volume_gateway, "interstack", "server", "volume", "list", server.id, extra=microversion
    )
    assert [(v["Volume ID"], v["Device"]) for v in listed] == [(volume.id, "/dev/vdd")]
    assert [v["Tag"] for v in listed] == ["db"]
    # each recorded as Nova records it, newest first, its event finished by the task
    actions = list(conn.compute.server_actions(server))
    assert [a.action for a in actions] == ["attach_volume", "detach_volume", "attach_volume",
                                           "create"]  # fmt: skip
    (event,) = conn.compute.get_server_action(actions[1].request_id, server).events
    assert (event.event, event.result) == ("compute_detach_volume", "Success")


def test_an_attach_named_automatically_skips_the_servers_ephemeral_and_swap_disks(
    volume_gateway: ServedGateway, member: Member, server_id: str, volumes_api: httpx.Client
) -> None:
    """The server's ephemeral and swap disks hold /dev/vdb and /dev/vdc (Nova names them
    before any volume): a volume attached without a device takes /dev/vdd, one asked at
    /dev/vdb is Nova's 400 — on the local backend it would have replaced the ephemeral disk's
    node in the guest. sim gives no such disks, so the server's row is given them behind the
    gateway's back, as a backend declaring ``ephemeral_disks`` has them planned."""
    disks = [
        {"name": "ephemeral0", "device": "/dev/vdb", "size_mb": 1024, "guest_format": "ext4"},
        {"name": "swap", "device": "/dev/vdc", "size_mb": 64, "guest_format": "swap"},
    ]

    def give(local_disks: list[dict[str, Any]]) -> None:
        with volume_gateway.store() as database, database.session() as session:
            session.get_one(ServerRow, server_id).local_disks = local_disks

    api = nova(volume_gateway, member.token(volume_gateway), "2.79")
    base = f"/servers/{server_id}/os-volume_attachments"
    volume = create_volume(volumes_api)["id"]
    give(disks)
    try:
        taken = api.post(base, json={"volumeAttachment": {"volumeId": volume,
                                                          "device": "/dev/vdb"}})  # fmt: skip
        assert "(/dev/vdb) is in use" in assert_nova_fault(taken, 400, "badRequest")
        attached = api.post(base, json={"volumeAttachment": {"volumeId": volume}})
        assert attached.status_code == 200, attached.text
        assert attached.json()["volumeAttachment"]["device"] == "/dev/vdd"
        wait_volume(volumes_api, volume, "in-use")
        assert api.delete(f"{base}/{volume}").status_code == 202
        wait_volume(volumes_api, volume, "available")
    finally:
        give([])


def test_an_attach_skips_the_root_device_the_servers_image_names(
    volume_gateway: ServedGateway, member: Member, volumes_api: httpx.Client
) -> None:
    """A server booted from an image whose root_device_name is /dev/vdb has its root there
    (OS-EXT-SRV-ATTR:root_device_name): a volume attached without a device skips it
    (/dev/vdc), one asked at /dev/vdb is Nova's 400 (the device is in use) — the attach took
    /dev/vda alone for the root and gave such a volume the root's device."""
    token = member.token(volume_gateway)
    glance = client(volume_gateway, token)
    images = f"{volume_gateway.url}/RegionOne/image/v2/images"
    image = glance.post(images, json={"name": unique("vdb"), "disk_format": "raw",
                                      "container_format": "bare",
                                      "root_device_name": "/dev/vdb"}).json()  # fmt: skip
    uploaded = glance.put(f"{images}/{image['id']}/file", content=b"\0" * 512,
                          headers={"Content-Type": "application/octet-stream"})  # fmt: skip
    assert uploaded.status_code == 204, uploaded.text
    api = nova(volume_gateway, token, "2.79")
    flavor = api.get("/flavors").json()["flavors"][0]["id"]
    new = {"name": unique("vdb"), "imageRef": image["id"], "flavorRef": flavor, "networks": "none"}
    booted = api.post("/servers", json={"server": new})
    assert booted.status_code == 202, booted.text
    server = booted.json()["server"]["id"]
    eventually(lambda: api.get(f"/servers/{server}").json()["server"]["status"],
               lambda status: status == "ACTIVE", "the server")  # fmt: skip
    base = f"/servers/{server}/os-volume_attachments"
    volume = create_volume(volumes_api)["id"]
    taken = api.post(base, json={"volumeAttachment": {"volumeId": volume, "device": "/dev/vdb"}})
    assert "(/dev/vdb) is in use" in assert_nova_fault(taken, 400, "badRequest")
    attached = api.post(base, json={"volumeAttachment": {"volumeId": volume}})
    assert attached.status_code == 200, attached.text
    assert attached.json()["volumeAttachment"]["device"] == "/dev/vdc"
    wait_volume(volumes_api, volume, "in-use")
    assert api.delete(f"/servers/{server}").status_code == 204
    wait_volume(volumes_api, volume, "available")
