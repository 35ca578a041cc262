"""Cinder's ``message_ttl`` from the gateway's settings: a gateway configured with a TTL of a
few seconds keeps a user message that long (``guaranteed_until``) and then neither lists nor
shows it, as Cinder does past its ``message_ttl``."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import httpx
import pytest

from interstack.backends.contract import NO_VALID_BACKEND
from tests.support.gateway import ServedGateway
from tests.support.identity import Member, unique
from tests.support.volume import cinder, create_volume
from tests.support.waiting import eventually

TTL_SECONDS = 3


@pytest.fixture(scope="module")
def volume_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedGateway]:
    """A sim region whose backend has no room for any extend; messages kept 3 s."""
    failures = {"extend_volume": {"name": "*", "message": NO_VALID_BACKEND}}
    region = {"name": "RegionOne", "backend": "sim", "settings": {"fail_on": failures}}
    config = {"regions": [region], "message_ttl": TTL_SECONDS, "message_reap_interval": 60}
    served = ServedGateway(tmp_path_factory.mktemp("ttl") / "data", config=config).start()
    yield served
    served.stop()


def _listed(api: httpx.Client, volume_id: str) -> list[str]:
    listed = api.get("/messages", params={"resource_uuid": volume_id})
    assert listed.status_code == 200, listed.text
    return [m["id"] for m in listed.json()["messages"]]


def test_a_message_expires_after_the_configured_ttl(
    volume_gateway: ServedGateway, members: tuple[Member, Member]
) -> None:
    owner = members[0]
    with cinder(volume_gateway, owner.token(volume_gateway), owner.project_id, "3.3") as api:
        volume = create_volume(api, name=unique("full-"), size=1)
        extend = api.post(f"/volumes/{volume['id']}/action", json={"os-extend": {"new_size": 2}})
        assert extend.status_code == 202, extend.text
        (message_id,) = eventually(
            lambda: _listed(api, volume["id"]), bool, "the refused extend's message"
        )
        shown = api.get(f"/messages/{message_id}")
        assert shown.status_code == 200, shown.text
        message = shown.json()["message"]
        kept = datetime.fromisoformat(message["guaranteed_until"]) - datetime.fromisoformat(
            message["created_at"]
        )
        assert kept == timedelta(seconds=TTL_SECONDS)  # the setting's, not Cinder's 30 days

        eventually(lambda: _listed(api, volume["id"]), lambda ids: ids == [], "the message expired")
        assert api.get(f"/messages/{message_id}").status_code == 404
