"""Who is calling: the identity and scope a validated token carries into every service."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime


@dataclass(frozen=True)
class RequestContext:
    """The caller of one request, built from a validated token.

    ``roles`` holds role names effective on the token's scope, implied roles included
    (admin implies member implies reader).
    """

    user_id: str
    user_name: str
    user_domain_id: str
    user_domain_name: str
    methods: tuple[str, ...]
    expires_at: datetime
    issued_at: datetime
    audit_ids: tuple[str, ...]
    project_id: str | None = None
    project_name: str | None = None
    project_domain_id: str | None = None
    project_domain_name: str | None = None
    domain_id: str | None = None
    domain_name: str | None = None
    system: bool = False
    roles: tuple[str, ...] = ()
    role_ids: tuple[str, ...] = ()
    app_cred_id: str | None = None
    request_id: str = field(default="", compare=False)

    @property
    def is_admin(self) -> bool:
        """Cloud admin: the admin role on any scope (the classic OpenStack admin)."""
        return "admin" in self.roles

    @property
    def is_reader(self) -> bool:
        return "reader" in self.roles or self.is_admin

    @property
    def is_member(self) -> bool:
        return "member" in self.roles or self.is_admin

    @property
    def scoped(self) -> bool:
        return bool(self.project_id or self.domain_id or self.system)


def operator_context(project_id: str) -> RequestContext:
    """The gateway acting as the cloud's operator (admin on ``project_id``): what it makes
    itself (the external network, DHCP ports) goes through the same checks as a request's."""
    at = datetime.now(UTC)
    return RequestContext(
        user_id="",
        user_name="interstack",
        user_domain_id="default",
        user_domain_name="Default",
        methods=(),
        expires_at=at,
        issued_at=at,
        audit_ids=(),
        project_id=project_id,
        roles=("admin", "member", "reader"),
    )
