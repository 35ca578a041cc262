"""Key pairs' and flavors' statements built once (services/compute/keypairs.py, quotas.py,
flavors.py) on each kind of database the store supports: a key pair is created once per user
and name, within the project's key pair quota (its override, else the default), read back, and
deleted once; a private flavor is read by the projects it is granted to and by admins alone."""

from __future__ import annotations

from dataclasses import replace

import pytest

from interstack.backends.contract import Backend
from interstack.errors import Conflict, NotFound, QuotaExceeded
from interstack.services.compute.flavors import FlavorService, FlavorSpec
from interstack.services.compute.keypairs import KeypairService, NewKeypair
from interstack.services.compute.quotas import QuotaService
from interstack.services.context import RequestContext, operator_context
from interstack.services.regions import Regions
from interstack.store import Database
from tests.support.routed import REGION

PUBLIC_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGc1LMfaNjp0y6RBeSmEOJaHjxO2OlzAnCqJhE/ChbEV t"


def member(user_id: str) -> RequestContext:
    return replace(operator_context("p1"), user_id=user_id, roles=("member", "reader"))


def test_a_key_pair_is_made_once_within_the_quota_then_deleted_once(db: Database) -> None:
    quotas = QuotaService(db)
    keypairs = KeypairService(db, quotas)
    owner, other = member("u1"), member("u2")
    made = keypairs.create(owner, NewKeypair(name="k1", public_key=PUBLIC_KEY))
    assert keypairs.get(owner, "k1") == replace(made, private_key=None)
    with pytest.raises(Conflict):
        keypairs.create(owner, NewKeypair(name="k1", public_key=PUBLIC_KEY))
    with pytest.raises(NotFound):  # another user's key pair does not exist for the caller
        keypairs.get(other, "k1")
    quotas.update(operator_context("p1"), "p1", {"key_pairs": 1}, force=True)
    with pytest.raises(QuotaExceeded):
        keypairs.create(owner, NewKeypair(name="k2", public_key=PUBLIC_KEY))
    keypairs.create(other, NewKeypair(name="k2", public_key=PUBLIC_KEY))  # counted per user
    with pytest.raises(NotFound):
        keypairs.delete(other, "k1")
    keypairs.delete(owner, "k1")
    with pytest.raises(NotFound):
        keypairs.delete(owner, "k1")
    assert [k.name for k in keypairs.list(other)] == ["k2"]
    assert quotas.show(owner, "p1")["key_pairs"].in_use == 0


def test_a_private_flavor_is_read_by_its_granted_projects_and_admins(
    db: Database, cloud: Backend
) -> None:
    flavors = FlavorService(db, Regions({REGION: cloud}))
    admin = operator_context("p9")
    private = flavors.create(
        admin, REGION, FlavorSpec("private", 1, 512, 1, id="p", is_public=False)
    )
    flavors.add_access(admin, REGION, private.id, "p1")
    assert flavors.get(member("u1"), REGION, "p").name == "private"
    assert flavors.get(admin, REGION, "p").name == "private"
    with pytest.raises(NotFound):
        flavors.get(replace(member("u3"), project_id="p2"), REGION, "p")
    public = flavors.create(admin, REGION, FlavorSpec("public", 2, 1024, 1, id="q"))
    assert flavors.get(replace(member("u3"), project_id="p2"), REGION, public.id).vcpus == 2
    with pytest.raises(NotFound):
        flavors.get(member("u1"), REGION, "none")
