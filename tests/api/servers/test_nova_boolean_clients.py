"""Nova's boolean fields of b0916ac end to end: a flavor's ``os-flavor-access:is_public``, a
quota set's ``force`` and a rebuild's ``preserve_ephemeral`` as the ``openstack`` CLI sends them
(``--public``/``--private``, ``--force``, ``--preserve-ephemeral``), Nova's string spellings of
them over raw HTTP read for what they say, and a spelling Nova's schema refuses ('t', 'y', 1)
the 400 naming the field, with nothing made or changed. A rebuild asked to preserve the
ephemeral disks is Nova's PreserveEphemeralNotSupported, and does not happen."""

from __future__ import annotations

import subprocess
from typing import Any

import httpx

from tests.api.servers.conftest import IMAGE, OTHER_IMAGE, wait_status
from tests.support.compute import assert_nova_fault, cli_json
from tests.support.gateway import ServedGateway
from tests.support.identity import Member, cli_as, unique

ADMIN = "interstack-admin"


def refused_boolean(response: httpx.Response, field: str, value: object) -> None:
    """The response is Nova's 400 naming ``field``, the value given and the spellings taken,
    in Nova's wording (no validator library's prefix)."""
    message = assert_nova_fault(response, 400, "badRequest")
    nova = f"Invalid input for field/attribute {field}. Value: {value}. {value!r} is not a boolean"
    assert message.startswith(nova), message
    assert "Value error" not in message, message
    assert "'yes', 'no', 'on', 'off', '1' or '0'" in message, message


def test_flavor_public_and_private_from_the_cli_and_spelled(
    compute_gateway: ServedGateway, admin_api: httpx.Client, api: httpx.Client
) -> None:
    """``flavor create --public``/``--private`` make a flavor the member sees or does not; the
    strings "No" and "YES" are private and public; "t" and 1 make no flavor."""
    made: list[str] = []
    for option, public in (("--public", True), ("--private", False)):
        created = cli_json(compute_gateway, ADMIN, "flavor", "create", option, unique("bool"))
        made.append(created["id"])
        assert created["os-flavor-access:is_public"] is public
        assert api.get(f"/flavors/{created['id']}").status_code == (200 if public else 404)

    for spelled, public in (("No", False), ("YES", True)):
        flavor = {"name": unique("spelled"), "ram": 64, "vcpus": 1, "disk": 0}
        flavor["os-flavor-access:is_public"] = spelled
        answer = admin_api.post("/flavors", json={"flavor": flavor})
        assert answer.status_code == 200, answer.text
        created = answer.json()["flavor"]
        made.append(created["id"])
        assert created["os-flavor-access:is_public"] is public
        assert api.get(f"/flavors/{created['id']}").status_code == (200 if public else 404)

    for odd in ("t", 1):
        name = unique("odd")
        flavor = {"name": name, "ram": 64, "vcpus": 1, "disk": 0}
        flavor["os-flavor-access:is_public"] = odd
        refused_boolean(
            admin_api.post("/flavors", json={"flavor": flavor}), "os-flavor-access:is_public", odd
        )
        listed = admin_api.get("/flavors", params={"is_public": "none"}).json()["flavors"]
        assert name not in {f["name"] for f in listed}
    for flavor_id in made:
        assert admin_api.delete(f"/flavors/{flavor_id}").status_code == 202


def test_quota_set_forced_below_usage_from_the_cli_and_spelled(
    compute_gateway: ServedGateway, admin_api: httpx.Client, member: Member, api: httpx.Client
) -> None:
    """A limit below what the project uses takes ``quota set --force`` (or "force": "yes");
    "no" is no force, and "y" or 1 leave the limit as it was."""
    project = member.project_id
    group = {"server_group": {"name": unique("g"), "policy": "affinity"}}
    made = api.post("/os-server-groups", json=group)
    assert made.status_code == 200, made.text
    path = f"/os-quota-sets/{project}"
    try:
        cli_refused = compute_gateway.cli(
            ADMIN, "quota", "set", "--server-groups", "0", project, check=False
        )
        assert cli_refused.returncode != 0 and "already used" in cli_refused.stderr, (
            cli_refused.stderr
        )
        compute_gateway.cli(ADMIN, "quota", "set", "--server-groups", "0", "--force", project)
        assert admin_api.get(path).json()["quota_set"]["server_groups"] == 0

        assert admin_api.put(path, json={"quota_set": {"server_groups": 10}}).status_code == 200
        below = {"server_groups": 0}
        unforced = admin_api.put(path, json={"quota_set": {**below, "force": "no"}})
        assert "already used" in assert_nova_fault(unforced, 400, "badRequest")
        forced = admin_api.put(path, json={"quota_set": {**below, "force": "yes"}})
        assert forced.status_code == 200, forced.text
        assert forced.json()["quota_set"]["server_groups"] == 0

        assert admin_api.put(path, json={"quota_set": {"server_groups": 10}}).status_code == 200
        for odd in ("y", 1):
            answer = admin_api.put(path, json={"quota_set": {**below, "force": odd}})
            refused_boolean(answer, "force", odd)
        assert admin_api.get(path).json()["quota_set"]["server_groups"] == 10
    finally:
        assert admin_api.delete(path).status_code == 202
        api.delete(f"/os-server-groups/{made.json()['server_group']['id']}")


def test_rebuild_preserve_ephemeral_from_the_cli_and_spelled(
    compute_gateway: ServedGateway, member: Member, api: httpx.Client, server: dict[str, Any]
) -> None:
    """``server rebuild --no-preserve-ephemeral`` and "off" are rebuilds; ``--preserve-ephemeral``
    and "On" ask to keep the ephemeral disks, which no backend here can (Nova's
    PreserveEphemeralNotSupported: the rebuild does not happen); "y" or 1 is the boolean's 400.
    A refused rebuild leaves the server as it was, no action recorded."""
    sid = server["id"]
    as_member = cli_as(member)

    def rebuild_cli(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return compute_gateway.cli(
            "interstack", "server", "rebuild", *args, sid, check=check, extra=as_member
        )

    rebuild_cli("--image", "debian-sim", "--no-preserve-ephemeral")
    assert wait_status(api, sid, "ACTIVE")["image"]["id"] == OTHER_IMAGE
    off = {"imageRef": IMAGE, "preserve_ephemeral": "off"}
    answer = api.post(f"/servers/{sid}/action", json={"rebuild": off})
    assert answer.status_code == 202, answer.text
    assert wait_status(api, sid, "ACTIVE")["image"]["id"] == IMAGE

    actions = api.get(f"/servers/{sid}/os-instance-actions").json()["instanceActions"]
    kept = rebuild_cli("--image", "debian-sim", "--preserve-ephemeral", check=False)
    assert kept.returncode != 0 and "preserving ephemeral" in kept.stderr, kept.stderr
    on = {"imageRef": OTHER_IMAGE, "preserve_ephemeral": "On"}
    message = assert_nova_fault(api.post(f"/servers/{sid}/action", json={"rebuild": on}), 400,
                                "badRequest")  # fmt: skip
    # Nova's PreserveEphemeralNotSupported, word for word, then what to do instead
    assert message.startswith(
        "The current driver does not support preserving ephemeral partitions. "
    ), message
    for odd in ("y", 1):
        refusable: dict[str, object] = {"imageRef": OTHER_IMAGE, "preserve_ephemeral": odd}
        answer = api.post(f"/servers/{sid}/action", json={"rebuild": refusable})
        refused_boolean(answer, "preserve_ephemeral", odd)
    unchanged = api.get(f"/servers/{sid}").json()["server"]
    assert (unchanged["status"], unchanged["image"]["id"]) == ("ACTIVE", IMAGE)
    after = api.get(f"/servers/{sid}/os-instance-actions").json()["instanceActions"]
    assert len(after) == len(actions)
