"""A server's password: posted once by its guest to the metadata service, read by its owner.

This is Nova's ``os-server-password`` store. The guest (cloudbase-init on Windows, a script on
Linux) encrypts a generated password with the keypair's public key and POSTs it to
``/openstack/latest/password``; the owner reads it through the compute API and decrypts it
with the private key. A password is set once: a second POST is a conflict until the owner
clears it.
"""

from __future__ import annotations

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from interstack.errors import BadRequest, Conflict
from interstack.services.compute.common import visible_row
from interstack.services.context import RequestContext
from interstack.services.tasks import utcnow
from interstack.store import Database
from interstack.store.models import ServerPassword

#: what Nova keeps of a posted password (4 chunks of 255 characters)
MAX_PASSWORD_LENGTH = 4 * 255


def _forget_password(session: Session, server_id: str) -> None:
    """Drop the server's password (cleared by its owner, or the server is deleted)."""
    session.execute(delete(ServerPassword).where(ServerPassword.server_id == server_id))


class ServerPasswords:
    def __init__(self, db: Database) -> None:
        self.db = db

    # -- the compute API (os-server-password) -----------------------------------------------

    def get(self, ctx: RequestContext, region: str, server_id: str) -> str:
        """The posted password, or "" when none was posted (404 for a server not visible)."""
        with self.db.session() as session:
            visible_row(session, ctx, region, server_id)
            row = session.get(ServerPassword, server_id)
            return row.password if row is not None else ""

    def clear(self, ctx: RequestContext, region: str, server_id: str) -> None:
        """Forget the password, so the guest may post a new one."""
        with self.db.session() as session:
            visible_row(session, ctx, region, server_id)
            _forget_password(session, server_id)

    # -- the metadata service (the guest itself, identified by where it calls from) ----------

    def stored(self, server_id: str) -> str | None:
        with self.db.session() as session:
            row = session.get(ServerPassword, server_id)
            return row.password if row is not None else None

    def set_once(self, server_id: str, password: str) -> None:
        """Keep what the guest posted; Conflict if a password is already set."""
        if len(password) > MAX_PASSWORD_LENGTH:
            raise BadRequest(f"Request is too large: at most {MAX_PASSWORD_LENGTH} characters.")
        try:
            with self.db.session() as session:
                if session.get(ServerPassword, server_id) is not None:
                    raise Conflict("A password is already set for this instance.")
                session.add(
                    ServerPassword(server_id=server_id, password=password, created_at=utcnow())
                )
        except IntegrityError as exc:  # two posts at once: the other one won
            raise Conflict("A password is already set for this instance.") from exc

    @staticmethod
    def forget(session: Session, server_id: str) -> None:
        """The server is gone: its password goes with it, in the transaction that deletes the
        server (a client that sees the server gone never finds its password left)."""
        _forget_password(session, server_id)
