"""Token validation against a real store: single-flight on a cache miss, revocation clears it."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from interstack.errors import NotFound
from interstack.services.identity.auth import AuthService
from interstack.services.identity.bootstrap import bootstrap
from interstack.services.identity.fernet_keys import KeyRepository
from interstack.services.identity.model import AuthRequest, PasswordCredentials, ScopeRequest
from interstack.services.identity.tokens import TokenProvider
from interstack.store import Database


@pytest.fixture
def auth(db: Database, tmp_path: Path) -> tuple[AuthService, str]:
    bootstrap(db, tmp_path, "http://127.0.0.1:1/v3", ["RegionOne"])
    keys = KeyRepository(tmp_path / "keys")
    keys.initialize()
    service = AuthService(db, TokenProvider(keys, timedelta(hours=1)), cache_seconds=60)
    password = yaml.safe_load((tmp_path / "clouds.yaml").read_text())["clouds"]["interstack"]
    info = service.authenticate(
        AuthRequest(
            methods=("password",),
            password=PasswordCredentials(
                password=password["auth"]["password"], user_name="demo", domain_id="default"
            ),
            scope=ScopeRequest(project_name="demo", project_domain_id="default"),
        )
    )
    return service, info.token


def test_concurrent_misses_read_the_store_once(
    auth: tuple[AuthService, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    service, token = auth
    service.cache.clear()
    reads = 0
    lock = threading.Lock()
    original = service._token_info

    def counting(*args: Any) -> Any:
        nonlocal reads
        with lock:
            reads += 1
        time.sleep(0.05)  # hold the read open so the other threads arrive while it runs
        return original(*args)

    monkeypatch.setattr(service, "_token_info", counting)
    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(lambda _: service.validate(token), range(16)))
    assert reads == 1
    assert {r.user.name for r in results} == {"demo"}


def test_revocation_takes_effect_despite_the_cache(auth: tuple[AuthService, str]) -> None:
    service, token = auth
    assert service.validate(token).project is not None  # now cached
    service.revoke(token)
    with pytest.raises(NotFound):
        service.validate(token)
    assert service.cached(token) is None


def test_followers_of_a_failed_validation_fail_too(auth: tuple[AuthService, str]) -> None:
    service, _ = auth
    with ThreadPoolExecutor(max_workers=8) as pool:
        futures = [pool.submit(service.validate, "not-a-token") for _ in range(8)]
    for future in futures:
        with pytest.raises(NotFound):
            future.result()
