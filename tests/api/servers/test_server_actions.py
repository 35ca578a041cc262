"""Server actions over raw HTTP: the state machine and Nova's 409s, lock, rebuild, resize,
console output, metadata, tags and the ``os-instance-actions`` record of each."""

from __future__ import annotations

from typing import Any

import httpx

from tests.api.servers.conftest import (
    OTHER_IMAGE,
    nova,
    wait_status,
)
from tests.support.gateway import ServedGateway
from tests.support.identity import Member, unique


def act(api: httpx.Client, server_id: str, action: str, value: Any = None) -> httpx.Response:
    return api.post(f"/servers/{server_id}/action", json={action: value})


def test_power_actions_move_through_novas_states(api: httpx.Client, server: dict[str, Any]) -> None:
    sid = server["id"]
    steps = [
        ("os-stop", None, "SHUTOFF"),
        ("os-start", None, "ACTIVE"),
        ("reboot", {"type": "SOFT"}, "ACTIVE"),
        ("reboot", {"type": "HARD"}, "ACTIVE"),
        ("pause", None, "PAUSED"),
        ("unpause", None, "ACTIVE"),
        ("suspend", None, "SUSPENDED"),
        ("resume", None, "ACTIVE"),
    ]
    for action, value, status in steps:
        response = act(api, sid, action, value)
        assert response.status_code == 202, f"{action}: {response.text}"
        assert wait_status(api, sid, status)["status"] == status
    actions = api.get(f"/servers/{sid}/os-instance-actions").json()["instanceActions"]
    assert [a["action"] for a in actions] == [
        "resume",
        "suspend",
        "unpause",
        "pause",
        "reboot",
        "reboot",
        "start",
        "stop",
        "create",
    ]


def test_wrong_state_is_a_409_naming_the_state(api: httpx.Client, server: dict[str, Any]) -> None:
    sid = server["id"]
    response = act(api, sid, "os-start")
    assert response.status_code == 409, response.text
    assert response.json()["conflictingRequest"]["message"] == (
        f"Cannot 'start' instance {sid} while it is in vm_state active"
    )
    assert act(api, sid, "os-stop").status_code == 202
    wait_status(api, sid, "SHUTOFF")
    soft = act(api, sid, "reboot", {"type": "SOFT"})
    assert soft.status_code == 409, soft.text
    assert "vm_state stopped" in soft.json()["conflictingRequest"]["message"]


def test_unknown_and_malformed_actions_are_400(api: httpx.Client, server: dict[str, Any]) -> None:
    sid = server["id"]
    unknown = act(api, sid, "fly")
    assert unknown.status_code == 400
    assert "fly" in unknown.json()["badRequest"]["message"]
    assert act(api, sid, "reboot", {"type": "GENTLE"}).status_code == 400
    assert act(api, sid, "resize", {}).status_code == 400


def test_lock_refuses_changes_until_unlocked(api: httpx.Client, server: dict[str, Any]) -> None:
    sid = server["id"]
    assert act(api, sid, "lock", {"locked_reason": "maintenance"}).status_code == 202
    shown = api.get(f"/servers/{sid}").json()["server"]
    assert (shown["locked"], shown["locked_reason"]) == (True, "maintenance")
    for refused in (act(api, sid, "os-stop"), api.delete(f"/servers/{sid}")):
        assert refused.status_code == 409, refused.text
        assert refused.json()["conflictingRequest"]["message"] == f"Instance {sid} is locked"
    assert act(api, sid, "unlock").status_code == 202
    assert api.get(f"/servers/{sid}").json()["server"]["locked"] is False
    assert act(api, sid, "os-stop").status_code == 202


def test_admin_lock_cannot_be_lifted_by_the_owner(
    api: httpx.Client, admin_api: httpx.Client, server: dict[str, Any]
) -> None:
    sid = server["id"]
    assert act(admin_api, sid, "lock").status_code == 202
    refused = act(api, sid, "unlock")
    assert refused.status_code == 403, refused.text
    assert act(admin_api, sid, "unlock").status_code == 202


def test_rebuild_boots_the_new_image(api: httpx.Client, server: dict[str, Any]) -> None:
    sid = server["id"]
    response = act(
        api, sid, "rebuild", {"imageRef": OTHER_IMAGE, "name": "rebuilt", "metadata": {"v": "2"}}
    )
    assert response.status_code == 202, response.text
    answered = response.json()["server"]
    assert answered["status"] == "REBUILD"
    assert answered["adminPass"]
    rebuilt = wait_status(api, sid, "ACTIVE")
    assert rebuilt["image"]["id"] == OTHER_IMAGE
    assert (rebuilt["name"], rebuilt["metadata"]) == ("rebuilt", {"v": "2"})


def test_resize_then_confirm_or_revert(api: httpx.Client, server: dict[str, Any]) -> None:
    sid = server["id"]
    assert act(api, sid, "resize", {"flavorRef": "2"}).status_code == 202
    resized = wait_status(api, sid, "VERIFY_RESIZE")
    assert resized["flavor"]["original_name"] == "m1.small"
    assert act(api, sid, "revertResize").status_code == 202
    reverted = wait_status(api, sid, "ACTIVE")
    assert reverted["flavor"]["original_name"] == "m1.tiny"

    assert act(api, sid, "resize", {"flavorRef": "2"}).status_code == 202
    wait_status(api, sid, "VERIFY_RESIZE")
    confirmed = act(api, sid, "confirmResize")
    assert confirmed.status_code == 204, confirmed.text
    shown = wait_status(api, sid, "ACTIVE")
    assert shown["flavor"]["original_name"] == "m1.small"
    again = act(api, sid, "confirmResize")
    assert again.status_code == 409, again.text
    same = act(api, sid, "resize", {"flavorRef": "2"})
    assert same.status_code == 400, same.text
    unknown = act(api, sid, "resize", {"flavorRef": "999"})
    assert unknown.status_code == 400, unknown.text
    assert unknown.json()["badRequest"]["message"] == "Unable to find flavor with id 999."
    dotted = act(api, sid, "resize", {"flavorRef": "m9. big"})  # Nova's ids may hold both
    assert dotted.status_code == 400, dotted.text
    assert dotted.json()["badRequest"]["message"] == "Unable to find flavor with id m9. big."


def test_resize_refuses_a_smaller_or_zero_disk(
    api: httpx.Client, admin_api: httpx.Client, server: dict[str, Any]
) -> None:
    """Nova's disk rules of a resize hold where the region's flavors are the gateway's (an aws
    region, whose flavors are its instance types, changes the size only)."""
    sid = server["id"]
    assert act(api, sid, "resize", {"flavorRef": "2"}).status_code == 202  # m1.small: 20 GB
    wait_status(api, sid, "VERIFY_RESIZE")
    assert act(api, sid, "confirmResize").status_code == 204
    wait_status(api, sid, "ACTIVE")
    down = act(api, sid, "resize", {"flavorRef": "1"})  # m1.tiny: 1 GB
    assert down.status_code == 400, down.text
    assert down.json()["badRequest"]["message"] == "Unable to resize disk down."
    zero = {"name": unique("zero-disk"), "vcpus": 1, "ram": 512, "disk": 0}
    made = admin_api.post("/flavors", json={"flavor": zero})
    assert made.status_code == 200, made.text
    flavor_id = made.json()["flavor"]["id"]
    try:
        refused = act(api, sid, "resize", {"flavorRef": flavor_id})
        assert refused.status_code == 400, refused.text
        message = refused.json()["badRequest"]["message"]
        assert message == "Resize to zero disk flavor is not allowed."
    finally:
        assert admin_api.delete(f"/flavors/{flavor_id}").status_code == 202


def test_console_output_can_be_limited(api: httpx.Client, server: dict[str, Any]) -> None:
    sid = server["id"]
    full = act(api, sid, "os-getConsoleOutput", {})
    assert full.status_code == 200, full.text
    lines = full.json()["output"].splitlines()
    assert len(lines) >= 2
    last = act(api, sid, "os-getConsoleOutput", {"length": 1}).json()["output"]
    assert last.splitlines() == lines[-1:]


def test_metadata_items(api: httpx.Client, server: dict[str, Any]) -> None:
    base = f"/servers/{server['id']}/metadata"
    assert api.post(base, json={"metadata": {"a": "1", "b": "2"}}).json() == {
        "metadata": {"a": "1", "b": "2"}
    }
    assert api.put(f"{base}/c", json={"meta": {"c": "3"}}).json() == {"meta": {"c": "3"}}
    assert api.get(f"{base}/c").json() == {"meta": {"c": "3"}}
    mismatch = api.put(f"{base}/c", json={"meta": {"d": "4"}})
    assert mismatch.status_code == 400, mismatch.text
    assert api.delete(f"{base}/a").status_code == 204
    assert api.get(f"{base}/a").status_code == 404
    assert api.put(base, json={"metadata": {"only": "this"}}).json() == {
        "metadata": {"only": "this"}
    }
    assert api.get(base).json() == {"metadata": {"only": "this"}}


def test_tags(api: httpx.Client, server: dict[str, Any]) -> None:
    base = f"/servers/{server['id']}/tags"
    assert api.put(base, json={"tags": ["x", "y"]}).json() == {"tags": ["x", "y"]}
    added = api.put(f"{base}/z")
    assert added.status_code == 201, added.text
    assert added.headers["Location"].endswith(f"{base}/z")
    assert api.put(f"{base}/z").status_code == 204
    assert api.get(f"{base}/z").status_code == 204
    assert api.delete(f"{base}/x").status_code == 204
    assert api.get(f"{base}/x").status_code == 404
    assert api.get(base).json() == {"tags": ["y", "z"]}
    assert api.delete(base).status_code == 204
    assert api.get(base).json() == {"tags": []}
    too_many = api.put(base, json={"tags": [f"t{i}" for i in range(51)]})
    assert too_many.status_code == 400, too_many.text


def test_tags_do_not_exist_before_226(
    compute_gateway: ServedGateway, member: Member, server: dict[str, Any]
) -> None:
    with nova(compute_gateway, member.token(compute_gateway), "2.25") as old:
        assert old.get(f"/servers/{server['id']}/tags").status_code == 404


def test_instance_action_events(
    api: httpx.Client, admin_api: httpx.Client, server: dict[str, Any]
) -> None:
    sid = server["id"]
    assert act(api, sid, "os-stop").status_code == 202
    wait_status(api, sid, "SHUTOFF")
    (stop, _create) = api.get(f"/servers/{sid}/os-instance-actions").json()["instanceActions"]
    shown = api.get(f"/servers/{sid}/os-instance-actions/{stop['request_id']}")
    assert shown.status_code == 200, shown.text
    action = shown.json()["instanceAction"]
    assert action["action"] == "stop"
    (event,) = action["events"]
    assert (event["event"], event["result"]) == ("compute_stop_instance", "Success")
    assert "traceback" not in event
    as_admin = admin_api.get(f"/servers/{sid}/os-instance-actions/{stop['request_id']}")
    assert "traceback" in as_admin.json()["instanceAction"]["events"][0]
    missing = api.get(f"/servers/{sid}/os-instance-actions/req-nope")
    assert missing.status_code == 404


def test_create_image_registers_a_snapshot_in_glance(
    compute_gateway: ServedGateway, member: Member, api: httpx.Client, server: dict[str, Any]
) -> None:
    sid = server["id"]
    response = act(api, sid, "createImage", {"name": "snap-245", "metadata": {"purpose": "t"}})
    assert response.status_code == 202, response.text
    image_id = response.json()["image_id"]
    token = member.token(compute_gateway)
    glance = f"{compute_gateway.url}/RegionOne/image/v2/images/{image_id}"
    headers = {"X-Auth-Token": token}
    image = wait_image_active(glance, headers)
    assert image["name"] == "snap-245"
    assert image["image_type"] == "snapshot"
    assert image["instance_uuid"] == sid
    assert image["purpose"] == "t"
    assert image["visibility"] == "private"
    actions = api.get(f"/servers/{sid}/os-instance-actions").json()["instanceActions"]
    assert actions[0]["action"] == "createImage"
    assert wait_status(api, sid, "ACTIVE")["OS-EXT-STS:task_state"] is None

    with nova(compute_gateway, token, "2.44") as old:
        located = old.post(f"/servers/{sid}/action", json={"createImage": {"name": "snap-244"}})
    assert located.status_code == 202, located.text
    location = located.headers["Location"]
    assert location.startswith(f"{compute_gateway.url}/RegionOne/image/v2/images/")
    wait_image_active(location, headers)


def wait_image_active(url: str, headers: dict[str, str]) -> dict[str, Any]:
    from tests.support.waiting import eventually

    image: dict[str, Any] = eventually(
        lambda: httpx.get(url, headers=headers, timeout=30).json(),
        lambda body: body.get("status") == "active",
        f"image {url} to become active",
    )
    return image
