"""One gateway per block storage test module: quotas and listings stay the module's own."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from interstack.backends.contract import NO_VALID_BACKEND
from tests.support.gateway import ServedGateway
from tests.support.identity import Member, client, member_of
from tests.support.volume import cinder


@pytest.fixture(scope="module")
def volume_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedGateway]:
    served = ServedGateway(
        tmp_path_factory.mktemp("volume") / "data",
        config={
            "regions": [
                {
                    "name": "RegionOne",
                    "backend": "sim",
                    "settings": {
                        "volume_delay_seconds": 0.1,
                        "snapshot_delay_seconds": 0.1,
                        "fail_on": {
                            "create_volume": {"name": "broken-*", "message": "no space"},
                            "extend_volume": {"name": "full-*", "message": NO_VALID_BACKEND},
                        },
                        # a backend that gives no ephemeral or swap disks: its refusal of a
                        # mapping of one, and volumes named as if the flavor's disks were none
                        "without": ["ephemeral_disks"],
                    },
                }
            ]
        },
    ).start()
    yield served
    served.stop()


@pytest.fixture(scope="module")
def admin(volume_gateway: ServedGateway) -> Member:
    """The bootstrap admin as a Member-like triple of token and project."""
    token = volume_gateway.token("interstack-admin")
    me = client(volume_gateway, token).get("/v3/auth/tokens", headers={"X-Subject-Token": token})
    project = me.json()["token"]["project"]
    return Member(
        user_id=me.json()["token"]["user"]["id"],
        user_name="admin",
        password=volume_gateway.password("interstack-admin"),
        project_id=project["id"],
        project_name=project["name"],
    )


@pytest.fixture(scope="module")
def members(volume_gateway: ServedGateway) -> tuple[Member, Member]:
    return member_of(volume_gateway), member_of(volume_gateway)


@pytest.fixture(scope="module")
def api(volume_gateway: ServedGateway, members: tuple[Member, Member]) -> httpx.Client:
    """Cinder as the first member, in its project."""
    member = members[0]
    return cinder(volume_gateway, member.token(volume_gateway), member.project_id)


@pytest.fixture(scope="module")
def admin_api(volume_gateway: ServedGateway, admin: Member) -> httpx.Client:
    """Cinder as the bootstrap admin, in the admin's project."""
    return cinder(volume_gateway, volume_gateway.token("interstack-admin"), admin.project_id)


@pytest.fixture(scope="module")
def conn(volume_gateway: ServedGateway) -> Any:
    """openstacksdk as the clouds.yaml's demo user."""
    return volume_gateway.connect("interstack")
