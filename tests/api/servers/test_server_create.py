"""Creating servers over raw HTTP: the 202 answer, the boot to ACTIVE, Nova's 400/403 bodies for
bad input with nothing left behind, and the fields each microversion and role shows."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest

from tests.api.servers.conftest import (
    BARE_IMAGE,
    BARE_REGION,
    IMAGE,
    boot,
    boot_active,
    nova,
    wait_gone,
    wait_status,
)
from tests.support.gateway import ServedGateway
from tests.support.identity import Member, unique


def test_create_answers_202_with_location_and_boots_to_active(api: httpx.Client) -> None:
    response = api.post(
        "/servers",
        json={
            "server": {
                "name": "web-1",
                "flavorRef": "1",
                "imageRef": IMAGE,
                "networks": "none",
                "metadata": {"role": "web"},
                "user_data": base64.b64encode(b"#cloud-config\n").decode(),
                "security_groups": [{"name": "default"}],
            }
        },
    )
    assert response.status_code == 202, response.text
    created = response.json()["server"]
    assert set(created) == {"id", "links", "OS-DCF:diskConfig", "security_groups", "adminPass"}
    assert created["security_groups"] == [{"name": "default"}]
    assert len(created["adminPass"]) >= 8
    assert response.headers["Location"].endswith(f"/v2.1/servers/{created['id']}")
    shown = api.get(f"/servers/{created['id']}").json()["server"]
    assert shown["status"] == "BUILD"
    assert shown["OS-EXT-STS:vm_state"] == "building"
    assert shown["OS-SRV-USG:launched_at"] is None

    active = boot_active_from(api, created["id"])
    assert active["OS-EXT-STS:power_state"] == 1
    assert active["OS-SRV-USG:launched_at"] is not None
    assert active["hostId"]
    assert active["metadata"] == {"role": "web"}
    assert active["image"]["id"] == IMAGE
    assert "adminPass" not in active


def boot_active_from(api: httpx.Client, server_id: str) -> dict[str, Any]:
    from tests.api.servers.conftest import wait_status

    return wait_status(api, server_id, "ACTIVE")


def _ids(api: httpx.Client) -> set[str]:
    return {s["id"] for s in api.get("/servers").json()["servers"]}


@pytest.mark.parametrize(
    ("change", "status", "message"),
    [
        ({"flavorRef": "999"}, 400, "Flavor 999 could not be found."),
        ({"key_name": "no-such-key"}, 400, "Invalid key_name provided."),
        ({"user_data": "not base64!"}, 400, "User data needs to be valid base 64."),
        ({"availability_zone": "elsewhere"}, 400, "availability zone is not available"),
        ({"min_count": 3, "max_count": 2}, 400, "min_count must be <= max_count"),
        ({"min_count": 11, "max_count": 11}, 403, "Quota exceeded for instances"),
        ({"imageRef": "not-a-uuid"}, 400, "Invalid imageRef provided."),
        (
            {"imageRef": "5e1c0a77-0000-4000-8000-00000000dead"},
            400,
            "Image 5e1c0a77-0000-4000-8000-00000000dead could not be found.",
        ),
        ({"networks": [{"uuid": "nope"}]}, 400, "not a valid UUID"),
        ({"name": " padded "}, 400, "whitespace"),
        ({"flavorRef": "1", "bogus": 1}, 400, "bogus"),
        (
            {
                "imageRef": "",
                "block_device_mapping_v2": [
                    {
                        "boot_index": 0,
                        "uuid": IMAGE,
                        "source_type": "volume",
                        "destination_type": "volume",
                    }
                ],
            },
            400,
            f"failed to get volume {IMAGE}",  # an image's id is no volume's
        ),
    ],
)
def test_bad_create_gets_novas_fault_and_leaves_nothing(
    api: httpx.Client, change: dict[str, Any], status: int, message: str
) -> None:
    body = {"name": "refused", "flavorRef": "1", "imageRef": IMAGE, "networks": "none", **change}
    before = _ids(api)
    response = api.post("/servers", json={"server": body})
    assert response.status_code == status, response.text
    fault_name = "badRequest" if status == 400 else "forbidden"
    fault = response.json()[fault_name]
    assert fault["code"] == status
    assert message in fault["message"]
    # none new, whatever its name (a change may rename it); an earlier test's server may go
    assert _ids(api) <= before


def test_networks_are_required_from_237_and_auto_is_unknown_before(
    compute_gateway: ServedGateway, member: Member
) -> None:
    token = member.token(compute_gateway)
    body = {"name": "n", "flavorRef": "1", "imageRef": IMAGE}
    with nova(compute_gateway, token, "2.37") as at_237:
        missing = at_237.post("/servers", json={"server": body})
        assert missing.status_code == 400, missing.text
        assert "networks" in missing.json()["badRequest"]["message"]
    with nova(compute_gateway, token, "2.36") as at_236:
        auto = at_236.post("/servers", json={"server": {**body, "networks": "auto"}})
        assert auto.status_code == 400, auto.text


def test_a_bootable_image_from_a_block_device_mapping(api: httpx.Client) -> None:
    """The image -> local mapping repeats the imageRef at boot_index 0 (as openstacksdk's cloud
    layer sends it); Nova refuses one without the imageRef."""
    server_id = boot(
        api,
        "from-bdm",
        block_device_mapping_v2=[
            {
                "boot_index": 0,
                "uuid": IMAGE,
                "source_type": "image",
                "destination_type": "local",
                "delete_on_termination": True,
            }
        ],
    )
    active = boot_active_from(api, server_id)
    assert active["image"]["id"] == IMAGE


def test_min_max_count_with_reservation_id(api: httpx.Client) -> None:
    response = api.post(
        "/servers",
        json={
            "server": {
                "name": "batch",
                "flavorRef": "1",
                "imageRef": IMAGE,
                "networks": "none",
                "min_count": 2,
                "max_count": 2,
                "return_reservation_id": True,
            }
        },
    )
    assert response.status_code == 202, response.text
    reservation = response.json()["reservation_id"]
    assert reservation.startswith("r-")
    found = api.get("/servers/detail", params={"reservation_id": reservation}).json()["servers"]
    assert sorted(s["name"] for s in found) == ["batch-1", "batch-2"]
    for server in found:
        assert api.delete(f"/servers/{server['id']}").status_code == 204
    for server in found:
        wait_gone(api, server["id"])


def test_fields_follow_the_microversion(
    compute_gateway: ServedGateway, member: Member, api: httpx.Client
) -> None:
    server = boot_active(api, "versioned", description="first", tags=["a", "b"])
    token = member.token(compute_gateway)
    with nova(compute_gateway, token, "2.1") as old:
        at_21 = old.get(f"/servers/{server['id']}").json()["server"]
    for later_field in ("locked", "description", "tags", "locked_reason"):
        assert later_field not in at_21
    assert set(at_21["flavor"]) == {"id", "links"}
    assert "OS-EXT-SRV-ATTR:host" not in at_21  # admins only

    assert server["description"] == "first"
    assert server["tags"] == ["a", "b"]
    assert server["locked"] is False
    assert server["locked_reason"] is None
    assert server["flavor"]["original_name"] == "m1.tiny"
    assert server["flavor"]["vcpus"] == 1
    assert "host_status" not in server


def test_admins_see_extended_attributes(api: httpx.Client, admin_api: httpx.Client) -> None:
    server = boot_active(api, "extended")
    shown = admin_api.get(f"/servers/{server['id']}").json()["server"]
    assert shown["OS-EXT-SRV-ATTR:host"]
    assert shown["OS-EXT-SRV-ATTR:reservation_id"].startswith("r-")
    assert shown["OS-EXT-SRV-ATTR:launch_index"] == 0
    assert shown["host_status"] == "UP"


def test_update_name_description_and_access_ip(api: httpx.Client) -> None:
    server = boot_active(api, "before")
    response = api.put(
        f"/servers/{server['id']}",
        json={"server": {"name": "after", "description": "renamed", "accessIPv4": "192.0.2.7"}},
    )
    assert response.status_code == 200, response.text
    updated = response.json()["server"]
    assert (updated["name"], updated["description"]) == ("after", "renamed")
    assert updated["accessIPv4"] == "192.0.2.7"
    bad = api.put(f"/servers/{server['id']}", json={"server": {"accessIPv4": "not-an-ip"}})
    assert bad.status_code == 400, bad.text


def test_a_failed_boot_ends_in_error_with_a_fault(bare_gateway: ServedGateway) -> None:
    with nova(bare_gateway, bare_gateway.token("interstack"), region=BARE_REGION) as api:
        server_id = boot(api, unique("doomed"), imageRef=BARE_IMAGE)
        failed = wait_status(api, server_id, "ERROR")
        assert failed["fault"]["code"] == 500
        assert "No valid host" in failed["fault"]["message"]
        assert api.delete(f"/servers/{server_id}").status_code == 204
        wait_gone(api, server_id)


def test_actions_the_backend_lacks_are_501_not_implemented(bare_gateway: ServedGateway) -> None:
    with nova(bare_gateway, bare_gateway.token("interstack"), region=BARE_REGION) as api:
        server = boot_active(api, unique("plain"), imageRef=BARE_IMAGE)
        for action in ({"pause": None}, {"resize": {"flavorRef": "2"}}):
            response = api.post(f"/servers/{server['id']}/action", json=action)
            assert response.status_code == 501, response.text
            assert response.json()["notImplemented"]["code"] == 501
        assert api.get(f"/servers/{server['id']}").json()["server"]["status"] == "ACTIVE"
        assert api.delete(f"/servers/{server['id']}").status_code == 204


def test_create_answers_the_callers_admin_pass(api: httpx.Client) -> None:
    """Nova shows the adminPass the caller chose (Tempest's create-with-admin-password), and
    never again after the create answer."""
    response = api.post(
        "/servers",
        json={
            "server": {
                "name": "chosen-pass",
                "flavorRef": "1",
                "imageRef": IMAGE,
                "networks": "none",
                "adminPass": "Chosen-Pass-42",
            }
        },
    )
    assert response.status_code == 202, response.text
    created = response.json()["server"]
    assert created["adminPass"] == "Chosen-Pass-42"
    shown = api.get(f"/servers/{created['id']}").json()["server"]
    assert "adminPass" not in shown
    assert api.delete(f"/servers/{created['id']}").status_code == 204
