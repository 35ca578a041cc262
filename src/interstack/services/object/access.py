"""Who may do what to an account, as Swift's keystoneauth decides it.

The account's own project (with an operator role) owns it and may do everything; the cloud
admin and a reseller admin (the ``ResellerAdmin`` role) may reach every account; a reader of
the project may only read. Everybody else is refused
(403, or 401 without a token) unless a container ACL or a valid temporary URL grants the one
operation asked for.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import urlparse

from interstack.errors import BadRequest, Forbidden, Unauthorized
from interstack.services.context import RequestContext
from interstack.services.identity.roles import RESELLER_ADMIN
from interstack.services.object.model import ObjectPath


class Operation(StrEnum):
    ACCOUNT_READ = "account-read"
    ACCOUNT_WRITE = "account-write"
    #: container PUT, POST, DELETE
    CONTAINER_WRITE = "container-write"
    #: container GET (listing) and HEAD
    LIST = "list"
    OBJECT_READ = "object-read"
    OBJECT_WRITE = "object-write"


_READS = frozenset({Operation.ACCOUNT_READ, Operation.LIST, Operation.OBJECT_READ})


@dataclass(frozen=True)
class TempUrlGrant:
    """What a verified temporary URL allows: one operation on one object (or a name prefix)."""

    path: ObjectPath
    operation: Operation
    prefix: bool = False

    def allows(self, path: ObjectPath, operation: Operation) -> bool:
        if operation != self.operation or (path.region, path.account, path.container) != (
            self.path.region,
            self.path.account,
            self.path.container,
        ):
            return False
        if self.prefix:
            return path.object.startswith(self.path.object)
        return path.object == self.path.object


@dataclass(frozen=True)
class Requester:
    """Who sends a request: a token's caller, or nobody (anonymous, perhaps with a temp URL)."""

    context: RequestContext | None = None
    temp_url: TempUrlGrant | None = None
    referrer: str | None = None
    #: the gateway itself, reading a large object's segments with the manifest's authority
    internal: bool = False

    @property
    def is_reseller(self) -> bool:
        """The cloud admin or a ``ResellerAdmin``: every account, and its quota."""
        if self.context is None:
            return False
        return self.context.is_admin or RESELLER_ADMIN.lower() in {
            role.lower() for role in self.context.roles
        }


def owns(requester: Requester, account: str, operation: Operation) -> bool:
    """True if the requester acts as the account's owner for this operation."""
    if requester.internal:
        return True
    ctx = requester.context
    if ctx is None:
        return False
    if requester.is_reseller:
        return True
    if ctx.project_id != account:
        return False
    return ctx.is_member or (ctx.is_reader and operation in _READS)


def refuse(requester: Requester) -> Exception:
    if requester.context is None:
        return Unauthorized("Authentication required: send an X-Auth-Token or use a temp URL.")
    return Forbidden("Access was denied to this resource.")


def authorize(
    requester: Requester,
    path: ObjectPath,
    operation: Operation,
    read_acl: str | None = None,
    write_acl: str | None = None,
) -> bool:
    """Allow the operation or raise 401/403. Returns True for the owner, False for an ACL's or a
    temp URL's grantee (who is not shown owner-only headers)."""
    if owns(requester, path.account, operation):
        return True
    if requester.temp_url is not None and requester.temp_url.allows(path, operation):
        return False
    if operation in (Operation.OBJECT_READ, Operation.LIST) and _read_allowed(
        requester, read_acl, operation
    ):
        return False
    if operation == Operation.OBJECT_WRITE and _matches_identity(requester, parse_acl(write_acl)):
        return False
    raise refuse(requester)


def _read_allowed(requester: Requester, acl: str | None, operation: Operation) -> bool:
    entries = parse_acl(acl)
    if _matches_identity(requester, entries):
        return True
    referrers = [e[3:] for e in entries if e.startswith(".r:")]
    if not _referrer_allowed(referrers, requester.referrer):
        return False
    return operation == Operation.OBJECT_READ or ".rlistings" in entries


def _referrer_allowed(rules: list[str], referrer: str | None) -> bool:
    """Swift's referrer rules, last match wins: ``*``, ``host``, ``.domain``, ``-`` to deny."""
    host = urlparse(referrer).hostname or "" if referrer else ""
    allowed = False
    for rule in rules:
        deny = rule.startswith("-")
        pattern = rule[1:] if deny else rule
        if pattern == "*" or (
            host and (host == pattern or (pattern.startswith(".") and host.endswith(pattern)))
        ):
            allowed = not deny
    return allowed


def _matches_identity(requester: Requester, entries: list[str]) -> bool:
    ctx = requester.context
    if ctx is None:
        return False
    projects = {"*", ctx.project_id or "", ctx.project_name or ""} - {""}
    users = {"*", ctx.user_id, ctx.user_name}
    for entry in entries:
        project, sep, user = entry.partition(":")
        if sep and not entry.startswith(".") and project in projects and user in users:
            return True
    return False


def parse_acl(acl: str | None) -> list[str]:
    return [e.strip() for e in (acl or "").split(",") if e.strip()]


def validate_acl(acl: str, *, write: bool) -> str:
    """The ACL normalized, or a 400 naming the first entry Swift would refuse."""
    entries = parse_acl(acl)
    for entry in entries:
        if entry.startswith("."):
            if write:
                raise BadRequest(f"Referrers are not allowed in a write ACL: {entry!r}.")
            if entry != ".rlistings" and not (entry.startswith(".r:") and len(entry) > 3):
                raise BadRequest(f"Unknown designator in the ACL: {entry!r}.")
        elif ":" not in entry:
            raise BadRequest(
                f"ACL entry {entry!r} is neither a referrer (.r:*) nor project:user "
                "(use * for any)."
            )
    return ",".join(entries)
