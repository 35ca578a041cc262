"""Two gateways serving one store with the same keys, as replicas of one cloud: a token the
second one accepted (and keeps validated, for up to token_cache_seconds: an hour here) is
refused there once the first revoked it or took its user's role away, within the second's
revocation_check_seconds — as Keystone refuses it everywhere. Through keystoneauth.

The refusal is waited for with a bound far below the hour the token would stay cached without
the look (never an assertion on how soon)."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator

import httpx
import pytest
from keystoneauth1 import exceptions as ka_exceptions
from keystoneauth1 import session as ka_session
from keystoneauth1 import token_endpoint

from tests.support.gateway import ServedGateway
from tests.support.identity import Member, client, new_member, role_id
from tests.support.waiting import eventually

KEPT_SECONDS = 3600


@pytest.fixture(scope="module")
def replicas(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[ServedGateway, ServedGateway]]:
    """The first gateway, then a second on its store, with its keys and its accounts (each
    test works with a member of its own)."""
    root = tmp_path_factory.mktemp("replicas")
    with ServedGateway(root / "first") as first:
        second_dir = root / "second"
        second_dir.mkdir()
        shutil.copytree(first.data_dir / "fernet-keys", second_dir / "fernet-keys")
        shutil.copy(first.clouds_yaml, second_dir / "clouds.yaml")
        config = {
            "database": f"sqlite:///{first.data_dir / 'interstack.db'}",
            "token_cache_seconds": KEPT_SECONDS,
        }
        with ServedGateway(second_dir, config=config) as second:
            yield first, second


def _revoke_token(admin: httpx.Client, _member: Member, token: str) -> httpx.Response:
    return admin.delete("/v3/auth/tokens", headers={"X-Subject-Token": token})


def _remove_role(admin: httpx.Client, member: Member, _token: str) -> httpx.Response:
    member_role = role_id(admin, "member")
    return admin.delete(
        f"/v3/projects/{member.project_id}/users/{member.user_id}/roles/{member_role}"
    )


@pytest.mark.parametrize(
    "take_away",
    [
        pytest.param(_revoke_token, id="token revoked"),
        pytest.param(_remove_role, id="role removed"),
    ],
)
def test_a_token_kept_by_one_replica_is_refused_once_another_took_it_away(
    replicas: tuple[ServedGateway, ServedGateway],
    take_away: Callable[[httpx.Client, Member, str], httpx.Response],
) -> None:
    first, second = replicas
    with client(first, first.token("interstack-admin")) as admin:
        member = new_member(admin)
        token = member.token(first)
        projects = f"{second.url}/v3/auth/projects"
        # keystoneauth sending this one token to the second replica, never fetching another
        session = ka_session.Session(auth=token_endpoint.Token(projects, token))
        assert session.get(projects).status_code == 200  # validated there, and kept
        assert take_away(admin, member, token).status_code == 204

    def refused() -> bool:
        try:
            session.get(projects)
        except ka_exceptions.Unauthorized:
            return True
        return False

    eventually(refused, bool, "the second replica to refuse the token", bound=60)
