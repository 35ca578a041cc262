"""Which roles a grant brings: the roles it implies, followed by id, and never a domain's own.

Keystone places only global roles in a token (and so before policy). A domain-specific role only
serves as a prior role whose implied global roles are placed there; its name may be a global
role's too without meaning anything.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from interstack.services.identity import roles as role_names
from interstack.store.models import Role


def implications(session: Session) -> dict[str, tuple[str, ...]]:
    """Role id -> ids of the roles it implies: Keystone's default rules between the global
    default roles (admin implies member implies reader), resolved to their ids once, so that a
    domain-specific role sharing a default role's name implies nothing."""
    names = set(role_names.IMPLIES).union(*role_names.IMPLIES.values())
    rows = session.scalars(select(Role).where(Role.domain_id.is_(None), Role.name.in_(names)))
    by_name = {row.name: row.id for row in rows}
    return {
        by_name[prior]: tuple(by_name[name] for name in implied if name in by_name)
        for prior, implied in role_names.IMPLIES.items()
        if prior in by_name
    }


def token_roles(session: Session, role_ids: set[str]) -> list[Role]:
    """The global roles a token carries for grants of ``role_ids``: each global one, and every
    role implied by any of them, followed by id. As in Keystone, a domain-specific role is never
    placed in a token (nor seen by policy): it only serves as a prior role whose implied global
    roles are placed there, and its name means nothing even if a global role has it too."""
    rules = implications(session)
    found: set[str] = set()
    pending = list(role_ids)
    while pending:
        role_id = pending.pop()
        if role_id not in found:
            found.add(role_id)
            pending.extend(rules.get(role_id, ()))
    query = select(Role).where(Role.id.in_(found), Role.domain_id.is_(None)).order_by(Role.name)
    return list(session.scalars(query))
