"""A token the gateway accepted moments ago (and keeps validated) is refused at the next request
once it is revoked, its user or project disabled or its role assignment removed — as Keystone
refuses it. Through keystoneauth and openstacksdk against a served gateway."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest
from keystoneauth1 import exceptions as ka_exceptions
from keystoneauth1 import session as ka_session
from keystoneauth1 import token_endpoint
from openstack import exceptions as sdk_exceptions

from tests.support.gateway import SIM_REGION, ServedGateway
from tests.support.identity import Member, client, new_member, role_id, sdk_as


@pytest.fixture
def admin(gateway: ServedGateway, admin_token: str) -> Iterator[httpx.Client]:
    with client(gateway, admin_token) as api:
        yield api


@pytest.fixture
def member(admin: httpx.Client) -> Member:
    return new_member(admin)


def test_a_revoked_token_is_refused_at_the_next_request(
    gateway: ServedGateway, admin: httpx.Client, member: Member
) -> None:
    token = member.token(gateway)
    # keystoneauth sending this one token, never fetching another
    networks = f"{gateway.url}/{SIM_REGION['name']}/network/v2.0/networks"
    session = ka_session.Session(auth=token_endpoint.Token(networks, token))
    assert session.get(networks).status_code == 200  # validated, and kept
    revoked = admin.delete("/v3/auth/tokens", headers={"X-Subject-Token": token})
    assert revoked.status_code == 204
    with pytest.raises(ka_exceptions.Unauthorized):
        session.get(networks)


@pytest.mark.parametrize(
    "take_away",
    [
        pytest.param(
            lambda admin, m: admin.patch(
                f"/v3/users/{m.user_id}", json={"user": {"enabled": False}}
            ),
            id="user disabled",
        ),
        pytest.param(
            lambda admin, m: admin.patch(
                f"/v3/projects/{m.project_id}", json={"project": {"enabled": False}}
            ),
            id="project disabled",
        ),
        pytest.param(
            lambda admin, m: admin.delete(
                f"/v3/projects/{m.project_id}/users/{m.user_id}/roles/{role_id(admin, 'member')}"
            ),
            id="role assignment removed",
        ),
    ],
)
def test_a_token_is_refused_once_its_user_loses_the_right(
    gateway: ServedGateway,
    admin: httpx.Client,
    member: Member,
    take_away: Callable[[httpx.Client, Member], httpx.Response],
) -> None:
    conn = sdk_as(gateway, member, SIM_REGION["name"])
    try:
        assert list(conn.network.networks()) is not None  # its token validated, and kept
        assert take_away(admin, member).status_code in (200, 204)
        # openstacksdk's token is refused; keystoneauth's new login is refused too
        with pytest.raises((sdk_exceptions.HttpException, ka_exceptions.Unauthorized)) as refused:
            list(conn.network.networks())
        error = refused.value
        status = error.status_code if isinstance(error, sdk_exceptions.HttpException) else 401
        assert status == 401
    finally:
        conn.close()
