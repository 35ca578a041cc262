"""Auth services as replicas of one store would hold them: a clock the test moves for their
cache and revocation look, tokens of the bootstrapped accounts."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import yaml

from interstack.services.identity.auth import AuthService
from interstack.services.identity.fernet_keys import KeyRepository
from interstack.services.identity.model import AuthRequest, PasswordCredentials, ScopeRequest
from interstack.services.identity.tokens import TokenProvider
from interstack.store import Database

#: how often the services built here look at the store's revocation events
CHECK_SECONDS = 1.0


class Clock:
    """A monotonic clock in seconds, moved by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def auth_service(db: Database, keys: KeyRepository, clock: Clock) -> AuthService:
    """An auth service that keeps tokens for an hour and looks every ``CHECK_SECONDS``."""
    return AuthService(
        db,
        TokenProvider(keys, timedelta(hours=1)),
        cache_seconds=3600,
        revocation_check_seconds=CHECK_SECONDS,
        clock=clock,
    )


def bootstrap_password(data_dir: Path, cloud: str) -> str:
    """The password bootstrap gave the account of ``cloud`` in the data dir's clouds.yaml."""
    clouds = yaml.safe_load((data_dir / "clouds.yaml").read_text())["clouds"]
    password: str = clouds[cloud]["auth"]["password"]
    return password


def password_token(service: AuthService, user: str, password: str, scope: ScopeRequest) -> str:
    credentials = PasswordCredentials(password=password, user_name=user, domain_id="default")
    request = AuthRequest(methods=("password",), password=credentials, scope=scope)
    return service.authenticate(request).token


def demo_token(service: AuthService, data_dir: Path) -> str:
    """A token of the bootstrapped demo user on the demo project."""
    scope = ScopeRequest(project_name="demo", project_domain_id="default")
    return password_token(service, "demo", bootstrap_password(data_dir, "interstack"), scope)
