"""Nova's image proxy (``/images/{id}``, up to 2.35): a server's snapshot in Nova's terms, as
Tempest's compute image tests wait for and delete it."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import openstack
import pytest

from tests.api.servers.conftest import IMAGE, boot_active, nova, wait_gone, wait_status
from tests.support.gateway import ServedGateway
from tests.support.identity import Member, client
from tests.support.waiting import eventually


def test_a_snapshot_through_the_image_proxy(
    compute_gateway: ServedGateway, member: Member, stranger: Member, api: httpx.Client
) -> None:
    server = boot_active(api, "snapped")
    with nova(compute_gateway, member.token(compute_gateway), "2.1") as old:
        made = old.post(
            f"/servers/{server['id']}/action",
            json={"createImage": {"name": "s", "metadata": {"image_type": "test"}}},
        )
        assert made.status_code == 202, made.text
        image_id = made.headers["Location"].rsplit("/", 1)[-1]

        def shown() -> dict[str, Any]:
            response = old.get(f"/images/{image_id}")
            assert response.status_code == 200, response.text
            image: dict[str, Any] = response.json()["image"]
            return image

        image = eventually(shown, lambda i: i["status"] == "ACTIVE", "the snapshot ACTIVE")
        assert (image["name"], image["progress"], image["minRam"]) == ("s", 100, 0)
        assert image["server"]["id"] == server["id"]
        assert image["metadata"]["image_type"] == "test"  # the caller's metadata wins, as in Nova
        assert image["links"][0]["href"].endswith(f"/compute/v2.1/images/{image_id}")
        assert old.get(f"/images/{IMAGE}").json()["image"]["status"] == "ACTIVE"

        with nova(compute_gateway, stranger.token(compute_gateway), "2.1") as theirs:
            assert theirs.get(f"/images/{image_id}").status_code == 404
            assert theirs.delete(f"/images/{image_id}").status_code == 404
        with nova(compute_gateway, member.token(compute_gateway), "2.36") as later:
            gone = later.get(f"/images/{image_id}")
            assert gone.status_code == 404 and "itemNotFound" in gone.json(), gone.text

        assert old.delete(f"/images/{image_id}").status_code == 204
        missing = old.get(f"/images/{image_id}")
        assert missing.status_code == 404 and "itemNotFound" in missing.json(), missing.text
    assert api.delete(f"/servers/{server['id']}").status_code == 204
    wait_gone(api, server["id"])


def test_a_servers_root_device_goes_with_its_snapshot_and_stays_across_a_rebuild(
    compute_gateway: ServedGateway,
    member: Member,
    api: httpx.Client,
    admin_api: httpx.Client,
    admin_http: httpx.Client,
) -> None:
    """An image whose root_device_name is /dev/vdb boots servers rooted there; a snapshot of
    such a server inherits the property (Nova copies the image's properties into its
    snapshot), so a server booted from the snapshot is rooted at /dev/vdb too (it was at
    /dev/vda: the snapshot copied formats and sizes alone), and a rebuild with an image that
    names no root device keeps the server's (Nova keeps root_device_name across a rebuild)."""
    rooted = str(uuid.uuid4())
    glance = f"{compute_gateway.url}/RegionOne/image/v2/images"
    made = admin_http.post(glance, json={"id": rooted, "name": "vdb", "disk_format": "qcow2",
                                         "container_format": "bare", "visibility": "public",
                                         "root_device_name": "/dev/vdb"})  # fmt: skip
    assert made.status_code == 201, made.text
    uploaded = admin_http.put(f"{glance}/{rooted}/file", content=b"vdb disk\n" * 64,
                              headers={"Content-Type": "application/octet-stream"})  # fmt: skip
    assert uploaded.status_code == 204, uploaded.text

    def root_device(server_id: str) -> str:
        shown = admin_api.get(f"/servers/{server_id}").json()["server"]
        return str(shown["OS-EXT-SRV-ATTR:root_device_name"])

    server = boot_active(api, "rooted", imageRef=rooted)
    assert root_device(server["id"]) == "/dev/vdb"
    snapped = api.post(f"/servers/{server['id']}/action", json={"createImage": {"name": "s"}})
    assert snapped.status_code == 202, snapped.text
    snapshot = snapped.json()["image_id"]
    with client(compute_gateway, member.token(compute_gateway)) as mine:
        image = eventually(lambda: mine.get(f"{glance}/{snapshot}").json(),
                           lambda i: i["status"] == "active", "the snapshot active")  # fmt: skip
    assert image["root_device_name"] == "/dev/vdb"
    again = boot_active(api, "from-snapshot", imageRef=snapshot)
    assert root_device(again["id"]) == "/dev/vdb"

    rebuilt = api.post(f"/servers/{server['id']}/action", json={"rebuild": {"imageRef": IMAGE}})
    assert rebuilt.status_code == 202, rebuilt.text
    wait_status(api, server["id"], "ACTIVE")
    assert root_device(server["id"]) == "/dev/vdb"
    for done in (server, again):
        assert api.delete(f"/servers/{done['id']}").status_code == 204
        wait_gone(api, done["id"])
    with client(compute_gateway, member.token(compute_gateway)) as mine:
        assert mine.delete(f"{glance}/{snapshot}").status_code == 204


#: the server's image's properties a snapshot carries on (Nova's snapshot copies them)
INHERITED = {"hw_disk_bus": "scsi", "os_distro": "debian", "os_type": "linux",
             "owner_note": "kept", "root_device_name": "/dev/vda"}  # fmt: skip
#: those Nova never copies: an encryption key, a signature (of the image's data), its option's
#: defaults, and the mappings of the image's own disks
NOT_INHERITED = {"cache_in_nova": "True", "bittorrent": "yes", "img_signature": "c2ln",
                 "img_signature_hash_method": "SHA-256",
                 "cinder_encryption_key_id": str(uuid.UUID(int=7)),
                 "mappings": '[{"virtual": "root", "device": "vda"}]'}  # fmt: skip


def test_a_snapshot_carries_its_images_properties_as_novas_does(
    compute_gateway: ServedGateway,
    member: Member,
    conn: Any,
    api: httpx.Client,
    admin_http: httpx.Client,
) -> None:
    """openstacksdk's ``create_server_image``: the snapshot has its server's image's
    properties (``hw_*``, ``os_distro``, any of the owner's) but none Nova leaves out, and
    Nova's own (``base_image_ref``, ``image_type``, ``instance_uuid``, ``user_id``) under the
    createImage metadata; a snapshot of a server booted from that snapshot names the first
    image as its base. The snapshot had root_device_name alone of them."""
    base = str(uuid.uuid4())
    glance = f"{compute_gateway.url}/RegionOne/image/v2/images"
    made = admin_http.post(glance, json={"id": base, "name": "props", "disk_format": "qcow2",
                                         "container_format": "bare", "visibility": "public",
                                         **INHERITED, **NOT_INHERITED})  # fmt: skip
    assert made.status_code == 201, made.text
    uploaded = admin_http.put(f"{glance}/{base}/file", content=b"props disk\n" * 64,
                              headers={"Content-Type": "application/octet-stream"})  # fmt: skip
    assert uploaded.status_code == 204, uploaded.text

    def snapshot_of(server_id: str) -> dict[str, Any]:
        image = conn.compute.create_server_image(server_id, "snap", metadata={"purpose": "ci"})
        conn.image.wait_for_status(image, "active", wait=60, interval=0.2)
        with client(compute_gateway, member.token(compute_gateway)) as mine:
            shown: dict[str, Any] = mine.get(f"{glance}/{image.id}").json()
        return shown

    first = boot_active(api, "props", imageRef=base)
    snapshot = snapshot_of(first["id"])
    assert {key: snapshot.get(key) for key in INHERITED} == INHERITED
    assert [key for key in NOT_INHERITED if key in snapshot] == []
    nova_own = {"base_image_ref": base, "image_type": "snapshot", "instance_uuid": first["id"],
                "user_id": member.user_id, "purpose": "ci"}  # fmt: skip
    assert {key: snapshot.get(key) for key in nova_own} == nova_own

    second = boot_active(api, "props-again", imageRef=snapshot["id"])
    again = snapshot_of(second["id"])
    assert (again["base_image_ref"], again["instance_uuid"]) == (base, second["id"])
    assert {key: again.get(key) for key in INHERITED} == INHERITED
    for server in (first, second):
        assert api.delete(f"/servers/{server['id']}").status_code == 204
        wait_gone(api, server["id"])
    for image_id in (snapshot["id"], again["id"]):
        conn.image.delete_image(image_id)


def test_a_snapshots_min_disk_is_its_flavors_root_disk_when_larger(
    conn: Any, api: httpx.Client
) -> None:
    """Nova's ``image_min_disk``: the larger of the image's min_disk (0 here) and the flavor's
    root disk (m1.small's 20 GB), which a server booted from the snapshot needs: its disk was
    grown to the flavor's size."""
    server = boot_active(api, "min-disk", flavorRef="2")
    image = conn.compute.create_server_image(server["id"], "min-disk-snap")
    conn.image.wait_for_status(image, "active", wait=60, interval=0.2)
    snapshot = conn.image.get_image(image.id)
    assert (snapshot.min_disk, snapshot.min_ram) == (20, 0)
    tiny = conn.compute.find_flavor("m1.tiny", ignore_missing=False)
    too_small = "smaller than the minimum size"
    with pytest.raises(openstack.exceptions.BadRequestException, match=too_small):
        conn.compute.create_server(
            name="too-small", image_id=snapshot.id, flavor_id=tiny.id, networks="none"
        )
    conn.image.delete_image(snapshot.id)
    assert api.delete(f"/servers/{server['id']}").status_code == 204
    wait_gone(api, server["id"])


def test_an_admins_snapshot_of_another_projects_server_is_shared_with_that_project(
    compute_gateway: ServedGateway, member: Member, stranger: Member, conn: Any, api: httpx.Client
) -> None:
    """Nova's createImage by a user of another project than the server's (an admin): the
    image is the admin's project's, ``shared``, with the server's project a member of it
    (``instance_owner``), so the server's owners see it and boot from it; other projects do
    not. The owners' own snapshot stays private."""
    server = boot_active(api, "admin-snapped")
    admin = compute_gateway.connect("interstack-admin")
    try:
        made = admin.compute.create_server_image(server["id"], "by-the-admin")
        admin.image.wait_for_status(made, "active", wait=60, interval=0.2)
        image = admin.image.get_image(made.id)
        assert (image.owner, image.visibility) == (admin.current_project_id, "shared")
        assert "instance_owner" not in image.properties
        [offered] = list(admin.image.members(made.id))
        assert (offered.member_id, offered.status) == (member.project_id, "pending")
    finally:
        admin.close()

    seen = conn.image.get_image(made.id)
    assert (seen.id, seen.status) == (made.id, "active")
    again = boot_active(api, "from-the-admins", imageRef=made.id)
    with nova(compute_gateway, stranger.token(compute_gateway)) as theirs:
        assert theirs.get(f"/images/{made.id}").status_code == 404
        glance = f"{compute_gateway.url}/RegionOne/image/v2/images/{made.id}"
        assert theirs.get(glance).status_code == 404

    own = conn.compute.create_server_image(server["id"], "by-the-owner")
    conn.image.wait_for_status(own, "active", wait=60, interval=0.2)
    assert conn.image.get_image(own.id).visibility == "private"
    for snapped in (server, again):
        assert api.delete(f"/servers/{snapped['id']}").status_code == 204
        wait_gone(api, snapped["id"])
    conn.image.delete_image(own.id)
    with compute_gateway.connect("interstack-admin") as cleanup:
        cleanup.image.delete_image(made.id)
