"""Key pairs through the openstack CLI, openstacksdk and raw HTTP: generate and import, types,
fingerprints, per-user isolation, admin access to other users' key pairs, paging, faults."""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from interstack.services.compute.keypair_crypto import generate_x509_certificate
from tests.support.compute import assert_nova_fault, nova
from tests.support.gateway import ServedGateway
from tests.support.identity import Member, member_of


def unique(prefix: str = "key") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def openssh_public_key() -> str:
    key = ed25519.Ed25519PrivateKey.generate().public_key()
    return key.public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    ).decode()


def md5_fingerprint(public_key: str) -> str:
    """The fingerprint ``ssh-keygen -E md5 -l`` prints, without its ``MD5:`` prefix."""
    digest = hashlib.md5(base64.b64decode(public_key.split()[1]), usedforsecurity=False)
    return ":".join(f"{b:02x}" for b in digest.digest())


@pytest.fixture(scope="module")
def other(gateway: ServedGateway) -> Member:
    return member_of(gateway)


def test_cli_generates_imports_lists_shows_and_deletes(
    gateway: ServedGateway, tmp_path: Path
) -> None:
    """The commands run in one ``openstack`` process (:meth:`ServedGateway.cli_batch`); each
    must succeed."""
    generated, imported = unique(), unique()
    public_file = tmp_path / "id.pub"
    public_key = openssh_public_key()
    public_file.write_text(public_key + "\n")
    private, row, listed, shown, _, _, left = gateway.cli_batch(
        "interstack",
        ["keypair", "create", generated],
        ["keypair", "create", "--public-key", str(public_file), imported, "-f", "json"],
        ["keypair", "list", "-f", "json"],
        ["keypair", "show", imported, "-f", "json"],
        ["keypair", "delete", generated],
        ["keypair", "delete", imported],
        ["keypair", "list", "-f", "json"],
    )
    assert "PRIVATE KEY" in private
    row = json.loads(row)
    assert row["fingerprint"] == md5_fingerprint(public_key)
    assert row["type"] == "ssh"

    assert {generated, imported} <= {r["Name"] for r in json.loads(listed)}
    shown = json.loads(shown)
    assert shown["fingerprint"] == md5_fingerprint(public_key)
    assert shown["user_id"]
    assert not {generated, imported} & {r["Name"] for r in json.loads(left)}


def test_generated_key_is_returned_once(gateway: ServedGateway, demo_token: str) -> None:
    api = nova(gateway, demo_token, "2.2")
    name = unique()
    response = api.post("/os-keypairs", json={"keypair": {"name": name}})
    assert response.status_code == 201, response.text
    created = response.json()["keypair"]
    private = serialization.load_pem_private_key(created["private_key"].encode(), None)
    derived = private.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    assert created["public_key"].startswith(derived.decode())
    assert created["fingerprint"] == md5_fingerprint(created["public_key"])
    assert created["type"] == "ssh"
    shown = api.get(f"/os-keypairs/{name}").json()["keypair"]
    assert "private_key" not in shown
    assert isinstance(shown["id"], int) and shown["deleted"] is False
    listed = api.get("/os-keypairs").json()["keypairs"]
    assert all("private_key" not in k["keypair"] for k in listed)
    assert api.delete(f"/os-keypairs/{name}").status_code == 204


def test_sdk_create_keypair(gateway: ServedGateway) -> None:
    conn = gateway.connect("interstack")
    name = unique()
    created = conn.compute.create_keypair(name=name)
    assert created.private_key and created.fingerprint
    assert conn.compute.get_keypair(name).fingerprint == created.fingerprint
    imported = conn.create_keypair(unique(), public_key=openssh_public_key())
    assert imported.public_key.startswith("ssh-ed25519 ")
    conn.compute.delete_keypair(name)
    conn.delete_keypair(imported.name)
    assert conn.compute.find_keypair(name) is None


def test_version_21_answers(gateway: ServedGateway, demo_token: str) -> None:
    api = nova(gateway, demo_token, "2.1")
    name = unique()
    response = api.post("/os-keypairs", json={"keypair": {"name": name}})
    assert response.status_code == 200, response.text
    assert "type" not in response.json()["keypair"]
    typed = api.post("/os-keypairs", json={"keypair": {"name": unique(), "type": "ssh"}})
    assert_nova_fault(typed, 400, "badRequest")
    assert api.delete(f"/os-keypairs/{name}").status_code == 202


def test_x509_key_pairs(gateway: ServedGateway, demo_token: str) -> None:
    api = nova(gateway, demo_token, "2.2")
    name = unique()
    generated = api.post("/os-keypairs", json={"keypair": {"name": name, "type": "x509"}})
    assert generated.status_code == 201, generated.text
    body = generated.json()["keypair"]
    assert body["public_key"].startswith("-----BEGIN CERTIFICATE-----")
    assert "PRIVATE KEY" in body["private_key"]
    _, certificate = generate_x509_certificate("someone")
    imported = api.post(
        "/os-keypairs",
        json={"keypair": {"name": unique(), "type": "x509", "public_key": certificate}},
    )
    assert imported.status_code == 201, imported.text
    assert len(imported.json()["keypair"]["fingerprint"].split(":")) == 20


@pytest.mark.parametrize(
    "keypair",
    [
        {"name": "x", "public_key": "ssh-rsa not-a-key"},
        {"name": "x", "public_key": "-----BEGIN CERTIFICATE-----", "type": "x509"},
        {"name": "x", "type": "pgp"},
        {"name": ""},
        {"name": "a" * 256},
        {"name": "key_/.\\@:"},
        {"name": "   "},
        {"name": "x", "color": "blue"},
    ],
)
def test_invalid_keypair_is_a_bad_request(
    gateway: ServedGateway, demo_token: str, keypair: dict[str, str]
) -> None:
    api = nova(gateway, demo_token, "2.2")
    assert_nova_fault(api.post("/os-keypairs", json={"keypair": keypair}), 400, "badRequest")


def test_duplicate_name_is_a_conflict(gateway: ServedGateway, demo_token: str) -> None:
    api = nova(gateway, demo_token, "2.2")
    name = unique()
    assert api.post("/os-keypairs", json={"keypair": {"name": name}}).status_code == 201
    again = api.post(
        "/os-keypairs", json={"keypair": {"name": name, "public_key": openssh_public_key()}}
    )
    assert "already exists" in assert_nova_fault(again, 409, "conflictingRequest")


def test_keypairs_are_per_user(
    gateway: ServedGateway, demo_token: str, admin_token: str, other: Member
) -> None:
    mine = nova(gateway, demo_token, "2.10")
    name = unique()
    created = mine.post("/os-keypairs", json={"keypair": {"name": name}}).json()["keypair"]
    demo_user = created["user_id"]

    theirs = nova(gateway, other.token(gateway), "2.10")
    assert_nova_fault(theirs.get(f"/os-keypairs/{name}"), 404, "itemNotFound")
    assert_nova_fault(theirs.delete(f"/os-keypairs/{name}"), 404, "itemNotFound")
    assert name not in {k["keypair"]["name"] for k in theirs.get("/os-keypairs").json()["keypairs"]}
    assert theirs.post("/os-keypairs", json={"keypair": {"name": name}}).status_code == 201
    peek = theirs.get("/os-keypairs", params={"user_id": demo_user})
    assert_nova_fault(peek, 403, "forbidden")

    admin = nova(gateway, admin_token, "2.10")
    assert_nova_fault(admin.get(f"/os-keypairs/{name}"), 404, "itemNotFound")
    seen = admin.get(f"/os-keypairs/{name}", params={"user_id": demo_user})
    assert seen.json()["keypair"]["user_id"] == demo_user
    listed = admin.get("/os-keypairs", params={"user_id": other.user_id}).json()["keypairs"]
    assert [k["keypair"]["name"] for k in listed] == [name]
    for_other = admin.post(
        "/os-keypairs", json={"keypair": {"name": unique(), "user_id": other.user_id}}
    )
    assert for_other.json()["keypair"]["user_id"] == other.user_id
    assert admin.delete(f"/os-keypairs/{name}", params={"user_id": demo_user}).status_code == 204
    assert_nova_fault(mine.get(f"/os-keypairs/{name}"), 404, "itemNotFound")


def test_paging_from_235(gateway: ServedGateway) -> None:
    member = member_of(gateway)
    api = nova(gateway, member.token(gateway), "2.35")
    names = sorted(unique(f"p{i}") for i in range(3))
    for name in names:
        assert api.post("/os-keypairs", json={"keypair": {"name": name}}).status_code == 201
    first = api.get("/os-keypairs", params={"limit": 2}).json()
    assert [k["keypair"]["name"] for k in first["keypairs"]] == names[:2]
    assert "marker=" in first["keypairs_links"][0]["href"]
    rest = api.get("/os-keypairs", params={"limit": 2, "marker": names[1]}).json()
    assert [k["keypair"]["name"] for k in rest["keypairs"]] == names[2:]
    assert "keypairs_links" not in rest
    assert_nova_fault(api.get("/os-keypairs", params={"marker": "nope"}), 400, "badRequest")
    old = nova(gateway, member.token(gateway), "2.34").get("/os-keypairs", params={"limit": 1})
    assert len(old.json()["keypairs"]) == 3
