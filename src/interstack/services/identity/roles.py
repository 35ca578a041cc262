"""Role names with meaning to the policy layer, and how they imply each other."""

from __future__ import annotations

from collections.abc import Iterable

ADMIN = "admin"
MEMBER = "member"
READER = "reader"
DEFAULT_ROLES = (ADMIN, MEMBER, READER)
#: Swift's reseller admin (keystoneauth's ``reseller_admin_role``): every account, its quotas
RESELLER_ADMIN = "ResellerAdmin"

# Keystone's default implied roles: admin implies member, member implies reader.
IMPLIES: dict[str, tuple[str, ...]] = {ADMIN: (MEMBER,), MEMBER: (READER,)}


def expand_implied(names: Iterable[str]) -> list[str]:
    """The given role names plus every role they imply, each once, in a stable order."""
    result: list[str] = []
    pending = list(names)
    while pending:
        name = pending.pop(0)
        if name in result:
            continue
        result.append(name)
        pending.extend(IMPLIES.get(name, ()))
    return result
