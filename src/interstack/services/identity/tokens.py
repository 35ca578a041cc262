"""Fernet tokens: the token *is* the encrypted payload, so nothing is stored per token.

A token survives a gateway restart (the keys are on disk) and is accepted by every replica that
shares the key repository. It is invalid once expired, once a key rotation has dropped its key, or
once a revocation event matches it (see :class:`TokenPayload` and ``RevocationEvent``).
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import orjson
from cryptography.fernet import InvalidToken

from interstack.errors import NotFound
from interstack.services.identity.fernet_keys import KeyRepository

_PAYLOAD_VERSION = 1


def new_audit_id() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(16)).decode().rstrip("=")


def _to_micros(moment: datetime) -> int:
    return int(moment.timestamp() * 1_000_000)


def _from_micros(value: int) -> datetime:
    return datetime.fromtimestamp(value / 1_000_000, tz=UTC)


@dataclass(frozen=True)
class TokenPayload:
    """What a token asserts. Scope is at most one of project, domain or system."""

    user_id: str
    methods: tuple[str, ...]
    issued_at: datetime
    expires_at: datetime
    audit_ids: tuple[str, ...]
    project_id: str | None = None
    domain_id: str | None = None
    system: bool = False
    app_cred_id: str | None = None


class TokenProvider:
    """Issues and decrypts Fernet tokens with the keys of one repository."""

    def __init__(self, keys: KeyRepository, lifetime: timedelta) -> None:
        self.keys = keys
        self.lifetime = lifetime

    def issue(
        self,
        user_id: str,
        methods: tuple[str, ...],
        *,
        project_id: str | None = None,
        domain_id: str | None = None,
        system: bool = False,
        app_cred_id: str | None = None,
        expires_at: datetime | None = None,
        parent_audit_id: str | None = None,
    ) -> tuple[str, TokenPayload]:
        now = datetime.now(UTC)
        expiry = now + self.lifetime
        if expires_at is not None and expires_at < expiry:
            expiry = expires_at
        audit_ids = (new_audit_id(),) + ((parent_audit_id,) if parent_audit_id else ())
        payload = TokenPayload(
            user_id=user_id,
            methods=methods,
            issued_at=now,
            expires_at=expiry,
            audit_ids=audit_ids,
            project_id=project_id,
            domain_id=domain_id,
            system=system,
            app_cred_id=app_cred_id,
        )
        body = {
            "v": _PAYLOAD_VERSION,
            "u": user_id,
            "m": list(methods),
            "i": _to_micros(now),
            "e": _to_micros(expiry),
            "a": list(audit_ids),
            "p": project_id,
            "d": domain_id,
            "s": system,
            "c": app_cred_id,
        }
        token = self.keys.fernet().encrypt(orjson.dumps(body)).decode().rstrip("=")
        return token, payload

    def decode(self, token: str) -> TokenPayload:
        """The payload of a genuine, unexpired token; NotFound otherwise (as Keystone answers)."""
        padded = token + "=" * (-len(token) % 4)
        try:
            raw = self.keys.fernet().decrypt(padded.encode())
            body = orjson.loads(raw)
        except (InvalidToken, ValueError, orjson.JSONDecodeError) as exc:
            raise NotFound("Could not recognize Fernet token") from exc
        if body.get("v") != _PAYLOAD_VERSION:
            raise NotFound("Could not recognize Fernet token")
        payload = TokenPayload(
            user_id=body["u"],
            methods=tuple(body["m"]),
            issued_at=_from_micros(body["i"]),
            expires_at=_from_micros(body["e"]),
            audit_ids=tuple(body["a"]),
            project_id=body["p"],
            domain_id=body["d"],
            system=bool(body["s"]),
            app_cred_id=body["c"],
        )
        if payload.expires_at <= datetime.now(UTC):
            raise NotFound("The token has expired.")
        return payload
