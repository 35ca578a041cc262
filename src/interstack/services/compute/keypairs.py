"""Key pairs: generated (the private key is shown once, never stored) or imported; per user."""

from __future__ import annotations

import base64
import hashlib
import re

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from sqlalchemy import func, select

from interstack.errors import BadRequest, Conflict, Forbidden, NotFound, QuotaExceeded
from interstack.services.compute.records import Keypair
from interstack.services.context import RequestContext
from interstack.services.tasks import utcnow
from interstack.store import Database
from interstack.store.models import Keypair as KeypairRow

_NAME = re.compile(r"^[a-zA-Z0-9 _.@-]{1,255}$")


def record(row: KeypairRow, private_key: str | None = None) -> Keypair:
    return Keypair(
        name=row.name,
        user_id=row.user_id,
        type=row.type,
        public_key=row.public_key,
        fingerprint=row.fingerprint,
        created_at=row.created_at,
        private_key=private_key,
    )


def _colon_hex(digest: bytes) -> str:
    return ":".join(f"{b:02x}" for b in digest)


def ssh_fingerprint(public_key: str) -> str:
    """Nova's fingerprint of an OpenSSH public key: MD5 of the key blob, colon separated."""
    try:
        serialization.load_ssh_public_key(public_key.strip().encode())
        blob = base64.b64decode(public_key.strip().split()[1])
    except (ValueError, IndexError, UnicodeError) as exc:
        raise BadRequest("Keypair data is invalid: failed to generate fingerprint") from exc
    return _colon_hex(hashlib.md5(blob, usedforsecurity=False).digest())


def x509_fingerprint(certificate: str) -> str:
    try:
        cert = x509.load_pem_x509_certificate(certificate.strip().encode())
    except ValueError as exc:
        raise BadRequest("Keypair data is invalid: failed to generate fingerprint") from exc
    der = cert.public_bytes(serialization.Encoding.DER)
    return _colon_hex(hashlib.sha1(der, usedforsecurity=False).digest())


def generate_ssh_key(comment: str) -> tuple[str, str]:
    """A new ed25519 key: (OpenSSH private key, ``ssh-ed25519 ... comment`` public key)."""
    key = ed25519.Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    ).decode()
    public = key.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    return private, f"{public.decode()} {comment}"


class KeypairService:
    def __init__(self, db: Database, max_keypairs: int = 100) -> None:
        self.db = db
        self.max_keypairs = max_keypairs

    def _owner(self, ctx: RequestContext, user_id: str | None) -> str:
        if user_id is None or user_id == ctx.user_id:
            return ctx.user_id
        if not ctx.is_admin:
            raise Forbidden("Policy doesn't allow os_compute_api:os-keypairs to be performed.")
        return user_id

    def create(
        self,
        ctx: RequestContext,
        name: str,
        *,
        key_type: str = "ssh",
        public_key: str | None = None,
        user_id: str | None = None,
    ) -> Keypair:
        owner = self._owner(ctx, user_id)
        if not _NAME.match(name) or not name.strip():
            raise BadRequest(
                "Keypair data is invalid: Keypair name contains unsafe characters"
                if name
                else "Keypair data is invalid: Keypair name must be string and between 1 "
                "and 255 characters long"
            )
        private_key: str | None = None
        if public_key is None:
            if key_type != "ssh":
                raise BadRequest("Generating x509 key pairs is not supported; import one.")
            private_key, public_key = generate_ssh_key(f"Generated-by-Nova {name}")
        fingerprint = (
            ssh_fingerprint(public_key) if key_type == "ssh" else x509_fingerprint(public_key)
        )
        with self.db.session() as session:
            count = session.scalar(
                select(func.count()).select_from(KeypairRow).where(KeypairRow.user_id == owner)
            )
            if (count or 0) >= self.max_keypairs:
                raise QuotaExceeded("Quota exceeded, too many key pairs.")
            if session.get(KeypairRow, (owner, name)) is not None:
                raise Conflict(f"Key pair '{name}' already exists.")
            row = KeypairRow(
                user_id=owner,
                name=name,
                type=key_type,
                public_key=public_key.strip(),
                fingerprint=fingerprint,
                created_at=utcnow(),
            )
            session.add(row)
            return record(row, private_key)

    def list(
        self,
        ctx: RequestContext,
        user_id: str | None = None,
        *,
        limit: int | None = None,
        marker: str | None = None,
    ) -> list[Keypair]:
        owner = self._owner(ctx, user_id)
        with self.db.session() as session:
            rows = list(
                session.scalars(
                    select(KeypairRow).where(KeypairRow.user_id == owner).order_by(KeypairRow.name)
                )
            )
        if marker is not None:
            names = [r.name for r in rows]
            if marker not in names:
                raise BadRequest(f"marker [{marker}] not found")
            rows = rows[names.index(marker) + 1 :]
        if limit is not None:
            rows = rows[:limit]
        return [record(r) for r in rows]

    def get(self, ctx: RequestContext, name: str, user_id: str | None = None) -> Keypair:
        owner = self._owner(ctx, user_id)
        with self.db.session() as session:
            row = session.get(KeypairRow, (owner, name))
            if row is None:
                raise NotFound(f"Keypair {name} not found for user {owner}")
            return record(row)

    def delete(self, ctx: RequestContext, name: str, user_id: str | None = None) -> None:
        owner = self._owner(ctx, user_id)
        with self.db.session() as session:
            row = session.get(KeypairRow, (owner, name))
            if row is None:
                raise NotFound(f"Keypair {name} not found for user {owner}")
            session.delete(row)
