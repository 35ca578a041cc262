"""Key pairs: generated (the private key is returned once, never stored) or imported; per user.

A key pair belongs to a user, not a project: another user's key pair does not exist for the
caller (404), whatever project both work in. Admins may name another user (2.10).
"""

from __future__ import annotations

import builtins
import hashlib
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Delete, Insert, Row, Select, bindparam, delete, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from interstack.errors import BadRequest, Conflict, Forbidden, NotFound
from interstack.services.compute.keypair_crypto import (
    generate_ssh_key,
    generate_x509_certificate,
    ssh_fingerprint,
    x509_fingerprint,
)
from interstack.services.compute.quotas import QuotaService
from interstack.services.compute.records import Keypair
from interstack.services.context import RequestContext
from interstack.services.tasks import utcnow
from interstack.store import Database, run_core, table_of
from interstack.store.models import Keypair as KeypairRow

#: Nova's safe characters of a key pair name (before 2.92)
_NAME = re.compile(r"^[a-zA-Z0-9 _-]+$")
TYPES = ("ssh", "x509")

# a key pair's read, write and delete, built once and run by run_core (plain rows)
_TABLE = table_of(KeypairRow)
_THE_KEYPAIR = (
    _TABLE.c.user_id == bindparam("user_id"),
    _TABLE.c.name == bindparam("name"),
)
_READ: Select[Any] = select(_TABLE).where(*_THE_KEYPAIR)
_DELETE: Delete = delete(_TABLE).where(*_THE_KEYPAIR)
#: every column a parameter (a taken name is the insert's IntegrityError: the primary key)
_INSERT: Insert = insert(_TABLE)


@dataclass(frozen=True)
class NewKeypair:
    name: str
    type: str = "ssh"
    #: None: generate one; the private key is then returned once
    public_key: str | None = None
    #: None: the caller's own
    user_id: str | None = None


def serial(user_id: str, name: str) -> int:
    """Nova shows an integer ``id``; ours is stable, derived from the key pair's identity."""
    digest = hashlib.sha256(f"{user_id}/{name}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF or 1


def record(row: KeypairRow | Row[Any], private_key: str | None = None) -> Keypair:
    return Keypair(
        name=row.name,
        user_id=row.user_id,
        type=row.type,
        public_key=row.public_key,
        fingerprint=row.fingerprint,
        created_at=row.created_at,
        private_key=private_key,
    )


def _check_name(name: str) -> None:
    if not 1 <= len(name) <= 255 or not name.strip():
        raise BadRequest(
            "Keypair data is invalid: Keypair name must be string and between 1 "
            "and 255 characters long"
        )
    if not _NAME.match(name):
        raise BadRequest("Keypair data is invalid: Keypair name contains unsafe characters")


def _not_found(name: str, user_id: str) -> NotFound:
    return NotFound(f"Keypair {name} not found for user {user_id}")


class KeypairService:
    def __init__(self, db: Database, quotas: QuotaService) -> None:
        self.db = db
        self.quotas = quotas

    def _owner(self, ctx: RequestContext, user_id: str | None, rule: str) -> str:
        if user_id is None or user_id == ctx.user_id:
            return ctx.user_id
        if not ctx.is_admin:
            raise Forbidden(
                f"Policy doesn't allow os_compute_api:os-keypairs:{rule} to be performed."
            )
        return user_id

    def create(self, ctx: RequestContext, new: NewKeypair) -> Keypair:
        owner = self._owner(ctx, new.user_id, "create")
        _check_name(new.name)
        if new.type not in TYPES:
            raise BadRequest(f"Invalid key pair type {new.type!r}; use one of {', '.join(TYPES)}.")
        private_key: str | None = None
        public_key = new.public_key
        if public_key is None:
            if new.type == "ssh":
                private_key, public_key = generate_ssh_key("Generated-by-Nova")
            else:
                private_key, public_key = generate_x509_certificate(owner)
        fingerprint = (
            ssh_fingerprint(public_key) if new.type == "ssh" else x509_fingerprint(public_key)
        )
        try:
            with self.db.session() as session:
                # the quota first, as Nova checks it; a taken name is the insert's own refusal
                self.quotas.check_keypairs(session, ctx.project_id or "", owner)
                created = Keypair(
                    name=new.name,
                    user_id=owner,
                    type=new.type,
                    public_key=public_key.strip(),
                    fingerprint=fingerprint,
                    created_at=utcnow(),
                    private_key=private_key,
                )
                run_core(
                    session,
                    _INSERT,
                    {
                        "user_id": owner,
                        "name": new.name,
                        "type": new.type,
                        "public_key": created.public_key,
                        "fingerprint": fingerprint,
                        "created_at": created.created_at,
                    },
                )
        except IntegrityError as exc:  # the name is taken (the key pair's primary key)
            raise Conflict(f"Key pair '{new.name}' already exists.") from exc
        return created

    def list(
        self,
        ctx: RequestContext,
        user_id: str | None = None,
        *,
        limit: int | None = None,
        marker: str | None = None,
    ) -> builtins.list[Keypair]:
        """The user's key pairs by name; ``marker`` is the name the previous page ended with."""
        owner = self._owner(ctx, user_id, "index")
        stmt = select(KeypairRow).where(KeypairRow.user_id == owner).order_by(KeypairRow.name)
        with self.db.session() as session:
            if marker is not None:
                if session.get(KeypairRow, (owner, marker)) is None:
                    raise BadRequest(f"marker [{marker}] not found")
                stmt = stmt.where(KeypairRow.name > marker)
            if limit is not None:
                stmt = stmt.limit(limit)
            return [record(r) for r in session.scalars(stmt)]

    def get(
        self,
        ctx: RequestContext,
        name: str,
        user_id: str | None = None,
        session: Session | None = None,
    ) -> Keypair:
        """The key pair; read in ``session`` when the caller has one open (a boot's)."""
        owner = self._owner(ctx, user_id, "show")
        if session is None:
            with self.db.session() as own:
                return self.get(ctx, name, user_id, own)
        row = run_core(session, _READ, {"user_id": owner, "name": name}).one_or_none()
        if row is None:
            raise _not_found(name, owner)
        return record(row)

    def delete(self, ctx: RequestContext, name: str, user_id: str | None = None) -> None:
        owner = self._owner(ctx, user_id, "delete")
        with self.db.session() as session:
            deleted = run_core(session, _DELETE, {"user_id": owner, "name": name})
            if deleted.rowcount == 0:
                raise _not_found(name, owner)
