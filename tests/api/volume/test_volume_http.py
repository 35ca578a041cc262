"""Cinder v3 over raw HTTP: discovery, microversions, faults, validation, isolation, quotas."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.support.gateway import ServedGateway
from tests.support.identity import Member
from tests.support.volume import (
    assert_cinder_fault,
    cinder,
    create_volume,
    volume_root,
    wait_gone,
    wait_snapshot,
    wait_volume,
)


def test_version_discovery(volume_gateway: ServedGateway) -> None:
    root = httpx.get(f"{volume_root(volume_gateway)}/")
    assert root.status_code == 300
    (version,) = root.json()["versions"]
    assert version["id"] == "v3.0" and version["status"] == "CURRENT"
    assert version["min_version"] == "3.0" and version["version"] == "3.60"
    assert version["links"][-1]["href"].endswith("/RegionOne/volume/v3/")
    v3 = httpx.get(f"{volume_root(volume_gateway)}/v3/")
    assert v3.status_code == 200 and v3.json()["versions"] == [version]


def test_catalog_lists_block_storage_and_volumev3(
    volume_gateway: ServedGateway, members: tuple[Member, Member]
) -> None:
    member = members[0]
    token = member.token(volume_gateway)
    catalog = httpx.get(
        f"{volume_gateway.url}/v3/auth/catalog", headers={"X-Auth-Token": token}
    ).json()["catalog"]
    urls = {s["type"]: s["endpoints"][0]["url"] for s in catalog}
    expected = f"{volume_root(volume_gateway)}/v3/{member.project_id}"
    assert urls["block-storage"] == expected and urls["volumev3"] == expected


def test_microversion_header_default_latest_and_out_of_range(api: httpx.Client) -> None:
    assert api.get("/volumes").headers["OpenStack-API-Version"] == "volume 3.0"
    latest = api.get("/volumes", headers={"OpenStack-API-Version": "volume latest"})
    assert latest.headers["OpenStack-API-Version"] == "volume 3.60"
    assert "OpenStack-API-Version" in latest.headers["Vary"]
    too_new = api.get("/volumes", headers={"OpenStack-API-Version": "volume 3.99"})
    message = assert_cinder_fault(too_new, 406, "computeFault")
    assert "3.99" in message and "3.60" in message
    malformed = api.get("/volumes", headers={"OpenStack-API-Version": "volume 3.x"})
    assert_cinder_fault(malformed, 400, "badRequest")


def test_unknown_volume_is_item_not_found(api: httpx.Client) -> None:
    message = assert_cinder_fault(api.get("/volumes/no-such-volume"), 404, "itemNotFound")
    assert "no-such-volume" in message


def test_url_project_must_be_the_tokens(
    volume_gateway: ServedGateway, members: tuple[Member, Member]
) -> None:
    first, second = members
    wrong = cinder(volume_gateway, first.token(volume_gateway), second.project_id)
    assert_cinder_fault(wrong.get("/volumes"), 400, "badRequest")


def test_create_show_update_and_delete(api: httpx.Client) -> None:
    response = api.post(
        "/volumes",
        json={"volume": {"size": "2", "name": "data", "description": "db", "metadata": {"a": "1"}}},
    )
    assert response.status_code == 202, response.text
    created = response.json()["volume"]
    assert created["status"] == "creating" and created["size"] == 2
    shown = wait_volume(api, created["id"], "available")
    assert shown["volume_type"] == "__DEFAULT__" and shown["bootable"] == "false"
    assert shown["metadata"] == {"a": "1"} and shown["availability_zone"] == "nova"
    assert shown["attachments"] == [] and shown["encrypted"] is False

    updated = api.put(f"/volumes/{created['id']}", json={"volume": {"name": "renamed"}})
    assert updated.status_code == 200 and updated.json()["volume"]["name"] == "renamed"
    assert updated.json()["volume"]["description"] == "db"

    assert api.delete(f"/volumes/{created['id']}").status_code == 202
    wait_gone(api, f"/volumes/{created['id']}")


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"size": 0}, "greater than 0"),
        ({"size": "big"}, "size"),
        ({}, "greater than 0"),
        ({"size": 1, "availability_zone": "mars"}, "mars"),
        ({"size": 1, "metadata": {"k": 5}}, "metadata"),
        ({"size": 1, "imageRef": "00000000-0000-0000-0000-000000000000"}, "image"),
    ],
)
def test_invalid_creates_are_bad_requests_and_create_nothing(
    api: httpx.Client, body: dict[str, object], fragment: str
) -> None:
    before = {v["id"] for v in api.get("/volumes").json()["volumes"]}
    message = assert_cinder_fault(api.post("/volumes", json={"volume": body}), 400, "badRequest")
    assert fragment in message
    assert {v["id"] for v in api.get("/volumes").json()["volumes"]} <= before  # none new


def test_unknown_volume_type_is_not_found(api: httpx.Client) -> None:
    response = api.post("/volumes", json={"volume": {"size": 1, "volume_type": "gold-nope"}})
    assert "gold-nope" in assert_cinder_fault(response, 404, "itemNotFound")


def test_backend_failure_leaves_the_volume_in_error(api: httpx.Client) -> None:
    response = api.post("/volumes", json={"volume": {"size": 1, "name": "broken-1"}})
    assert response.status_code == 202
    volume_id = response.json()["volume"]["id"]
    wait_volume(api, volume_id, "error")
    assert api.delete(f"/volumes/{volume_id}").status_code == 202
    wait_gone(api, f"/volumes/{volume_id}")


def test_another_projects_volume_is_not_found(
    volume_gateway: ServedGateway, members: tuple[Member, Member], api: httpx.Client
) -> None:
    mine = create_volume(api, name="private")
    other = members[1]
    theirs = cinder(volume_gateway, other.token(volume_gateway), other.project_id)
    assert_cinder_fault(theirs.get(f"/volumes/{mine['id']}"), 404, "itemNotFound")
    assert_cinder_fault(theirs.delete(f"/volumes/{mine['id']}"), 404, "itemNotFound")
    assert mine["id"] not in [v["id"] for v in theirs.get("/volumes").json()["volumes"]]


def test_list_filters_sort_and_paging(api: httpx.Client) -> None:
    ids = [create_volume(api, name=f"page-{i}", metadata={"tier": "page"})["id"] for i in range(3)]
    api.post(f"/volumes/{ids[0]}/action", json={"os-set_bootable": {"bootable": True}})
    found = api.get("/volumes/detail", params={"metadata": '{"tier": "page"}', "sort": "name:asc"})
    assert [v["id"] for v in found.json()["volumes"]] == ids
    bootable = api.get("/volumes/detail", params={"bootable": "true"}).json()["volumes"]
    assert [v["id"] for v in bootable] == [ids[0]]
    named = api.get("/volumes", params={"name": "page-1"}).json()["volumes"]
    assert [v["id"] for v in named] == [ids[1]] and set(named[0]) == {"id", "name", "links"}

    page = api.get("/volumes/detail", params={"metadata": '{"tier": "page"}', "sort": "name:asc",
                                              "limit": 2}).json()  # fmt: skip
    assert [v["id"] for v in page["volumes"]] == ids[:2]
    next_href = page["volumes_links"][0]["href"]
    rest = api.get(next_href).json()
    assert [v["id"] for v in rest["volumes"]] == ids[2:]
    counted = api.get(
        "/volumes", params={"with_count": "true"}, headers={"OpenStack-API-Version": "volume 3.45"}
    ).json()
    assert counted["count"] == len(api.get("/volumes").json()["volumes"])


def _with_metadata(api: httpx.Client, collection: str) -> tuple[str, str]:
    """A new volume, or a snapshot of a new volume, whose metadata is ``{"a": "1"}``: its id
    and the volume's."""
    if collection == "volumes":
        volume_id = str(create_volume(api, metadata={"a": "1"})["id"])
        return volume_id, volume_id
    volume_id = str(create_volume(api)["id"])
    body = {"snapshot": {"volume_id": volume_id, "metadata": {"a": "1"}}}
    created = api.post("/snapshots", json=body)
    assert created.status_code == 202, created.text
    snapshot = wait_snapshot(api, created.json()["snapshot"]["id"], "available")
    return str(snapshot["id"]), volume_id


@pytest.mark.parametrize("collection", ["volumes", "snapshots"])
def test_metadata_crud(api: httpx.Client, collection: str) -> None:
    owner_id, volume_id = _with_metadata(api, collection)
    base = f"/{collection}/{owner_id}/metadata"
    assert api.get(base).json() == {"metadata": {"a": "1"}}
    merged = api.post(base, json={"metadata": {"b": "2"}})
    assert merged.json()["metadata"] == {"a": "1", "b": "2"}
    assert api.get(f"{base}/b").json() == {"meta": {"b": "2"}}
    assert api.put(f"{base}/b", json={"meta": {"b": "3"}}).json() == {"meta": {"b": "3"}}
    mismatch = api.put(f"{base}/b", json={"meta": {"c": "3"}})
    assert "mismatch" in assert_cinder_fault(mismatch, 400, "badRequest")
    replaced = api.put(base, json={"metadata": {"only": "this"}})
    assert replaced.json()["metadata"] == {"only": "this"}
    assert_cinder_fault(api.get(f"{base}/gone"), 404, "itemNotFound")
    too_many = api.put(f"{base}/b", json={"meta": {"b": "3", "c": "4"}})
    assert "too many" in assert_cinder_fault(too_many, 400, "badRequest")
    assert api.delete(f"{base}/only").status_code == 200
    assert_cinder_fault(api.delete(f"{base}/only"), 404, "itemNotFound")
    assert api.get(base).json() == {"metadata": {}}
    assert_cinder_fault(api.get(f"/{collection}/{uuid.uuid4()}/metadata"), 404, "itemNotFound")
    # the module's project has a quota of 10 volumes: give this one back
    assert api.delete(f"/volumes/{volume_id}", params={"cascade": "true"}).status_code == 202
    wait_gone(api, f"/volumes/{volume_id}")


def test_actions_bootable_readonly_extend(api: httpx.Client) -> None:
    volume_id = create_volume(api)["id"]
    action = f"/volumes/{volume_id}/action"
    assert api.post(action, json={"os-set_bootable": {"bootable": "true"}}).status_code == 200
    assert api.get(f"/volumes/{volume_id}").json()["volume"]["metadata"] == {}
    for readonly in (True, False):  # as Tempest's readonly test reads it back: "True"/"False"
        flag = {"os-update_readonly_flag": {"readonly": readonly}}
        assert api.post(action, json=flag).status_code == 202
        shown = api.get(f"/volumes/{volume_id}").json()["volume"]
        assert shown["metadata"] == {"readonly": str(readonly)}
    assert shown["bootable"] == "true"
    # admin metadata is not the user's: the /metadata sub-resource leaves it out
    assert api.get(f"/volumes/{volume_id}/metadata").json()["metadata"] == {}

    smaller = api.post(action, json={"os-extend": {"new_size": 1}})
    assert "greater than current size" in assert_cinder_fault(smaller, 400, "badRequest")
    assert api.post(action, json={"os-extend": {"new_size": 3}}).status_code == 202
    assert wait_volume(api, volume_id, "available")["size"] == 3

    unknown = api.post(action, json={"os-explode": {}})
    assert "os-explode" in assert_cinder_fault(unknown, 400, "badRequest")
    reset = api.post(action, json={"os-reset_status": {"status": "error"}})
    assert_cinder_fault(reset, 403, "forbidden")


def test_admin_reset_status(admin_api: httpx.Client) -> None:
    volume_id = create_volume(admin_api)["id"]
    action = f"/volumes/{volume_id}/action"
    assert admin_api.post(action, json={"os-reset_status": {"status": "error"}}).status_code == 202
    assert admin_api.get(f"/volumes/{volume_id}").json()["volume"]["status"] == "error"
    bad = admin_api.post(action, json={"os-reset_status": {"status": "melted"}})
    assert_cinder_fault(bad, 400, "badRequest")


def test_snapshots_block_deletion_until_cascade(api: httpx.Client) -> None:
    volume = create_volume(api, size=2)
    created = api.post(
        "/snapshots", json={"snapshot": {"volume_id": volume["id"], "name": "s", "metadata": {}}}
    )
    assert created.status_code == 202, created.text
    snapshot = wait_snapshot(api, created.json()["snapshot"]["id"], "available")
    assert snapshot["size"] == 2 and snapshot["volume_id"] == volume["id"]

    refused = api.delete(f"/volumes/{volume['id']}")
    assert "snapshot" in assert_cinder_fault(refused, 400, "badRequest")

    clone = api.post("/volumes", json={"volume": {"snapshot_id": snapshot["id"]}})
    assert clone.status_code == 202 and clone.json()["volume"]["size"] == 2
    wait_volume(api, clone.json()["volume"]["id"], "available")
    too_small = api.post("/volumes", json={"volume": {"snapshot_id": snapshot["id"], "size": 1}})
    assert "snapshot size" in assert_cinder_fault(too_small, 400, "badRequest")

    assert api.delete(f"/volumes/{volume['id']}", params={"cascade": "true"}).status_code == 202
    wait_gone(api, f"/volumes/{volume['id']}")
    wait_gone(api, f"/snapshots/{snapshot['id']}")


def test_in_use_snapshot_needs_force_and_attached_volume_refuses_delete(
    api: httpx.Client,
) -> None:
    volume_id = create_volume(api)["id"]
    action = f"/volumes/{volume_id}/action"
    assert api.post(action, json={"os-reserve": None}).status_code == 202
    wait_volume(api, volume_id, "attaching")
    attach = {"os-attach": {"instance_uuid": "0a3e5b52-0000-4000-8000-000000000001",
                            "mountpoint": "/dev/vdb", "mode": "rw"}}  # fmt: skip
    assert api.post(action, json=attach).status_code == 202
    shown = api.get(f"/volumes/{volume_id}").json()["volume"]
    assert shown["status"] == "in-use" and shown["attachments"][0]["device"] == "/dev/vdb"

    refused = api.delete(f"/volumes/{volume_id}")
    assert "attached" in assert_cinder_fault(refused, 400, "badRequest")
    plain = api.post("/snapshots", json={"snapshot": {"volume_id": volume_id}})
    assert "force" in assert_cinder_fault(plain, 400, "badRequest")
    forced = api.post("/snapshots", json={"snapshot": {"volume_id": volume_id, "force": True}})
    assert forced.status_code == 202
    wait_snapshot(api, forced.json()["snapshot"]["id"], "available")

    assert api.post(action, json={"os-begin_detaching": None}).status_code == 202
    assert api.post(action, json={"os-detach": {}}).status_code == 202
    assert wait_volume(api, volume_id, "available")["attachments"] == []


def test_quota_exceeded_is_413_and_usage_counts(
    volume_gateway: ServedGateway, admin_api: httpx.Client, members: tuple[Member, Member]
) -> None:
    other = members[1]
    theirs = cinder(volume_gateway, other.token(volume_gateway), other.project_id)
    limited = admin_api.put(
        f"/os-quota-sets/{other.project_id}", json={"quota_set": {"volumes": 1, "gigabytes": 5}}
    )
    assert limited.status_code == 200 and limited.json()["quota_set"]["volumes"] == 1
    create_volume(theirs, size=2)
    second = theirs.post("/volumes", json={"volume": {"size": 1}})
    assert "volumes" in assert_cinder_fault(second, 413, "overLimit")
    usage = theirs.get(f"/os-quota-sets/{other.project_id}", params={"usage": "true"}).json()
    assert usage["quota_set"]["volumes"] == {"limit": 1, "in_use": 1, "reserved": 0}
    assert usage["quota_set"]["gigabytes"]["in_use"] == 2
    limits = theirs.get("/limits").json()["limits"]["absolute"]
    assert limits["maxTotalVolumes"] == 1 and limits["totalGigabytesUsed"] == 2
    member_update = theirs.put(
        f"/os-quota-sets/{other.project_id}", json={"quota_set": {"volumes": 50}}
    )
    assert_cinder_fault(member_update, 403, "forbidden")
    defaults = theirs.get(f"/os-quota-sets/{other.project_id}/defaults").json()["quota_set"]
    assert defaults["volumes"] == 10
    assert admin_api.delete(f"/os-quota-sets/{other.project_id}").status_code == 200


def test_volume_types_admin_crud(api: httpx.Client, admin_api: httpx.Client) -> None:
    default = api.get("/types/default").json()["volume_type"]
    assert default["name"] == "__DEFAULT__"
    denied = api.post("/types", json={"volume_type": {"name": "gold"}})
    assert_cinder_fault(denied, 403, "forbidden")
    created = admin_api.post(
        "/types", json={"volume_type": {"name": "gold", "extra_specs": {"tier": "1"}}}
    )
    assert created.status_code == 200, created.text
    gold = created.json()["volume_type"]
    duplicate = admin_api.post("/types", json={"volume_type": {"name": "gold"}})
    assert_cinder_fault(duplicate, 409, "conflictingRequest")
    specs = f"/types/{gold['id']}/extra_specs"
    admin_api.post(specs, json={"extra_specs": {"speed": "fast"}})
    assert api.get(specs).json() == {"extra_specs": {"tier": "1", "speed": "fast"}}
    volume = create_volume(api, volume_type="gold")
    assert volume["volume_type"] == "gold"
    in_use = admin_api.delete(f"/types/{gold['id']}")
    assert "in use" in assert_cinder_fault(in_use, 400, "badRequest")
    assert_cinder_fault(admin_api.delete(f"/types/{default['id']}"), 400, "badRequest")
    api.delete(f"/volumes/{volume['id']}")
    wait_gone(api, f"/volumes/{volume['id']}")
    assert admin_api.delete(f"/types/{gold['id']}").status_code == 202


def test_availability_zones(api: httpx.Client) -> None:
    zones = api.get("/os-availability-zone").json()["availabilityZoneInfo"]
    assert zones == [{"zoneName": "nova", "zoneState": {"available": True}}]


def test_attachments_api_reserve_connect_complete_delete(api: httpx.Client) -> None:
    volume_id = create_volume(api)["id"]
    server_id = "0a3e5b52-0000-4000-8000-000000000002"
    at = {"OpenStack-API-Version": "volume 3.44"}
    body = {"attachment": {"volume_uuid": volume_id, "instance_uuid": server_id}}
    assert_cinder_fault(api.post("/attachments", json=body), 404, "itemNotFound")  # before 3.27

    reserved = api.post("/attachments", json=body, headers=at)
    assert reserved.status_code == 200, reserved.text
    attachment = reserved.json()["attachment"]
    assert attachment["status"] == "reserved" and attachment["connection_info"] is None
    assert api.get(f"/volumes/{volume_id}").json()["volume"]["status"] == "reserved"
    again = api.post("/attachments", json=body, headers=at)
    assert "attach" in assert_cinder_fault(again, 400, "badRequest")

    complete = {"os-complete": None}
    early = api.post(f"/attachments/{attachment['id']}/action", json=complete, headers=at)
    assert "connector" in assert_cinder_fault(early, 400, "badRequest")
    connector = {"attachment": {"connector": {"host": "compute-1", "mountpoint": "/dev/vdc"}}}
    updated = api.put(f"/attachments/{attachment['id']}", json=connector, headers=at)
    assert updated.status_code == 200, updated.text
    assert updated.json()["attachment"]["connection_info"]["data"]["volume_id"] == volume_id
    done = api.post(f"/attachments/{attachment['id']}/action", json=complete, headers=at)
    assert done.status_code == 204, done.text
    shown = api.get(f"/volumes/{volume_id}").json()["volume"]
    assert shown["status"] == "in-use"
    assert shown["attachments"][0]["server_id"] == server_id
    listed = api.get("/attachments", params={"volume_id": volume_id}, headers=at).json()
    assert [a["id"] for a in listed["attachments"]] == [attachment["id"]]
    assert_cinder_fault(api.delete(f"/volumes/{volume_id}"), 400, "badRequest")

    assert api.delete(f"/attachments/{attachment['id']}", headers=at).status_code == 200
    assert api.get(f"/volumes/{volume_id}").json()["volume"]["status"] == "available"
    gone = api.get(f"/attachments/{attachment['id']}", headers=at)
    assert_cinder_fault(gone, 404, "itemNotFound")


def test_readonly_volume_attaches_read_only(api: httpx.Client) -> None:
    volume_id = create_volume(api)["id"]
    api.post(f"/volumes/{volume_id}/action", json={"os-update_readonly_flag": {"readonly": True}})
    at = {"OpenStack-API-Version": "volume 3.54"}
    writable = {"volume_uuid": volume_id, "mode": "rw"}
    refused = api.post("/attachments", json={"attachment": writable}, headers=at)
    assert "read-only" in assert_cinder_fault(refused, 400, "badRequest")
    connected = {"volume_uuid": volume_id, "connector": {"host": "h"}}
    made = api.post("/attachments", json={"attachment": connected}, headers=at).json()["attachment"]
    assert made["attach_mode"] == "ro" and made["status"] == "attaching"
    assert made["connection_info"]["data"]["access_mode"] == "ro"
    shown = api.get(f"/volumes/{volume_id}").json()["volume"]
    assert shown["metadata"] == {"readonly": "True", "attached_mode": "ro"}
    api.delete(f"/attachments/{made['id']}", headers=at)
    assert "attached_mode" not in wait_volume(api, volume_id, "available")["metadata"]
