"""Authentication and token lifecycle: issue, validate, revoke.

The API layer hands over an :class:`AuthRequest`; this module checks credentials against the store,
resolves and authorizes the requested scope and returns a :class:`TokenInfo`. Validation decodes the
Fernet token, checks revocation events and re-reads user, scope and roles, so a disabled user or a
removed role takes effect at once.

A validated token's meaning is kept (:class:`TokenCache`) until the token expires or for at most
``cache_seconds``, so a client's requests do not read the store for it each time. What may make
it stale is seen as follows:

- this process's own changes to identity data (any write to users, domains, projects, roles,
  role assignments, application credentials or revocation events) empty the cache as they
  commit: the next request is validated against the store, and refused if it must be;
- another replica's revocations (a token revoked; a user, project or domain disabled or
  deleted; a role assignment or role removed; an application credential deleted: each records
  a revocation event) are seen here within ``revocation_check_seconds`` (the events' count
  and highest id read at most that often, :class:`RevocationWatch`), after which the cache
  is emptied; so is a key rotation that dropped the key of cached tokens (the key directory
  is looked at then too);
- another replica's changes that revoke nothing (a role granted, a rename) within
  ``cache_seconds``, as Keystone's own token middleware caches tokens for minutes.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from cryptography.fernet import MultiFernet
from sqlalchemy import and_, or_, select
from sqlalchemy.orm import ORMExecuteState, Session

from interstack.errors import BadRequest, NotFound, Unauthorized
from interstack.services.context import RequestContext
from interstack.services.identity.model import (
    AppCredentialCredentials,
    AppCredentialRef,
    AuthRequest,
    NamedRef,
    PasswordCredentials,
    ScopedProject,
    TokenInfo,
)
from interstack.services.identity.passwords import STANDARD, SecretHasher
from interstack.services.identity.revocation_watch import RevocationWatch
from interstack.services.identity.scopes import (
    AUTH_FAILED,
    Scope,
    effective_roles,
    find_domain,
    require_roles,
    resolve_scope,
)
from interstack.services.identity.token_cache import TokenCache
from interstack.services.identity.tokens import TokenPayload, TokenProvider
from interstack.store import Database, core_written
from interstack.store.models import (
    ApplicationCredential,
    Domain,
    Project,
    RevocationEvent,
    Role,
    RoleAssignment,
    User,
)

#: set on a session that changes identity data; its commit empties the token cache
_REVOKED = "interstack.identity.revoked"
#: what a validated token's meaning is read from
_IDENTITY_MODELS = (
    User,
    Domain,
    Project,
    Role,
    RoleAssignment,
    ApplicationCredential,
    RevocationEvent,
)
_IDENTITY_TABLES = frozenset(model.__tablename__ for model in _IDENTITY_MODELS)
_FOLLOWER_WAIT_SECONDS = 10.0


def _aware(moment: datetime | None) -> datetime | None:
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


def _naive(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None)


class AuthService:
    """Issues, validates and revokes tokens for the users in the store."""

    def __init__(
        self,
        db: Database,
        tokens: TokenProvider,
        admin_project_id: str | None = None,
        cache_seconds: float = 0.0,
        hasher: SecretHasher = STANDARD,
        revocation_check_seconds: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.db = db
        self.hasher = hasher
        self.tokens = tokens
        self.admin_project_id = admin_project_id
        self.cache: TokenCache[TokenInfo] = TokenCache(ttl=cache_seconds, clock=clock)
        self.revocations = RevocationWatch(db, revocation_check_seconds, clock)
        self._keys: MultiFernet | None = None
        self._inflight: dict[str, threading.Event] = {}
        self._inflight_lock = threading.Lock()
        db.on_session_event("after_flush", self._after_flush)
        db.on_session_event("do_orm_execute", self._on_execute)
        db.on_commit(self._after_commit)

    @staticmethod
    def _after_flush(session: Session, _context: Any) -> None:
        """A unit of work whose flush writes identity data empties the cache as it commits."""
        for changed in (session.new, session.dirty, session.deleted):
            if any(isinstance(row, _IDENTITY_MODELS) for row in changed):
                session.info[_REVOKED] = True
                return

    @staticmethod
    def _on_execute(state: ORMExecuteState) -> None:
        """The same for an INSERT, UPDATE or DELETE statement on an identity table."""
        if state.is_insert or state.is_update or state.is_delete:
            table = getattr(state.statement, "table", None)
            if getattr(table, "name", None) in _IDENTITY_TABLES:
                state.session.info[_REVOKED] = True

    def _after_commit(self, session: Session) -> None:
        changed = session.info.pop(_REVOKED, False)
        if changed or not _IDENTITY_TABLES.isdisjoint(core_written(session)):
            self.cache.clear()

    # -- issue -----------------------------------------------------------------------------------

    def authenticate(self, request: AuthRequest) -> TokenInfo:
        if not request.methods:
            raise BadRequest("Expecting to find methods in identity; at least one auth method.")
        with self.db.session() as session:
            parent: TokenPayload | None = None
            app_cred: ApplicationCredential | None = None
            if "password" in request.methods:
                if request.password is None:
                    raise BadRequest("Expecting to find password in identity.")
                user = self._check_password(session, request.password)
            elif "token" in request.methods:
                if not request.token:
                    raise BadRequest("Expecting to find token id in identity.")
                parent = self._check_parent_token(session, request.token)
                user = self._active_user(session, parent.user_id)
            elif "application_credential" in request.methods:
                if request.app_credential is None:
                    raise BadRequest("Expecting to find application_credential in identity.")
                app_cred, user = self._check_app_credential(session, request.app_credential)
            else:
                raise Unauthorized(f"Unsupported authentication method: {request.methods[0]}.")

            if app_cred is not None:
                if request.scope.domain_id or request.scope.domain_name or request.scope.system:
                    raise Unauthorized("Application credentials are bound to a project scope.")
                scope = Scope(project_id=app_cred.project_id)
            else:
                scope = resolve_scope(session, user, request.scope)
            if parent is not None and parent.app_cred_id:
                raise Unauthorized("A token from an application credential cannot be rescoped.")
            if scope.scoped:
                require_roles(session, user.id, scope, app_cred)

            token, payload = self.tokens.issue(
                user.id,
                ("token", *parent.methods) if parent else tuple(request.methods),
                project_id=scope.project_id,
                domain_id=scope.domain_id,
                system=scope.system,
                app_cred_id=app_cred.id if app_cred else None,
                expires_at=parent.expires_at
                if parent
                else _aware(app_cred.expires_at)
                if app_cred
                else None,
                parent_audit_id=parent.audit_ids[0] if parent else None,
            )
            return self._token_info(session, token, payload)

    def _check_password(self, session: Session, creds: PasswordCredentials) -> User:
        user: User | None
        if creds.user_id:
            user = session.get(User, creds.user_id)
        elif creds.user_name:
            domain = find_domain(session, creds.domain_id, creds.domain_name, required=True)
            user = (
                session.scalars(
                    select(User).where(User.name == creds.user_name, User.domain_id == domain.id)
                ).first()
                if domain
                else None
            )
        else:
            raise BadRequest("Expecting to find user id or name in password identity.")
        stored = user.password_hash if user else None
        if not self.hasher.verify(stored, creds.password) or user is None:
            raise Unauthorized(AUTH_FAILED)
        self._require_enabled(session, user)
        return user

    def _check_parent_token(self, session: Session, token: str) -> TokenPayload:
        try:
            payload = self.tokens.decode(token)
        except NotFound as exc:
            raise Unauthorized(AUTH_FAILED) from exc
        if self._is_revoked(session, payload):
            raise Unauthorized(AUTH_FAILED)
        return payload

    def _check_app_credential(
        self, session: Session, creds: AppCredentialCredentials
    ) -> tuple[ApplicationCredential, User]:
        cred: ApplicationCredential | None = None
        if creds.id:
            cred = session.get(ApplicationCredential, creds.id)
        elif creds.name:
            owner: User | None = None
            if creds.user_id:
                owner = session.get(User, creds.user_id)
            elif creds.user_name:
                domain = find_domain(
                    session, creds.user_domain_id, creds.user_domain_name, required=True
                )
                owner = (
                    session.scalars(
                        select(User).where(
                            User.name == creds.user_name, User.domain_id == domain.id
                        )
                    ).first()
                    if domain
                    else None
                )
            else:
                raise BadRequest("An application credential named by name needs its user.")
            if owner is not None:
                cred = session.scalars(
                    select(ApplicationCredential).where(
                        ApplicationCredential.user_id == owner.id,
                        ApplicationCredential.name == creds.name,
                    )
                ).first()
        else:
            raise BadRequest("Expecting to find application credential id or name.")
        if not self.hasher.verify(cred.secret_hash if cred else None, creds.secret) or cred is None:
            raise Unauthorized(AUTH_FAILED)
        expires = _aware(cred.expires_at)
        if expires is not None and expires <= datetime.now(UTC):
            raise Unauthorized("The application credential has expired.")
        return cred, self._active_user(session, cred.user_id)

    def _active_user(self, session: Session, user_id: str) -> User:
        user = session.get(User, user_id)
        if user is None:
            raise Unauthorized(AUTH_FAILED)
        self._require_enabled(session, user)
        return user

    def _require_enabled(self, session: Session, user: User) -> None:
        domain = session.get(Domain, user.domain_id)
        if not user.enabled or domain is None or not domain.enabled:
            raise Unauthorized(AUTH_FAILED)

    # -- validate / revoke -----------------------------------------------------------------------

    def validate(self, token: str) -> TokenInfo:
        """The token's current meaning. NotFound if it is invalid, expired or revoked.

        Concurrent validations of one token that miss the cache read the store once: the first
        caller validates, the others wait for it and take its cached result.
        """
        self._drop_stale()
        cached = self.cache.get(token)
        if cached is not None:
            return cached
        with self._inflight_lock:
            running = self._inflight.get(token)
            if running is None:
                self._inflight[token] = threading.Event()
        if running is not None:
            running.wait(timeout=_FOLLOWER_WAIT_SECONDS)
            cached = self.cache.get(token)
            if cached is not None:
                return cached
            return self._validate_from_store(token)  # the first caller failed: fail alike
        try:
            return self._validate_from_store(token)
        finally:
            with self._inflight_lock:
                self._inflight.pop(token).set()

    def _drop_stale(self) -> None:
        """Empty the cache when another replica revoked anything, or when the key repository
        changed (a rotation that dropped a token's key ends the token): looked at when the
        revocations are due (at most once per ``revocation_check_seconds``), both before the
        look counts as done, since :meth:`cached` trusts the cache from then on."""
        if not self.revocations.due():
            return
        keys = self.tokens.keys.fernet()  # re-reads the key directory when it changed
        if keys is not self._keys:
            self._keys = keys
            self.cache.clear()
        self.revocations.look(on_moved=self.cache.clear)

    def _validate_from_store(self, token: str) -> TokenInfo:
        generation = self.cache.generation()
        payload = self.tokens.decode(token)
        with self.db.session() as session:
            if self._is_revoked(session, payload):
                raise NotFound("The token has been revoked.")
            info = self._token_info(session, token, payload)
        self.cache.put(token, info.expires_at, info, generation)
        return info

    def cached(self, token: str) -> TokenInfo | None:
        """The token's meaning if it was validated before and the store's revocations were
        looked at lately; never touches the store (None: :meth:`validate` must)."""
        if self.revocations.due():
            return None
        return self.cache.get(token)

    def context(self, token: str) -> RequestContext:
        """The caller behind a token, for authorizing a request. Unauthorized if it is not valid."""
        try:
            return context_of(self.validate(token))
        except NotFound as exc:
            raise Unauthorized(AUTH_FAILED) from exc

    def revoke(self, token: str) -> None:
        """Revoke one token (and every token rescoped from it, which shares its audit chain)."""
        payload = self.tokens.decode(token)
        with self.db.session() as session:
            if self._is_revoked(session, payload):
                raise NotFound("The token has been revoked.")
            now = datetime.now(UTC)
            session.info[_REVOKED] = True
            session.add(
                RevocationEvent(
                    audit_id=payload.audit_ids[0], issued_before=_naive(now), revoked_at=_naive(now)
                )
            )

    @staticmethod
    def record_revocation(
        session: Session,
        *,
        user_id: str | None = None,
        project_id: str | None = None,
        app_cred_id: str | None = None,
    ) -> None:
        """Invalidate every token issued until now that matches all the given fields.

        Call it in the same session as the change that makes tokens stale: a user disabled,
        deleted or given a new password; a project or domain disabled or deleted; a role
        removed; an application credential deleted. ``project_id`` is the token's scope: a
        project's id, or a domain's for the tokens scoped to that domain (Keystone keeps
        domains as projects).
        """
        if not (user_id or project_id or app_cred_id):
            raise ValueError("a revocation needs at least one field to match")
        now = _naive(datetime.now(UTC))
        session.info[_REVOKED] = True
        session.add(
            RevocationEvent(
                user_id=user_id,
                project_id=project_id,
                app_cred_id=app_cred_id,
                issued_before=now,
                revoked_at=now,
            )
        )

    def _is_revoked(self, session: Session, payload: TokenPayload) -> bool:
        """True when an event issued after the token matches it on every field the event sets."""
        event = RevocationEvent
        matches = and_(
            or_(event.audit_id.is_(None), event.audit_id.in_(payload.audit_ids)),
            or_(event.user_id.is_(None), event.user_id == payload.user_id),
            or_(
                event.project_id.is_(None),
                event.project_id == (payload.project_id or payload.domain_id),
            ),
            or_(event.app_cred_id.is_(None), event.app_cred_id == payload.app_cred_id),
            event.issued_before >= _naive(payload.issued_at),
        )
        hit = session.scalars(select(event.id).where(matches).limit(1)).first()
        return hit is not None

    def _token_info(self, session: Session, token: str, payload: TokenPayload) -> TokenInfo:
        user = session.get(User, payload.user_id)
        if user is None:
            raise NotFound("The token's user no longer exists.")
        user_domain = session.get(Domain, user.domain_id)
        if not user.enabled or user_domain is None or not user_domain.enabled:
            raise NotFound("The token's user is disabled.")
        app_cred = (
            session.get(ApplicationCredential, payload.app_cred_id) if payload.app_cred_id else None
        )
        if payload.app_cred_id and app_cred is None:
            raise NotFound("The token's application credential no longer exists.")

        project_ref: ScopedProject | None = None
        domain_ref: NamedRef | None = None
        if payload.project_id:
            project = session.get(Project, payload.project_id)
            project_domain = session.get(Domain, project.domain_id) if project else None
            if (
                project is None
                or not project.enabled
                or project_domain is None
                or not project_domain.enabled
            ):
                raise NotFound("The token's project is gone or disabled.")
            project_ref = ScopedProject(
                project.id, project.name, NamedRef(project_domain.id, project_domain.name)
            )
        elif payload.domain_id:
            domain = session.get(Domain, payload.domain_id)
            if domain is None or not domain.enabled:
                raise NotFound("The token's domain is gone or disabled.")
            domain_ref = NamedRef(domain.id, domain.name)

        roles: tuple[NamedRef, ...] = ()
        scope = Scope(payload.project_id, payload.domain_id, payload.system)
        if scope.scoped:
            found = effective_roles(session, user.id, scope, app_cred)
            if not found:
                raise NotFound("The token's user no longer has a role on its scope.")
            roles = tuple(NamedRef(r.id, r.name) for r in found)
        return TokenInfo(
            token=token,
            user=NamedRef(user.id, user.name),
            user_domain=NamedRef(user_domain.id, user_domain.name),
            methods=payload.methods,
            issued_at=payload.issued_at,
            expires_at=payload.expires_at,
            audit_ids=payload.audit_ids,
            password_expires_at=_aware(user.password_expires_at),
            project=project_ref,
            domain=domain_ref,
            system=payload.system,
            roles=roles,
            app_credential=AppCredentialRef(app_cred.id, app_cred.name, not app_cred.unrestricted)
            if app_cred
            else None,
            is_admin_project=bool(
                payload.project_id and payload.project_id == self.admin_project_id
            ),
        )


def context_of(info: TokenInfo) -> RequestContext:
    """The request context a validated token stands for."""
    project = info.project
    return RequestContext(
        user_id=info.user.id,
        user_name=info.user.name,
        user_domain_id=info.user_domain.id,
        user_domain_name=info.user_domain.name,
        methods=info.methods,
        expires_at=info.expires_at,
        issued_at=info.issued_at,
        audit_ids=info.audit_ids,
        project_id=project.id if project else None,
        project_name=project.name if project else None,
        project_domain_id=project.domain.id if project else None,
        project_domain_name=project.domain.name if project else None,
        domain_id=info.domain.id if info.domain else None,
        domain_name=info.domain.name if info.domain else None,
        system=info.system,
        roles=tuple(r.name for r in info.roles),
        role_ids=tuple(r.id for r in info.roles),
        app_cred_id=info.app_credential.id if info.app_credential else None,
    )
